"""Programs and process helpers shared by the pipeline tests."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable

from cuprum import (
    CAT,
    ECHO,
    FALSE,
    GREP,
    HEAD,
    SLEEP,
    SORT,
    TAIL,
    TRUE,
    WC,
    ExecEvent,
    Program,
    ProgramCatalogue,
    ProjectSettings,
    sh,
)

SH = Program("sh")
YES = Program("yes")
PYTHON = Program(sys.executable)

PROJECT = ProjectSettings(
    name="pipeline-tests",
    programs=(SH, YES, PYTHON, CAT, ECHO, FALSE, GREP, HEAD, SLEEP, SORT, TAIL, TRUE, WC),
)
CATALOGUE = ProgramCatalogue(projects=(PROJECT,))

shell = sh.make(SH, catalogue=CATALOGUE)
yes = sh.make(YES, catalogue=CATALOGUE)
python = sh.make(PYTHON, catalogue=CATALOGUE)
cat = sh.make(CAT, catalogue=CATALOGUE)
echo = sh.make(ECHO, catalogue=CATALOGUE)
false = sh.make(FALSE, catalogue=CATALOGUE)
grep = sh.make(GREP, catalogue=CATALOGUE)
head = sh.make(HEAD, catalogue=CATALOGUE)
sleep = sh.make(SLEEP, catalogue=CATALOGUE)
sort = sh.make(SORT, catalogue=CATALOGUE)
tail = sh.make(TAIL, catalogue=CATALOGUE)
true = sh.make(TRUE, catalogue=CATALOGUE)
wc = sh.make(WC, catalogue=CATALOGUE)

SIGPIPE_EXIT = -13
SIGTERM_EXIT = -15


def process_state(pid: int) -> str | None:
    """The state letter from ``/proc/<pid>/stat`` (``R``, ``S``, ``Z``...), or None if gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name is in parentheses and may contain spaces: split after it.
    return stat.rsplit(")", 1)[1].split()[0]


def is_dead(pid: int) -> bool:
    """Gone, or a zombie (PID 1 here does not reap orphans, so killed orphans stay 'Z')."""
    return process_state(pid) in (None, "Z", "X")


def wait_until_dead(pids: Iterable[int], timeout: float = 10.0) -> list[int]:
    """Poll until every pid is dead (see :func:`is_dead`); return those still alive."""
    pending = list(pids)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        pending = [pid for pid in pending if not is_dead(pid)]
        if pending:
            time.sleep(0.01)
    return pending


def has_exited(pid: int) -> bool:
    """Whether our child ``pid`` has exited (without reaping it)."""
    return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


class Recorder:
    """An observe hook that keeps every event."""

    def __init__(self) -> None:
        self.events: list[ExecEvent] = []

    def __call__(self, event: ExecEvent) -> None:
        self.events.append(event)

    def of(self, phase: str, stage: int | None = None) -> list[ExecEvent]:
        """Events of ``phase`` (for one pipeline stage when ``stage`` is given)."""
        return [
            e
            for e in self.events
            if e.phase == phase and (stage is None or e.tags.get("pipeline_stage_index") == stage)
        ]

    def lines(self, phase: str, stage: int) -> list[str]:
        return [e.line or "" for e in self.of(phase, stage)]
