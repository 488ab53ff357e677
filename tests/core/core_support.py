"""Shared helpers for the core tests: a test catalogue, real-process probes, waiting.

Every wait here is for a condition with a deadline; nothing sleeps in place of one.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio

# The shared /proc helpers, re-exported for this suite's tests.
from processes import is_dead as is_dead  # noqa: PLC0414
from processes import open_fds as open_fds  # noqa: PLC0414
from processes import process_state as process_state  # noqa: PLC0414

from cuprum import ExecEvent, Program, ProgramCatalogue, ProjectSettings, SafeCmd, sh

PY = Program(sys.executable)
SH = Program("sh")
MISSING = Program("cuprum-test-no-such-program-7f3a")
TEST_PROJECT = ProjectSettings(
    name="core-tests",
    programs=(PY, SH, MISSING),
    documentation_locations=("tests/core",),
    noise_rules=(r"^noise:",),
)
TEST_CATALOGUE = ProgramCatalogue(projects=(TEST_PROJECT,))

DEADLINE = 10.0
"""Generous upper bound for "must finish" assertions; never a lower bound."""

# A child that ignores SIGTERM (inherited by `sleep`), says so, then waits forever.
IGNORE_TERM = "trap '' TERM; echo ready; sleep 300"
# A child that starts a grandchild in its own process group, prints its pid, waits.
WITH_GRANDCHILD = 'sleep 300 & echo "$!"; wait'


def run_host(
    code: str, tmp_path: Path, *args: str, strategy: str
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` as a host program in a fresh interpreter with ``args``, under stream
    strategy ``strategy``: its status, stdout and stderr (text), bounded by the deadline."""
    script = tmp_path / "host.py"
    script.write_text(code)
    return subprocess.run(
        [sys.executable, str(script), *args],
        env={**os.environ, "CUPRUM_STREAM_BACKEND": strategy},
        capture_output=True,
        text=True,
        timeout=DEADLINE * 3,
        check=False,
    )


def py(code: str, *args: str) -> SafeCmd:
    """``python -c code args...`` with the interpreter running the tests."""
    return sh.make(PY, catalogue=TEST_CATALOGUE)("-c", code, *args)


def shell(script: str, *args: str) -> SafeCmd:
    """``sh -c script args...``."""
    return sh.make(SH, catalogue=TEST_CATALOGUE)("-c", script, *args)


def wait_until(
    predicate: Callable[[], bool], *, timeout: float = DEADLINE, what: str = "condition"
) -> None:
    """Poll ``predicate`` until it holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.005)


def assert_dead(*pids: int) -> None:
    """Every pid is dead (SIGKILL delivery is asynchronous, so allow it a moment)."""
    for pid in pids:
        wait_until(lambda pid=pid: is_dead(pid), what=f"pid {pid} to die")  # type: ignore[misc]


class Recorder:
    """An observe hook that records events and can signal when a line arrives."""

    def __init__(self, on_line: Callable[[ExecEvent], None] | None = None) -> None:
        self.events: list[ExecEvent] = []
        self.on_line = on_line

    def __call__(self, event: ExecEvent) -> None:
        self.events.append(event)
        if self.on_line is not None and event.phase in ("stdout", "stderr"):
            self.on_line(event)

    @property
    def phases(self) -> list[str]:
        return [event.phase for event in self.events]

    def lines(self, phase: str = "stdout") -> list[str]:
        return [event.line for event in self.events if event.phase == phase and event.line]

    @property
    def terminal(self) -> list[ExecEvent]:
        return [event for event in self.events if event.is_terminal]

    def of(self, phase: str) -> list[ExecEvent]:
        return [event for event in self.events if event.phase == phase]

    @property
    def pid(self) -> int:
        (start,) = self.of("start")
        assert start.pid is not None
        return start.pid


@contextmanager
def recording(on_line: Callable[[ExecEvent], None] | None = None) -> Iterator[Recorder]:
    """Register a :class:`Recorder` as an observe hook for the block."""
    recorder = Recorder(on_line)
    with sh.observe(recorder):
        yield recorder


def cancel_on_line(scope: anyio.CancelScope, line: str) -> Callable[[ExecEvent], None]:
    """A line callback that cancels ``scope`` when ``line`` arrives (the child is ready)."""

    def callback(event: ExecEvent) -> None:
        if event.line == line:
            scope.cancel()

    return callback


def first_int_line(event: ExecEvent) -> int | None:
    """The pid a ``WITH_GRANDCHILD`` child printed, if this event carries it."""
    if event.phase == "stdout" and event.line and event.line.isdigit():
        return int(event.line)
    return None


@contextmanager
def host_program(
    argv: Sequence[str], workdir: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[str]]:
    """A host program (``sync_host.py``, ``direct_host.py``) for a signal test; killed if
    left running, and the groups its children named in ``pids.*`` files killed too."""
    try:
        with subprocess.Popen(
            list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        ) as proc:
            try:
                yield proc
            finally:
                if proc.poll() is None:
                    proc.kill()
    finally:
        for pids in workdir.glob("pids.*"):  # whatever a failed run left behind
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(int(pids.read_text().split()[0]), signal.SIGKILL)


def host_report(proc: subprocess.Popen[str]) -> dict[str, Any]:
    """The host's JSON report, its last line (its stderr in the failure message otherwise)."""
    stdout, stderr = proc.communicate(timeout=DEADLINE)
    lines = stdout.splitlines()
    assert lines, stderr
    found: dict[str, Any] = json.loads(lines[-1])
    return found


# Host-program code (a host script cannot import this module): appended to a prelude.
HOST_RUN_PATHS = """
def run(path, cmd, **options):
    \"\"\"``cmd`` through one path of ``run_sync()``: direct, trio's loop, or asyncio's.\"\"\"
    if path == "direct":
        return cmd.run_sync(**options)
    if path == "trio":
        return cmd.run_sync(backend="trio", **options)
    from cuprum._runtime.sync import run_sync as loop_run_sync

    return loop_run_sync(lambda: cmd.run(**options))
"""
"""Host-script text: ``run(path, cmd, **options)``, the three ways a run_sync() goes."""

HOST_FORK_HELPERS = """
def fork_during_the_run(started, in_child, done):
    \"\"\"Once ``started()`` holds, fork: the child runs ``in_child()`` and exits at once;
    when it has, create the file ``done`` (the run's program waits for it).\"\"\"
    import os, time

    deadline = time.monotonic() + 10
    while not started():
        assert time.monotonic() < deadline, "the run never started"
        time.sleep(0.001)
    pid = os.fork()
    if pid == 0:
        try:
            in_child()
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    open(done, "w").close()
"""
"""Host-script text: ``fork_during_the_run(started, in_child, done)``, for a thread."""

HOST_FD_HELPERS = """
def fill_fds_but(free):
    \"\"\"Open /dev/null until no fd is left, then close ``free`` of them: the rest.\"\"\"
    filler = []
    while True:
        try:
            filler.append(os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC))
        except OSError:
            break
    for _ in range(free):
        os.close(filler.pop())
    return filler
"""


def reaches_the_program_intact(arg: object) -> None:
    """An argv item as the spawn needs it: a plain ``str`` or a ``Secret`` whose real
    value has no NUL and encodes for the OS."""
    from cuprum import Secret
    from cuprum._core.secret import reveal

    assert type(arg) is str or type(arg) is Secret
    real = reveal(arg)
    if isinstance(real, bytes):
        assert b"\x00" not in real
    else:
        assert "\x00" not in real
        os.fsencode(real)
