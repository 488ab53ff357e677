"""Helpers for the terminal tests: a catalogue of real programs, child scripts, waits.

Every wait here is for a condition with a deadline; nothing sleeps in place of one.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable

import anyio

# The shared /proc helpers, re-exported for this suite's tests.
from processes import group_members as group_members  # noqa: PLC0414
from processes import is_dead as is_dead  # noqa: PLC0414
from processes import open_fds as open_fds  # noqa: PLC0414
from processes import zombie_children as zombie_children  # noqa: PLC0414

from cuprum import ExecEvent, Program, ProgramCatalogue, ProjectSettings, SafeCmd, sh

PY = Program(sys.executable)
TTY = Program("tty")
STTY = Program("stty")
LS = Program("ls")
CAT = Program("cat")
MISSING = Program("cuprum-test-no-such-program-51c2")
CATALOGUE = ProgramCatalogue(
    projects=(ProjectSettings(name="terminal-tests", programs=(PY, TTY, STTY, LS, CAT, MISSING)),)
)

DEADLINE = 20.0
"""Upper bound for "must finish" waits; never a lower bound, never slept."""


def py(code: str, *args: str) -> SafeCmd:
    """``python -c code args...`` with the interpreter running the tests."""
    return sh.make(PY, catalogue=CATALOGUE)("-c", code, *args)


def cmd(program: Program, *args: str) -> SafeCmd:
    return sh.make(program, catalogue=CATALOGUE)(*args)


GETPASS = """
import getpass
secret = getpass.getpass("Password: ")
print("length", len(secret), "reversed", secret[::-1])
"""
"""Asks for a password on its terminal (echo off), then reports it (reversed)."""

STUBBORN = """
import os, signal, subprocess, sys, time
for sig in (signal.SIGHUP, signal.SIGTERM):
    signal.signal(sig, signal.SIG_IGN)
grandchild = subprocess.Popen(
    [sys.executable, "-c",
     "import signal, time\\n"
     "for s in (signal.SIGHUP, signal.SIGTERM): signal.signal(s, signal.SIG_IGN)\\n"
     "time.sleep(300)"]
)
print("pids", os.getpid(), grandchild.pid, flush=True)
while True:
    time.sleep(0.01)
"""
"""Ignores SIGHUP and SIGTERM, as does the grandchild it starts; prints both pids."""

ON_RESIZE = """
import os, select, signal
wake_r, wake_w = os.pipe()
os.set_blocking(wake_w, False)
signal.set_wakeup_fd(wake_w)
signal.signal(signal.SIGWINCH, lambda *_: None)
def report():
    size = os.get_terminal_size(0)
    os.write(1, f"size {size.lines} {size.columns}\\n".encode())
report()
while True:
    ready, _, _ = select.select([0, wake_r], [], [])
    if wake_r in ready and os.read(wake_r, 64):
        report()
    if 0 in ready and not os.read(0, 4096):
        break
"""
"""Prints its terminal size at start and on every SIGWINCH; exits at end of input. The
handler does nothing but wake the loop (``set_wakeup_fd``), which prints: a print from
the handler itself could land inside the start's print, a re-entrant write."""


def our_threads() -> list[str]:
    """Live threads, less trio's worker cache (the pytest plugin's guest-mode trio polls
    for I/O in one of those; cuprum starts no thread)."""
    return sorted(t.name for t in threading.enumerate() if not t.name.startswith("Trio thread"))


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


class Recorder:
    """An observe hook that keeps every event."""

    def __init__(self) -> None:
        self.events: list[ExecEvent] = []

    def __call__(self, event: ExecEvent) -> None:
        self.events.append(event)

    def of(self, phase: str) -> list[ExecEvent]:
        return [event for event in self.events if event.phase == phase]

    def lines(self, phase: str = "stdout") -> list[str]:
        return [event.line or "" for event in self.of(phase)]


def text(value: object) -> str:
    assert isinstance(value, str), f"expected captured text, got {value!r}"
    return value


def data(value: object) -> bytes:
    assert isinstance(value, bytes), f"expected captured bytes, got {value!r}"
    return value
