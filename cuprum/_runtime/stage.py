"""One stage of a run: its command, event tags, process, collectors and timings."""

from __future__ import annotations

import time
from collections.abc import Mapping

from cuprum._core.usage import LimitName, ResourceUsage
from cuprum._model.spec import CommandSpec
from cuprum._runtime.child import ChildProcess
from cuprum._runtime.contain import Box
from cuprum._runtime.streams import StreamCollector

__all__ = ["Stage", "make_stages"]


class Stage:
    """A stage's process and collectors, with its event fields built once."""

    __slots__ = (
        "argv",
        "box",
        "child",
        "cmd",
        "ended",
        "index",
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
        self.argv = cmd.argv_with_program
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
        tags.update(extra)
        stages.append(Stage(index, cmd, tags))
    return stages
