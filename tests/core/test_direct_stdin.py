"""Stdin data (``stdin=b"..."`` or text) on the direct path, adversarially.

``run_sync()`` feeds it from the run's own poll (``stdin.PolledFeed``); here it is
compared with ``await cmd.run(stdin=...)`` on asyncio and trio, and with
``subprocess.run(input=...)``, where a run ends badly or the input is odd.
"""

from __future__ import annotations

import array
import os
import pickle
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from core_support import (
    DEADLINE,
    HOST_FD_HELPERS,
    HOST_RUN_PATHS,
    host_program,
    host_report,
    open_fds,
    shell,
)

from cuprum import (
    DEVNULL,
    STDOUT,
    ExecEvent,
    ExecutionContext,
    InvalidArgumentError,
    ScopeConfig,
    Secret,
    StdinEncodeError,
    TimeoutExpired,
    scoped,
)
from cuprum._runtime.outputs import OutputReader

BACKENDS = ["asyncio", "trio"]


def _phases(run: Callable[[], Any]) -> tuple[Any, list[ExecEvent]]:
    """What ``run()`` returned or raised, and the run's events but its output lines."""
    seen: list[ExecEvent] = []
    with scoped(ScopeConfig(observe_hooks=(seen.append,))):
        try:
            outcome: Any = run()
        except Exception as exc:  # compared by the caller
            outcome = exc
    return outcome, [e for e in seen if e.phase not in ("stdout", "stderr")]


async def _run(cmd: Any, options: dict[str, Any]) -> Any:
    return await cmd.run(**options)


def _paths(cmd: Any, options: dict[str, Any]) -> list[Callable[[], Any]]:
    """The same run three ways: ``run_sync()`` (direct), ``await run()`` on each loop."""

    def looped(backend: str) -> Callable[[], Any]:
        return lambda: anyio.run(_run, cmd, options, backend=backend)

    return [lambda: cmd.run_sync(**options), *(looped(b) for b in BACKENDS)]


def test_input_dropped_before_a_timeout_is_still_told() -> None:
    """A child that closes its stdin early, then outlives the timeout: the
    ``stdin_closed`` event comes before the ``error`` event, as on a loop (it was
    only emitted by a direct run that ended well)."""
    shell("true").run_sync(stdin=b"x")  # the shared /dev/null descriptor, opened once
    before = open_fds()
    cmd = shell("exec 0<&-; echo closed; exec sleep 30")
    options: dict[str, Any] = {"stdin": b"x" * (4 << 20), "timeout": 0.3}
    for run in _paths(cmd, options):
        outcome, events = _phases(run)
        assert isinstance(outcome, TimeoutExpired) and outcome.output == "closed\n"
        assert [e.phase for e in events] == ["plan", "start", "stdin_closed", "error"]
        assert str(events[2].message).startswith("child closed stdin; ")
    assert open_fds() == before


def _raised(run: Callable[[], Any]) -> BaseException:
    try:
        run()
    except Exception as exc:  # compared by the caller
        return exc
    raise AssertionError("no error")


@pytest.mark.parametrize("secret", [False, True])
def test_text_the_encoding_cannot_encode_names_the_program_and_parameter(secret: bool) -> None:
    """The same error on every path, before anything starts: an ``InvalidArgumentError``
    naming the program and ``stdin`` that is also the ``UnicodeEncodeError``
    ``subprocess.run(input=...)`` raises; a ``Secret`` shows in neither the message nor
    the exception (it was in its ``object``, a character of it in its message)."""
    text = "s3cr\u20act" if secret else "caf\u00e9 \u20ac"
    stdin = Secret(text) if secret else text
    cmd = shell("cat")
    options: dict[str, Any] = {"stdin": stdin, "context": ExecutionContext(encoding="latin-1")}
    with pytest.raises(UnicodeEncodeError):  # what an experienced user catches
        subprocess.run(["cat"], input=text, encoding="latin-1", check=False)
    errors = [_raised(run) for run in _paths(cmd, options)]
    for error in errors:
        assert isinstance(error, StdinEncodeError)
        assert isinstance(error, InvalidArgumentError) and isinstance(error, UnicodeEncodeError)
        assert str(error).startswith("sh: stdin: ")
        assert "latin-1" in str(error)
        assert str(error) == str(errors[0])
        assert error.encoding == "latin-1"
        if secret:
            assert "\u20ac" not in str(error) and "s3cr" not in repr(vars(error))
            assert "s3cr" not in repr(error.args) and "s3cr" not in str(error.object)
        else:
            assert "'\u20ac'" in str(error) and error.object == text
            assert (error.start, error.end) == (5, 6)
        assert pickle.loads(pickle.dumps(error)).args == error.args


