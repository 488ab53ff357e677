"""Helpers for the streaming tests: a catalogue with this interpreter, child scripts,
process probes and event recording.

Every wait here is for a condition with a deadline; nothing sleeps in place of one.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable

import anyio

# The shared /proc helpers, re-exported for this suite's tests.
from processes import is_dead as is_dead  # noqa: PLC0414
from processes import open_fds as open_fds  # noqa: PLC0414
from processes import process_state as process_state  # noqa: PLC0414

from cuprum import ExecEvent, Pipeline, Program, ProgramCatalogue, ProjectSettings, SafeCmd, sh

PY = Program(sys.executable)
CATALOGUE = ProgramCatalogue(projects=(ProjectSettings(name="streaming-tests", programs=(PY,)),))

DEADLINE = 20.0
"""Upper bound for "must finish" waits; never a lower bound, never slept."""


def py(code: str, *args: str) -> SafeCmd:
    """``python -c code args...`` with the interpreter running the tests."""
    return sh.make(PY, catalogue=CATALOGUE)("-c", code, *args)


# -- child programs ---------------------------------------------------------------

CAT = """
import os, sys
while chunk := os.read(0, 65536):
    sys.stdout.buffer.write(chunk)
    sys.stdout.buffer.flush()
"""
"""Copies stdin to stdout as it arrives (no waiting for a full buffer)."""

COPY_TO_BOTH = """
import sys
src, out, err = sys.stdin.buffer, sys.stdout.buffer, sys.stderr.buffer
while chunk := src.read1(8192):
    out.write(chunk)
    out.flush()
    err.write(chunk)
    err.flush()
"""
"""Copies stdin to stdout and to stderr, chunk by chunk."""

ECHO_BYTES = """
import os
while byte := os.read(0, 1):
    os.write(1, byte)
    os.write(2, b"ack\\n")
"""
"""Echoes each stdin byte to stdout at once, then acknowledges it on stderr."""

READ_THEN_CLOSE = """
import os, sys
got = os.read(0, 10)
os.close(0)
print("closed after", len(got), flush=True)
"""
"""Reads at most 10 bytes, closes stdin, says so, exits 0."""

SLOW_READER = """
import fcntl, os, sys, time
flag = sys.argv[1]
capacity = fcntl.fcntl(0, 1032)  # F_GETPIPE_SZ
got = 0
while got < 65536:
    data = os.read(0, 65536 - got)
    if not data:
        break
    got += len(data)
with open(flag + ".tmp", "w") as f:
    f.write(str(capacity))
os.rename(flag + ".tmp", flag + ".ready")
print("paused", capacity, flush=True)
while not os.path.exists(flag + ".go"):
    time.sleep(0.005)
while data := os.read(0, 65536):
    got += len(data)
print("total", got, flush=True)
"""
"""Reads exactly 64 KiB, reports its stdin pipe capacity (``<flag>.ready``), then stops
reading until ``<flag>.go`` exists; finally reads the rest and prints the total."""


def chain(*stages: SafeCmd) -> Pipeline:
    """``stages[0] | stages[1] | ...``."""
    first, *rest = stages
    pipeline = first | rest[0]
    for stage in rest[1:]:
        pipeline = pipeline | stage
    return pipeline


# -- processes --------------------------------------------------------------------


async def wait_until(predicate: Callable[[], bool], what: str) -> None:
    """Poll ``predicate`` on the event loop until it holds; fail after ``DEADLINE``."""
    deadline = time.monotonic() + DEADLINE
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {DEADLINE}s waiting for {what}")
        await anyio.sleep(0.005)


async def assert_dead(*pids: int) -> None:
    """Every pid is dead (SIGKILL delivery to a group is asynchronous: allow it a moment)."""
    for pid in pids:
        await wait_until(lambda pid=pid: is_dead(pid), f"pid {pid} to die")  # type: ignore[misc]


# -- events -----------------------------------------------------------------------


class Recorder:
    """An observe hook that keeps every event and counts stderr lines equal to ``count``."""

    def __init__(self, count: str | None = None) -> None:
        self.events: list[ExecEvent] = []
        self._count = count
        self.counted = 0

    def __call__(self, event: ExecEvent) -> None:
        self.events.append(event)
        if event.phase == "stderr" and event.line == self._count:
            self.counted += 1

    def of(self, phase: str) -> list[ExecEvent]:
        return [event for event in self.events if event.phase == phase]


DROPPED = re.compile(r"(\d+) bytes of input dropped")


def dropped_bytes(events: list[ExecEvent]) -> int:
    """The total of the ``stdin_closed`` events' dropped byte counts."""
    total = 0
    for event in events:
        match = DROPPED.search(event.message or "")
        assert match is not None, event.message
        total += int(match.group(1))
    return total


# -- typed access to captured output ------------------------------------------------


def text(value: object) -> str:
    """A captured ``str`` (results are ``CommandResult[Any]``: make the type explicit)."""
    assert isinstance(value, str), f"expected captured text, got {value!r}"
    return value


def data(value: object) -> bytes:
    """A captured ``bytes`` value (``text=False``)."""
    assert isinstance(value, bytes), f"expected captured bytes, got {value!r}"
    return value
