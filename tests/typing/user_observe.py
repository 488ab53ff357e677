"""User code under ``mypy --strict``: observing output lines in batches.

Each ``# type: ignore[code]`` marks a mistake mypy must flag (the strict settings
warn about an ignore that is not needed).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import assert_type

from cuprum import (
    ExecEvent,
    HookRegistration,
    LineBatch,
    LineBatchObserver,
    Program,
    ProgramCatalogue,
    observe_batches,
    sh,
)
from cuprum.adapters.metrics_adapter import InMemoryMetrics, MetricsHook

PY = Program(sys.executable)
catalogue = ProgramCatalogue.of(PY, project="typing", noise_rules=(r"^#",))
cmd = sh.make(PY, catalogue=catalogue)("-c", "print('# a comment'); print('data')")

counted: list[int] = []


def count(batch: LineBatch) -> None:
    assert_type(batch.count, int)
    assert_type(batch.lines, tuple[str, ...])
    assert_type(batch.kept, tuple[str, ...])
    assert_type(batch.noise, int)
    assert_type(batch.tags, Mapping[str, object])
    assert_type(batch.pid, int | None)
    counted.append(batch.count)


class Lines:
    """Every event but lines through __call__, the lines in batches."""

    def __init__(self) -> None:
        self.phases: list[str] = []
        self.kept: list[str] = []

    def __call__(self, event: ExecEvent) -> None:
        self.phases.append(event.phase)

    def on_lines(self, batch: LineBatch) -> None:
        self.kept += batch.kept


hook = Lines()
observer: LineBatchObserver = hook
metrics_hook: LineBatchObserver = MetricsHook(InMemoryMetrics())
registration = observe_batches(count)
assert_type(registration, HookRegistration)
with registration, sh.observe(observer):
    result = cmd.run_sync()
assert result.ok and sum(counted) == 2
assert hook.kept == ["data"] and "stdout" not in hook.phases
with sh.observe_batches(count):
    pass


def per_event(event: ExecEvent) -> None:
    """A hook for events, not batches."""


with observe_batches(per_event):  # type: ignore[arg-type]
    pass
