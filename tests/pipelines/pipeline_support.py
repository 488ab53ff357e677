"""Programs and process helpers shared by the pipeline tests."""

from __future__ import annotations

import os
import sys

# The shared /proc helpers, re-exported for this suite's tests.
from processes import is_dead as is_dead  # noqa: PLC0414
from processes import process_state as process_state  # noqa: PLC0414
from processes import wait_until_dead as wait_until_dead  # noqa: PLC0414

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
