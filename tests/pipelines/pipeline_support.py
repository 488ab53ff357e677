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
    Pipeline,
    Program,
    ProgramCatalogue,
    ProjectSettings,
    SafeCmd,
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

    def error_kinds(self) -> list[str | None]:
        """The ``error`` kind of each terminal event, all of which must be ``error`` events."""
        terminal = [e for e in self.events if e.is_terminal]
        assert {e.phase for e in terminal} == {"error"}, terminal
        return [e.error for e in terminal]

    def assert_dead(self, stages: int) -> None:
        """Exactly ``stages`` processes started, and every one of them is gone."""
        pids = [e.pid for e in self.events if e.phase == "start" and e.pid is not None]
        assert len(pids) == stages
        assert wait_until_dead(pids) == []


DEADLINE = 10.0
"""Seconds any wait of the relay tests may take before it fails the test."""

READS_A_LINE = "import sys, time\nprint(sys.stdin.readline(), end='', flush=True)\ntime.sleep(30)"
"""A first stage that passes one line on, then waits without reading (stopped by the teardown)."""

LINES = "import sys\nfor line in sys.stdin:\n    print(line, end='', flush=True)"
"""A last stage that passes each line on as it comes."""


def relay_command(stages: int, first: str = READS_A_LINE) -> SafeCmd | Pipeline:
    """``first`` alone, or followed by a stage that passes its lines on."""
    cmd = python("-c", first)
    return cmd if stages == 1 else cmd | python("-c", LINES)