# A host for Ctrl+C: for each path, a child that never reads its 4 MiB of input (or
# that closes its stdin first) says its pid in a file; once the main thread waits for
# the run (and has seen ``stdin_closed``, for the second), a real SIGINT to the host.
CTRL_C_HOST = textwrap.dedent(
    """
    import json, os, signal, sys, threading, time
    from pathlib import Path
    from cuprum import Program, ProgramCatalogue, ProjectSettings, ScopeConfig, scoped, sh
    SH = Program("sh")
    CATALOGUE = ProgramCatalogue(projects=(ProjectSettings(name="h", programs=(SH,)),))
    WAIT_FRAMES = {"wait", "select", "get_events"}  # direct, asyncio, trio
    workdir = Path(sys.argv[1])
    # RUN PATHS

    def wait_for(predicate):
        deadline = time.monotonic() + 10
        while not predicate():
            assert time.monotonic() < deadline
            time.sleep(0.001)

    def in_wait():
        frame = sys._current_frames().get(threading.main_thread().ident)
        return frame is not None and frame.f_code.co_name in WAIT_FRAMES

    found = {}
    for path in ("direct", "trio", "asyncio"):
        run(path, sh.make(SH, catalogue=CATALOGUE)("-c", "cat"), stdin=b"warm")
        before = sorted(os.listdir("/proc/self/fd"))
        for close in ("", "exec 0<&-; "):
            pidfile = workdir / f"{path}.{len(close)}"
            script = close + 'echo "$$" > "$1.tmp"; mv "$1.tmp" "$1"; exec sleep 300'
            cmd = sh.make(SH, catalogue=CATALOGUE)("-c", script, "sh", str(pidfile))
            seen, closed = [], threading.Event()

            def hook(event, seen=seen, closed=closed):
                seen.append(event.phase)
                if event.phase == "stdin_closed":
                    closed.set()

            def ctrl_c(pidfile=pidfile, closed=closed, close=close):
                wait_for(pidfile.exists)
                if close:
                    closed.wait(5)  # (if it never comes, the report says so)
                wait_for(in_wait)
                os.kill(os.getpid(), signal.SIGINT)

            threading.Thread(target=ctrl_c, daemon=True).start()
            try:
                with scoped(ScopeConfig(observe_hooks=(hook,))):
                    run(path, cmd, stdin=b"x" * (4 << 20))
                outcome = "returned"
            except KeyboardInterrupt:
                outcome = "KeyboardInterrupt"
            pid = int(pidfile.read_text())
            gone = not os.path.exists(f"/proc/{pid}")  # killed and reaped
            leaked = sorted(os.listdir("/proc/self/fd")) != before
            found[f"{path} {close or 'reads nothing'}"] = [outcome, seen, gone, leaked]
    print(json.dumps(found))
    """
)


def test_ctrl_c_while_the_input_waits_for_the_child(tmp_path: Path) -> None:
    """A real Ctrl+C in a fresh interpreter while the feed waits for a child that does
    not read (or that closed its stdin): ``KeyboardInterrupt`` on every path, the
    child killed and reaped, no fd left; ``stdin_closed`` (when the child closed its
    stdin) before the ``error`` event."""
    script = tmp_path / "host.py"
    script.write_text(CTRL_C_HOST.replace("# RUN PATHS", HOST_RUN_PATHS))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    with host_program([sys.executable, str(script), str(tmp_path)], tmp_path, env) as proc:
        found = host_report(proc)
    for path in ("direct", "trio", "asyncio"):
        for closed in (False, True):
            phases = ["plan", "start", *(["stdin_closed"] if closed else []), "error"]
            name = f"{path} {'exec 0<&-; ' if closed else 'reads nothing'}"
            assert found[name] == ["KeyboardInterrupt", phases, True, False], name


