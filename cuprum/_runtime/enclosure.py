"""A run's enclosure: what it sets up around its stages and takes down after them.

Each stage's box (its cgroup and limits, :mod:`.contain`), the run's listing for
host shutdown (:mod:`.shutdown`), and the commands that start and stop something
of their own (a remote command's connection and far end, ``cuprum.remote``). The
engine enters it before spawning and leaves it after the reap or the teardown;
``run_sync()``'s direct path does the same without an event loop (``*_blocking``),
so this module imports anyio only where it waits on one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from cuprum._model.execution import ExecutionContext
from cuprum._model.spec import CommandSpec
from cuprum._runtime import contain
from cuprum._runtime.failures import deadline_expired, fail
from cuprum._runtime.shutdown import add_live, remove_live
from cuprum._runtime.stage import RemoteLaunch, Stage
from cuprum._runtime.teardown import account

__all__ = ["Enclosure", "prepare_commands", "settle_far_ends", "stop_far_ends"]


class Enclosure:
    """The boxes of one run's stages, its host-shutdown listing, its remote sessions
    and its deadline (set when the run began, before any connection was opened)."""

    __slots__ = ("boxes", "deadline", "launches", "live")

    def __init__(self, deadline: float | None = None) -> None:
        self.boxes: list[contain.Box] | None = None  # each stage's cgroup and limits
        self.live: int | None = None  # registered for host shutdown while it runs
        self.deadline = deadline  # on anyio's clock; None: no timeout
        self.launches: list[RemoteLaunch] = []  # remote stages holding sessions

    def left(self, timeout: float | None) -> float | None:
        """Seconds left of the run's ``timeout``: all of it, unless the run's clock
        started before (a remote command's connection was opened within it)."""
        if self.deadline is None:
            return timeout
        import anyio

        return self.deadline - anyio.current_time()

    async def enter(self, ctx: ExecutionContext, stages: Sequence[Stage]) -> None:
        """Each stage's cgroup and limits; the run listed for host shutdown."""
        try:
            boxes = await contain.prepare(ctx, [s.cmd.program for s in stages])
        except Exception as exc:  # no cgroup although contain=True, or the cgroup fs refused
            fail("spawn_failed", exc)
        self._place(boxes, ctx, stages)
        launches = [s.launch for s in stages if s.launch is not None]
        if launches:
            await self._hold(launches)

    def enter_blocking(self, ctx: ExecutionContext, stages: Sequence[Stage]) -> None:
        """:meth:`enter` outside an event loop (``run_sync()``'s direct path: no remote
        stage, whose session is held on the loop)."""
        try:
            boxes = contain.prepare_blocking(ctx, [s.cmd.program for s in stages])
        except Exception as exc:  # as in enter()
            fail("spawn_failed", exc)
        self._place(boxes, ctx, stages)

    def _place(
        self, boxes: list[contain.Box] | None, ctx: ExecutionContext, stages: Sequence[Stage]
    ) -> None:
        self.boxes = boxes
        if boxes is not None:
            for stage, box in zip(stages, boxes, strict=True):
                stage.box = box
        self.live = add_live(
            lambda: [s.child for s in stages if s.child is not None], boxes, ctx.cancel_grace
        )

    async def _hold(self, launches: list[RemoteLaunch]) -> None:
        """Each remote stage's session on its host, waiting within the run's timeout."""
        import anyio

        self.launches = launches
        with anyio.move_on_at(math.inf if self.deadline is None else self.deadline) as scope:
            for launch in sorted(launches, key=lambda launch: launch.session_key):
                await launch.hold(launches)
        if scope.cancelled_caught:
            raise deadline_expired("timed out waiting for a session on the remote host")

    async def leave(self, stages: Sequence[Stage]) -> None:
        """Remove the cgroups (reading what each tree cost), then each stage's usage and
        the limit that stopped it; the run is no longer live."""
        try:
            await contain.release(self.boxes)
        finally:
            self._left(stages)

    def leave_blocking(self, stages: Sequence[Stage]) -> None:
        """:meth:`leave` outside an event loop."""
        try:
            if self.boxes:  # (an uncontained run has none: nothing to call)
                contain.release_blocking(self.boxes)
        finally:
            self._left(stages)

    def _left(self, stages: Sequence[Stage]) -> None:
        remove_live(self.live)
        for launch in self.launches:
            launch.release()
        account(list(stages))


async def prepare_commands(commands: Sequence[CommandSpec], timeout: float | None) -> float | None:
    """Commands that need something before they start (a remote one: its connection),
    within the run's ``timeout``, which then counts from here. Returns the run's
    deadline on anyio's clock (in the past when the time ran out here), or ``None``
    when nothing needed preparing or there is no timeout."""
    import anyio

    deadline: float | None = None
    for cmd in commands:
        prepare = getattr(cmd, "prepare", None)
        if prepare is None:
            continue
        if timeout is None:
            await prepare(None)
            continue
        if deadline is None:
            deadline = anyio.current_time() + timeout
        with anyio.move_on_at(deadline):
            if await prepare(deadline - anyio.current_time()) is not False:
                continue
        return anyio.current_time()  # out of time: the run's TimeoutExpired follows
    return deadline


async def _each(
    stages: Sequence[Stage], job: Callable[[Stage], Coroutine[Any, Any, object]]
) -> None:
    if len(stages) == 1:
        await job(stages[0])
        return
    import anyio

    async with anyio.create_task_group() as tg:
        for stage in stages:
            tg.start_soon(job, stage)


async def settle_far_ends(stages: Sequence[Stage], grace: float) -> None:
    """Once every stage has ended: a remote stage that cuprum stopped (fail-fast) has
    its far end stopped too, and one whose session ended without the program's exit
    status (a lost connection) raises its ``RemoteError`` after the same."""
    remote = [s for s in stages if s.launch is not None and s.child is not None]
    if not remote:
        return
    errors: list[Exception] = []

    async def settle(stage: Stage) -> None:
        assert stage.launch is not None and stage.child is not None
        try:
            await stage.launch.settle(stage.child.exit_code, stage.child.stopped, grace)
        except Exception as exc:  # a lost connection: raised once every stage is settled
            errors.append(exc)

    await _each(remote, settle)
    if errors:
        raise errors[0]


async def stop_far_ends(stages: Sequence[Stage], grace: float) -> None:
    """Remote stages (``cuprum.remote``): stop the far ends too (ssh forwards no
    signal), all at once."""
    remote = [s for s in stages if s.launch is not None and s.child is not None]
    if remote:

        async def stop(stage: Stage) -> None:
            assert stage.launch is not None
            await stage.launch.stop(grace)

        await _each(remote, stop)
