"""Programs and process helpers shared by the ``run_concurrent`` tests."""

from __future__ import annotations

import sys
from collections.abc import Iterable

# The shared /proc helpers, re-exported for this suite's tests.
from processes import is_dead as is_dead  # noqa: PLC0414
from processes import open_fds as open_fds  # noqa: PLC0414
from processes import process_state as process_state  # noqa: PLC0414
from processes import wait_until_dead as wait_until_dead  # noqa: PLC0414
from processes import zombie_children as zombie_children  # noqa: PLC0414

from cuprum import (
    ECHO,
    FALSE,
    SLEEP,
    TRUE,
    ExecEvent,
    Program,
    ProgramCatalogue,
    ProjectSettings,
    sh,
)

SH = Program("sh")
PYTHON = Program(sys.executable)
MISSING = Program("cuprum-test-no-such-program-3e9b")
PROJECT = ProjectSettings(
    name="concurrent-tests", programs=(SH, PYTHON, MISSING, ECHO, FALSE, SLEEP, TRUE)
)
CATALOGUE = ProgramCatalogue(projects=(PROJECT,))

shell = sh.make(SH, catalogue=CATALOGUE)
python = sh.make(PYTHON, catalogue=CATALOGUE)
echo = sh.make(ECHO, catalogue=CATALOGUE)
false = sh.make(FALSE, catalogue=CATALOGUE)
sleep = sh.make(SLEEP, catalogue=CATALOGUE)
missing = sh.make(MISSING, catalogue=CATALOGUE)
true = sh.make(TRUE, catalogue=CATALOGUE)


class Recorder:
    """An observe hook that keeps every event."""

    def __init__(self) -> None:
        self.events: list[ExecEvent] = []

    def __call__(self, event: ExecEvent) -> None:
        self.events.append(event)

    def of(self, phase: str) -> list[ExecEvent]:
        return [e for e in self.events if e.phase == phase]


def peak_overlap(intervals: Iterable[tuple[float, float]]) -> int:
    """The largest number of ``(start, end)`` intervals that overlap at one instant."""
    points = sorted(
        [(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals],
        key=lambda point: (point[0], point[1]),  # an end before a start at the same instant
    )
    running = peak = 0
    for _, delta in points:
        running += delta
        peak = max(peak, running)
    return peak