def test_a_released_memoryview_names_the_program_and_parameter() -> None:
    """The ``ValueError`` ``subprocess.run(input=...)`` raises, as an
    ``InvalidArgumentError`` worded with the program and ``stdin``, on every path."""
    view = memoryview(b"data")
    view.release()
    with pytest.raises(ValueError, match="released memoryview"):
        subprocess.run(["cat"], input=view, check=False)
    options: dict[str, Any] = {"stdin": view}
    for run in _paths(shell("cat"), options):
        error = _raised(run)
        assert isinstance(error, InvalidArgumentError), error
        assert str(error) == "sh: stdin: operation forbidden on released memoryview object"


def test_input_held_by_a_grandchild_is_waited_for_without_spinning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The child exits at once; its grandchild keeps the stdin pipe open, reading
    nothing, for a while. The run waits for it (as on a loop, and as
    ``subprocess.run``) in a few waits: the last output pipe, closed at its EOF, was
    left in the poll set, whose every wait then returned at once (POLLNVAL), a busy
    loop until the grandchild let go."""
    waits = 0
    wait = OutputReader.wait

    def counted(self: OutputReader, timeout: float) -> list[tuple[int, int]]:
        nonlocal waits
        waits += 1
        return wait(self, timeout)

    monkeypatch.setattr(OutputReader, "wait", counted)
    cmd = shell("exec 3<&0; sleep 0.3 <&3 >/dev/null 2>&1 & echo out")
    result = cmd.run_sync(stdin=b"x" * (4 << 20), timeout=DEADLINE)
    assert result.stdout == "out\n" and result.ok
    assert waits < 50, waits


_DATA = bytes(range(256)) * 300  # over the pipe's 64 KiB: fed in turns


@pytest.mark.parametrize(
    "stdin",
    [
        bytearray(_DATA),
        memoryview(_DATA)[::3],  # not contiguous
        memoryview(bytearray(_DATA)).cast("B", (300, 256)),  # two dimensions
        memoryview(array.array("i", range(30000))),  # items of 4 bytes
        b"",
    ],
    ids=["bytearray", "strided", "2-d", "int items", "empty"],
)
def test_buffers_as_subprocess_run_gives_them(stdin: Any) -> None:
    """What the child reads, and its status, as ``subprocess.run(input=bytes(stdin))``
    gives it, on every path: a buffer's bytes in their logical order (``subprocess.run``
    given the view itself refuses one that is not contiguous, and on Python 3.11
    mixes items and bytes for one of ``int`` items)."""
    script = "cat; echo; wc -c </dev/null; exit 3"
    expected = subprocess.run(
        ["sh", "-c", script], input=bytes(stdin), capture_output=True, check=False
    )
    options: dict[str, Any] = {"stdin": stdin, "text": False}
    for run in _paths(shell(script), options):
        result = run()
        assert (result.exit_code, result.stdout) == (expected.returncode, expected.stdout)


def test_a_buffer_changed_once_the_run_started_is_fed_as_it_was() -> None:
    """The input is copied when the run is wired: a change made from the ``start``
    event on (the child runs) is not what the child reads."""
    buffer = bytearray(b"before" * 20000)

    def change(event: ExecEvent) -> None:
        if event.phase == "start":
            buffer[:] = b"after!" * 20000

    with scoped(ScopeConfig(observe_hooks=(change,))):
        result = shell("cat").run_sync(stdin=memoryview(buffer), text=False)
    assert result.stdout == b"before" * 20000
    assert buffer == b"after!" * 20000


def test_several_threads_feeding_at_once() -> None:
    """``run_sync`` with stdin data from eight threads at once (each its own poll):
    every child reads its own input, and no fd is left."""
    shell("true").run_sync(stdin=b"x")
    before = open_fds()
    found: dict[int, bytes] = {}

    def feed(i: int) -> None:
        found[i] = shell("cat").run_sync(stdin=b"%d," % i * 60000, text=False).stdout

    threads = [threading.Thread(target=feed, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DEADLINE)
    assert found == {i: b"%d," % i * 60000 for i in range(8)}
    assert open_fds() == before


class _Disguised(bytes):
    """Bytes whose ``__bytes__`` says something else."""

    def __bytes__(self) -> bytes:
        return b"not the data"


def test_a_bytes_subclass_is_fed_its_own_bytes() -> None:
    """The buffer, as ``subprocess.run`` writes it, not what ``__bytes__`` returns."""
    stdin = _Disguised(b"the data")
    expected = subprocess.run(["cat"], input=stdin, capture_output=True, check=False).stdout
    assert expected == b"the data"
    options: dict[str, Any] = {"stdin": stdin, "text": False}
    for run in _paths(shell("cat"), options):
        assert run().stdout == expected


FDS_HOST = textwrap.dedent(
    """
    import errno, json, os, resource, sys
    from cuprum import Program, ProgramCatalogue, ProjectSettings, SpawnError, sh

    resource.setrlimit(resource.RLIMIT_NOFILE, (256, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    # FD HELPERS

    SH = Program("sh")
    CATALOGUE = ProgramCatalogue(projects=(ProjectSettings(name="h", programs=(SH,)),))
    cmd = sh.make(SH, catalogue=CATALOGUE)("-c", "cat; echo e >&2")
    cmd.run_sync(stdin=b"x")  # the shared /dev/null and the wake-up pipe, made once
    base = sorted(os.listdir("/proc/self/fd"), key=int)
    seen = []
    for data in (b"in", b"x" * 300000):
        for free in range(10):
            filler = fill_fds_but(free)
            try:
                result = cmd.run_sync(stdin=data, text=False)
                got = [len(result.stdout), result.stderr.decode()]
            except SpawnError as exc:
                got = [exc.errno == errno.EMFILE, str(exc).startswith("[Errno 24] sh: ")]
            for fd in filler:
                os.close(fd)
            seen.append([got, sorted(os.listdir("/proc/self/fd"), key=int) != base])
    print(json.dumps({"seen": seen}))
    """
)


def test_out_of_fds_with_input_is_a_spawn_error_and_leaks_nothing(tmp_path: Path) -> None:
    """With 0 to 9 fds left, a run with stdin data (fitting the pipe, or not) either
    runs in full or raises ``SpawnError`` (EMFILE) naming the program; no fd is left."""
    script = tmp_path / "host.py"
    script.write_text(FDS_HOST.replace("# FD HELPERS", HOST_FD_HELPERS))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    with host_program([sys.executable, str(script), str(tmp_path)], tmp_path, env) as proc:
        seen = host_report(proc)["seen"]
    runs = {str(got) for got, _ in seen}
    assert runs == {"[True, True]", "[2, 'e\\n']", "[300000, 'e\\n']"}, runs
    assert not any(leaked for _, leaked in seen)


def test_input_to_a_child_whose_output_goes_to_a_file_or_nowhere(tmp_path: Path) -> None:
    """No output pipe to read: the run still feeds it all, then ends with the child,
    on every path (the file holds what ``subprocess.run`` puts there)."""
    data = b"row\n" * 100000  # more than a pipe holds
    script = "cat; echo done >&2"
    with (tmp_path / "expected").open("wb") as out:
        subprocess.run(["sh", "-c", script], input=data, stdout=out, stderr=out, check=True)
    expected = (tmp_path / "expected").read_bytes()
    for i, run in enumerate(_paths(shell(script), {"stdin": data, "stdout": DEVNULL})):
        result = run()
        assert (result.stdout, result.stderr, result.ok) == (None, "done\n", True)
        target = tmp_path / f"out.{i}"
        options: dict[str, Any] = {"stdin": data, "stdout": target, "stderr": STDOUT}
        assert _paths(shell(script), options)[i]().stdout is None
        assert target.read_bytes() == expected
