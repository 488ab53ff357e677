"""Programs and process helpers shared by the ``run_concurrent`` tests."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable

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


def process_state(pid: int) -> str | None:
    """The state letter from ``/proc/<pid>/stat``, or None once the pid is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def is_dead(pid: int) -> bool:
    """Gone, or a zombie (PID 1 here does not reap orphans, so killed orphans stay 'Z')."""
    return process_state(pid) in (None, "Z", "X")


def wait_until_dead(pids: Iterable[int], timeout: float = 10.0) -> list[int]:
    """Poll until every pid is dead; return those still alive after ``timeout``."""
    pending = list(pids)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        pending = [pid for pid in pending if not is_dead(pid)]
        if pending:
            time.sleep(0.01)
    return pending


def zombie_children() -> list[int]:
    """Children of this process that have exited but were never reaped."""
    me = os.getpid()
    zombies: list[int] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] == "Z" and int(fields[1]) == me:
            zombies.append(int(entry))
    return zombies


def open_fds() -> set[str]:
    """This process's open file descriptors."""
    return set(os.listdir("/proc/self/fd"))


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
