"""One stage of a run: its command, event tags, process, collectors and timings."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Protocol

from cuprum._core.secret import shown_argv
from cuprum._core.usage import LimitName, ResourceUsage
from cuprum._model.spec import CommandSpec
from cuprum._runtime.child import ChildProcess
from cuprum._runtime.contain import Box
from cuprum._runtime.streams import StreamCollector

__all__ = ["RemoteLaunch", "Stage", "make_stages"]


class RemoteLaunch(Protocol):
    """What a command with a ``launch()`` method (a remote one) gives each run
    (``cuprum.remote.launch``; used by ``enclosure.py``)."""

    @property
    def argv(self) -> tuple[str, ...]: ...
    @property
    def tags(self) -> Mapping[str, object]: ...
    @property
    def session_key(self) -> str: ...
    async def hold(self, peers: Sequence[RemoteLaunch]) -> None: ...
    def release(self) -> None: ...
    async def ended(self, exit_code: int | None, stopped: bool, grace: float) -> None: ...
    async def settle(self, exit_code: int | None, stopped: bool, grace: float) -> None: ...
    async def stop(self, grace: float) -> bool: ...


class Stage:
    """A stage's process and collectors, with its event fields built once."""

    __slots__ = (
        "argv",
        "box",
        "child",
        "cmd",
        "ended",
        "index",
        "launch",
        "limit",
        "started",
        "stderr",
        "stdout",
        "tags",
        "usage",
    )

    def __init__(self, index: int, cmd: CommandSpec, tags: Mapping[str, object]) -> None:
        self.index = index
        self.cmd = cmd
        self.argv = shown_argv(cmd.argv_with_program)  # secrets as ***: what is shown
        # A remote command (cuprum.remote) says how to start and stop it: the argv
        # to spawn (ssh), its event tags (the host), stop(grace) for the far end.
        launch = getattr(cmd, "launch", None)
        self.launch: RemoteLaunch | None = launch() if launch is not None else None
        if self.launch is not None:
            tags = {**tags, **self.launch.tags}
        self.tags = tags  # one mapping per stage per attempt: observers may key on it
        self.child: ChildProcess | None = None
        self.box: Box | None = None  # its cgroup and limits (containment), if any
        self.usage: ResourceUsage | None = None  # what it cost, once reaped
        self.limit: LimitName | None = None  # the limit that stopped it, if known
        #: The final stage: what captures (or observes) its stdout. An
        #: intermediate stage: what observes its relayed hop (stage_events).
        self.stdout: StreamCollector | None = None
        self.stderr: StreamCollector | None = None
        self.started = 0.0
        self.ended = 0.0

    @property
    def spawn_argv(self) -> tuple[str, ...]:
        """What is spawned: the real argv (secrets revealed at spawn), or for a remote
        stage the ssh that runs it."""
        return self.launch.argv if self.launch is not None else self.cmd.argv_with_program

    @property
    def pid(self) -> int | None:
        return self.child.pid if self.child is not None else None

    @property
    def duration(self) -> float:
        return max(0.0, (self.ended or time.perf_counter()) - self.started) if self.started else 0.0


def make_stages(cmds: tuple[CommandSpec, ...], extra: Mapping[str, object]) -> list[Stage]:
    """A :class:`Stage` per command, tagged with its project (and position, in a pipeline)."""
    count = len(cmds)
    stages = []
    for index, cmd in enumerate(cmds):
        tags: dict[str, object] = {"project": cmd.project.name}
        if count > 1:
            tags["pipeline_stage_index"] = index
            tags["pipeline_stages"] = count
        if extra:
            tags.update(extra)
        stages.append(Stage(index, cmd, tags))
    return stages
