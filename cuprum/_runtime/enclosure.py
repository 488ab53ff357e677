"""A run's enclosure: what it sets up around its stages and takes down after them.

Each stage's box (its cgroup and limits, :mod:`.contain`), the run's listing for
host shutdown (:mod:`.shutdown`), and the commands that start and stop something
of their own (a remote command's connection and far end, ``cuprum.remote``). The
engine enters it before spawning and leaves it after the reap or the teardown.
"""

from __future__ import annotations

from collections.abc import Sequence

from cuprum._model.execution import ExecutionContext
from cuprum._model.spec import CommandSpec
from cuprum._runtime import contain
from cuprum._runtime.failures import fail
from cuprum._runtime.shutdown import add_live, remove_live
from cuprum._runtime.stage import Stage
from cuprum._runtime.teardown import account

__all__ = ["Enclosure", "prepare_commands", "stop_far_ends"]


class Enclosure:
    """The boxes of one run's stages and its host-shutdown listing."""

    __slots__ = ("boxes", "live")

    def __init__(self) -> None:
        self.boxes: list[contain.Box] | None = None  # each stage's cgroup and limits
        self.live: int | None = None  # registered for host shutdown while it runs

    async def enter(self, ctx: ExecutionContext, stages: Sequence[Stage]) -> None:
        """Each stage's cgroup and limits; the run listed for host shutdown."""
        try:
            self.boxes = boxes = await contain.prepare(ctx, [s.cmd.program for s in stages])
        except Exception as exc:  # no cgroup although contain=True, or the cgroup fs refused
            fail("spawn_failed", exc)
        if boxes is not None:
            for stage, box in zip(stages, boxes, strict=True):
                stage.box = box
        self.live = add_live(
            lambda: [s.child for s in stages if s.child is not None], boxes, ctx.cancel_grace
        )

    async def leave(self, stages: Sequence[Stage]) -> None:
        """Remove the cgroups (reading what each tree cost), then each stage's usage and
        the limit that stopped it; the run is no longer live."""
        try:
            await contain.release(self.boxes)
        finally:
            remove_live(self.live)
        account(list(stages))


async def prepare_commands(commands: Sequence[CommandSpec]) -> None:
    """Commands that need something before they start (a remote one: its connection)."""
    for cmd in commands:
        prepare = getattr(cmd, "prepare", None)
        if prepare is not None:
            await prepare()


async def stop_far_ends(stages: Sequence[Stage], grace: float) -> None:
    """Remote stages (``cuprum.remote``): stop the far end too; ssh forwards no signal."""
    for stage in stages:
        if stage.launch is not None and stage.child is not None:
            await stage.launch.stop(grace)
