"""``run_sync()`` under hostile conditions: the host's own state, odd inputs, faults.

Each scenario that alters process state (closed standard fds, signal dispositions,
fd limits) runs in a fresh interpreter (:data:`HOST_PRELUDE` plus the scenario),
which prints one JSON report; the direct path (the default ``run_sync()`` of one
command) is compared with the loop's (``run_sync(backend="trio")`` and the asyncio
loop of ``sync.run_sync``) and, where the behaviour is subprocess's, with
``subprocess.run`` itself.
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import tempfile
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
    HOST_FORK_HELPERS,
    HOST_RUN_PATHS,
    host_program,
    host_report,
    is_dead,
    open_fds,
    py,
    shell,
    wait_until,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cuprum import AppendTo, ExecEvent, ExecutionContext, SafeCmd, TimeoutExpired, sh

PATHS = ("direct", "trio", "asyncio")

# The start of every host script: a catalogue with sh and this Python, the three
# paths of run_sync, and report(), which writes the JSON line to the fd the test
# reads (REPORT_FD, the host's stdout until the scenario moves it).
HOST_PRELUDE = textwrap.dedent(
    """
    import json, os, subprocess, sys
    from cuprum import DEVNULL, INHERIT, STDOUT, Program, ProgramCatalogue, ProjectSettings, sh

    SH, PY = Program("sh"), Program(sys.executable)
    CATALOGUE = ProgramCatalogue(projects=(ProjectSettings(name="h", programs=(SH, PY)),))
    REPORT_FD = 1

    def shell(script, *args):
        return sh.make(SH, catalogue=CATALOGUE)("-c", script, "sh", *args)

    def py(code, *args):
        return sh.make(PY, catalogue=CATALOGUE)("-c", code, *args)

    def outcome(call):
        try:
            result = call()
        except Exception as exc:
            return [type(exc).__name__, str(exc)]
        return [result.exit_code, result.stdout, result.stderr]

    def report(**fields):
        os.write(REPORT_FD, (json.dumps(fields) + "\\n").encode())
    """
)

# A child that says what its fds 0-2 are ("closed", or what /proc shows), into a file.
SHOW_FDS = textwrap.dedent(
    """
    import os, sys
    seen = []
    for fd in (0, 1, 2):
        try:
            seen.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            seen.append("closed")
    with open(sys.argv[1], "w") as out:
        out.write(" ".join(seen))
    """
)


def host(scenario: str, workdir: Path) -> dict[str, Any]:
    """Run ``scenario`` after :data:`HOST_PRELUDE` in a fresh interpreter; its report."""
    script = workdir / "host.py"
    helpers = HOST_RUN_PATHS + HOST_FORK_HELPERS + HOST_FD_HELPERS
    script.write_text(HOST_PRELUDE + helpers + textwrap.dedent(scenario))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    with host_program([sys.executable, str(script), str(workdir)], workdir, env) as proc:
        return host_report(proc)


# -- the host's own standard fds -----------------------------------------------------


def test_inherit_of_a_closed_standard_fd_gives_the_child_none_of_cuprums_fds(
    tmp_path: Path,
) -> None:
    """Regression: with the host's fds 0-2 closed, ``INHERIT`` handed the child
    whatever cuprum (or the loop) had opened there since (the wake-up pipe, trio's
    epoll fd and wake-up socket): the child could read cuprum's pipe or write into
    it. Now the child gets what ``subprocess.run`` gives it: those fds closed."""
    found = host(
        f"""
        SHOW = {SHOW_FDS!r}
        workdir = sys.argv[1]
        REPORT_FD = os.dup(1)
        for fd in (0, 1, 2):
            os.close(fd)
        seen = {{}}
        for path in ("direct", "trio", "asyncio", "subprocess"):
            where = os.path.join(workdir, path)
            if path == "subprocess":
                subprocess.run([sys.executable, "-c", SHOW, where], check=True)
            else:
                run(path, py(SHOW, where), stdin=INHERIT, stdout=INHERIT, stderr=INHERIT)
            with open(where) as f:
                seen[path] = f.read()
        report(**seen)
        """,
        tmp_path,
    )
    assert found == dict.fromkeys([*PATHS, "subprocess"], "closed closed closed")


def test_a_direct_run_keeps_no_pipe_on_a_closed_standard_fd(tmp_path: Path) -> None:
    """Regression: the wake-up pipe (made once, kept for the process's life) took the
    lowest free fds: in a host that closed fds 0-2, its fds 0 and 1 for good, where
    the host's ``print()`` or next ``open()`` would find them."""
    found = host(
        """
        REPORT_FD = os.dup(1)
        for fd in (0, 1, 2):
            os.close(fd)
        result = shell("echo out; echo err >&2").run_sync()
        held = []
        for fd in (0, 1, 2):
            try:
                held.append(os.readlink(f"/proc/self/fd/{fd}"))
            except OSError:
                held.append("closed")
        report(result=[result.stdout, result.stderr], pipes=[h for h in held if "pipe" in h])
        """,
        tmp_path,
    )
    assert found == {"result": ["out\n", "err\n"], "pipes": []}


def test_an_open_file_on_a_standard_fd_is_still_passed_when_named(tmp_path: Path) -> None:
    """A file the host opened on fd 1 (close-on-exec, as Python opens files) given as
    ``stdout=`` reaches the child, as with ``subprocess.run(stdout=f)``; and
    ``INHERIT`` of an inheritable fd 1 (merged with ``stderr=STDOUT``) still works."""
    found = host(
        """
        workdir = sys.argv[1]
        REPORT_FD = os.dup(1)
        seen = {}
        for path in ("direct", "trio", "asyncio"):
            os.close(1)
            named = os.path.join(workdir, path + ".named")
            with open(named, "w") as f:  # lands on fd 1, not inheritable
                assert f.fileno() == 1 and not os.get_inheritable(1)
                run(path, shell("echo out; echo err >&2"), stdout=f, stderr=DEVNULL)
            inherited = os.path.join(workdir, path + ".inherited")
            assert os.open(inherited, os.O_WRONLY | os.O_CREAT) == 1
            os.set_inheritable(1, True)  # as a shell's redirect leaves it
            run(path, shell("echo out; echo err >&2"), stdout=INHERIT, stderr=STDOUT)
            with open(named) as a, open(inherited) as b:
                seen[path] = [a.read(), b.read()]
        report(**seen)
        """,
        tmp_path,
    )
    assert found == {key: ["out\n", "out\nerr\n"] for key in PATHS}


# -- stdin and redirect paths that cannot be opened ----------------------------------


def _on_each_path(cmd: SafeCmd, options: dict[str, Any]) -> list[BaseException]:
    """What ``cmd`` raised with ``options`` on the direct path, trio's and asyncio's."""
    calls = [
        functools.partial(cmd.run_sync, **options),
        functools.partial(cmd.run_sync, backend="trio", **options),
        functools.partial(anyio.run, functools.partial(cmd.run, **options)),
    ]
    raised: list[BaseException] = []
    for call in calls:
        with pytest.raises(OSError) as info:
            call()
        raised.append(info.value)
    return raised


@pytest.mark.parametrize(
    ("name", "target", "kind"),
    [
        ("stdin", "missing", FileNotFoundError),
        ("stdin", "through a file", NotADirectoryError),
        ("stdout", "missing", FileNotFoundError),
        ("stdout", "a directory", IsADirectoryError),
        ("stderr", "missing", FileNotFoundError),
        ("stderr", "appended, missing", FileNotFoundError),
    ],
)
def test_a_path_that_cannot_be_opened_names_the_program_and_parameter(
    name: str, target: str, kind: type[OSError], tmp_path: Path
) -> None:
    """Regression: ``stdin=``/``stdout=``/``stderr=`` paths the OS refused to open
    raised the bare ``OSError`` (``[Errno 2] No such file or directory: '...'``), which
    named neither the program nor the parameter. The error stays the same ``OSError``
    subclass with the same errno and filename, on every path."""
    (tmp_path / "file").write_text("")
    paths: dict[str, Path | AppendTo] = {
        "missing": tmp_path / "no" / "such",
        "through a file": tmp_path / "file" / "x",
        "a directory": tmp_path,
        "appended, missing": AppendTo(tmp_path / "no" / "such"),
    }
    chosen = paths[target]
    filename = os.fspath(chosen.path if isinstance(chosen, AppendTo) else chosen)
    seen: list[ExecEvent] = []
    with sh.observe(seen.append):
        raised = _on_each_path(shell("echo hi"), {name: chosen})
    for exc in raised:
        assert type(exc) is kind, exc
        assert str(exc).startswith(f"[Errno {exc.errno}] sh: {name}: "), exc
        assert exc.filename == filename
    assert len({str(exc) for exc in raised}) == 1
    errors = [event.error for event in seen if event.phase == "error"]
    assert errors == ["spawn_failed"] * len(PATHS)


# -- a fork from another thread during a run ------------------------------------------


_WAIT_FOR_DONE = "shell('while [ ! -e \"$1\" ]; do sleep 0.01; done', done)"
_FORKED_DURING = {  # the run the main thread is in when another thread forks
    "direct": f"{_WAIT_FOR_DONE}.run_sync(timeout=10)",
    "asyncio loop": f"({_WAIT_FOR_DONE} | shell('cat')).run_sync(timeout=10)",
    "trio loop": f"({_WAIT_FOR_DONE} | shell('cat')).run_sync(timeout=10, backend='trio')",
}


@pytest.mark.parametrize("during", list(_FORKED_DURING))
def test_a_child_forked_during_a_run_has_its_own_ctrl_c(tmp_path: Path, during: str) -> None:
    """Regression: a process forked (from another thread) while the main thread was in
    a run_sync kept that call's SIGINT handler, which only counts for the parent's
    run, and the parent's wake-up fd: Ctrl+C was ignored in the child forever (on
    either driver). The child now has Python's default handler and no wake-up fd,
    and a run of its own owns Ctrl+C as usual. Regression too: forked during a trio
    run, the child kept trio's wake-up fd (a socket of the parent's loop), which its
    own runs took for the host's, and its next ``trio.run`` warned of a collision."""
    found = host(
        """
        import signal, threading, time, warnings
        done = os.path.join(sys.argv[1], "done")
        r, w = os.pipe()
        # Every module both runs need, imported now: a fork while the main thread
        # imports one leaves its import lock held in the child for ever (any fork).
        shell("true").run_sync(backend="trio")
        (shell("true") | shell("true")).run_sync()

        def in_child():
            seen = {"handler": signal.getsignal(signal.SIGINT) is signal.default_int_handler}
            seen["wake-up fd"] = signal.set_wakeup_fd(-1)
            seen["run"] = shell("echo child").run_sync().stdout
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                seen["trio run"] = shell("echo child").run_sync(backend="trio").stdout
            seen["warnings"] = [str(warning.message) for warning in caught]
            try:
                os.kill(os.getpid(), signal.SIGINT)
                for _ in range(50):  # the handler runs at once (one thread here)
                    time.sleep(0.01)
                seen["ctrl-c"] = "ignored"
            except KeyboardInterrupt:
                seen["ctrl-c"] = "KeyboardInterrupt"
            os.write(w, json.dumps(seen).encode())

        def started():
            return signal.getsignal(signal.SIGINT) is not signal.default_int_handler

        thread = threading.Thread(target=fork_during_the_run, args=(started, in_child, done))
        thread.start()
        RUN
        thread.join()
        os.close(w)
        report(**json.loads(os.read(r, 4096)))
        """.replace("RUN", _FORKED_DURING[during]),
        tmp_path,
    )
    assert found == {
        "handler": True,
        "wake-up fd": -1,
        "run": "child\n",
        "trio run": "child\n",
        "warnings": [],
        "ctrl-c": "KeyboardInterrupt",
    }


# -- a FIFO as stdin -------------------------------------------------------------------


def _on_each(
    cmd: SafeCmd, options: dict[str, Any], before: Callable[[], object] = lambda: None
) -> list[Any]:
    """``cmd`` with ``options`` on each path (``before()`` each time): the result, or
    what it raised."""
    calls = [
        functools.partial(cmd.run_sync, **options),
        functools.partial(cmd.run_sync, backend="trio", **options),
        functools.partial(anyio.run, functools.partial(cmd.run, **options)),
    ]
    outcomes: list[Any] = []
    for call in calls:
        before()
        try:
            outcomes.append(call())
        except Exception as exc:  # compared by the caller
            outcomes.append(exc)
    return outcomes


def test_a_fifo_without_a_writer_times_out(tmp_path: Path) -> None:
    """Regression: ``stdin=Path(fifo)`` was opened with a blocking ``open()``, which
    waits for a writer: with none, the run hung past its timeout on every path. The
    open still waits for the writer (as a shell's ``< fifo`` does), within the
    run's timeout, and leaves no fd or thread behind."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    shell("true").run_sync()  # the shared /dev/null descriptor, opened once
    fds = open_fds()
    seen: list[ExecEvent] = []
    with sh.observe(seen.append):
        outcomes = _on_each(shell("cat"), {"stdin": fifo, "timeout": 0.2})
    for outcome in outcomes:
        assert isinstance(outcome, TimeoutExpired), outcome
        stderr: Any = outcome.stderr  # typed as subprocess's: bytes
        assert (outcome.output, stderr) == ("", "")
    assert [e.error for e in seen if e.phase == "error"] == ["timeout"] * len(PATHS)
    assert "start" not in [e.phase for e in seen]
    assert open_fds() == fds
    # By name: other tests' threads (anyio's idle workers) may come and go meanwhile.
    wait_until(
        lambda: not any(t.name == "cuprum-fifo-open" for t in threading.enumerate()),
        what="the opener thread to end",
    )


def test_a_fifo_is_read_once_its_writer_opens_it(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)

    def writer() -> None:
        with fifo.open("w") as f:  # blocks until the run opens the FIFO
            f.write("through the fifo\n")

    def start_a_writer() -> None:
        threading.Thread(target=writer, daemon=True).start()

    outcomes = _on_each(shell("cat"), {"stdin": fifo, "timeout": DEADLINE}, start_a_writer)
    assert [o.stdout for o in outcomes] == ["through the fifo\n"] * len(PATHS)


# -- differential: the same program through subprocess.run ----------------------------

# Writes the files its first two arguments name to stdout and stderr, then exits with
# the third argument, or dies of the signal the fourth names (its default restored).
WRITE_AND_END = (
    "import os, signal, sys\n"
    "for fd, path in ((1, sys.argv[1]), (2, sys.argv[2])):\n"
    "    with open(path, 'rb') as f:\n"
    "        os.write(fd, f.read()) if os.path.getsize(path) else None\n"
    "sig = int(sys.argv[4])\n"
    "if sig:\n"
    "    signal.signal(sig, signal.SIG_DFL)\n"
    "    os.kill(os.getpid(), sig)\n"
    "os._exit(int(sys.argv[3]))\n"
)
OUTPUT = (
    st.binary(max_size=200)
    | st.sampled_from([b"a\r\nb\rc", b"\0\0x\0", b"\xff\xfe\xfd", b"\xe2\x82", b"x" * 300_000])
    | st.text(max_size=50).map(lambda text: text.encode("utf-8", "surrogatepass"))
)
DEATHS = [signal.SIGTERM, signal.SIGKILL, signal.SIGSEGV, signal.SIGABRT, signal.SIGINT]
DEATHS += [signal.SIGHUP, signal.SIGPIPE, signal.SIGUSR1, signal.SIGQUIT]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    out=OUTPUT,
    err=OUTPUT,
    code=st.sampled_from([0, 1, 2, 126, 127, 128, 255]),
    sig=st.sampled_from([0, 0, 0, *DEATHS]),
    decoding=st.tuples(
        st.sampled_from(["utf-8", "latin-1", "utf-16", "cp1252", "shift_jis"]),
        st.sampled_from(["replace", "strict", "ignore", "backslashreplace", "surrogateescape"]),
    ),
)
def test_the_same_bytes_status_and_text_as_subprocess_run(
    out: bytes, err: bytes, code: int, sig: int, decoding: tuple[str, str]
) -> None:
    """``run_sync`` against ``subprocess.run(capture_output=True)`` of the same argv:
    the same bytes, the same status (``-N`` for death by signal N, as subprocess
    reports it), and the text is those bytes decoded with ``encoding``/``errors``
    (``UnicodeDecodeError`` where that decode raises)."""
    with tempfile.TemporaryDirectory() as tmp:
        args = (os.path.join(tmp, "out"), os.path.join(tmp, "err"), str(code), str(int(sig)))
        Path(args[0]).write_bytes(out)
        Path(args[1]).write_bytes(err)
        _compare_with_subprocess_run(args, *decoding)


def _compare_with_subprocess_run(args: tuple[str, ...], encoding: str, errors: str) -> None:
    done = subprocess.run(  # the reference
        [sys.executable, "-c", WRITE_AND_END, *args],
        capture_output=True,
        check=False,
        timeout=DEADLINE,
    )
    raw = py(WRITE_AND_END, *args).run_sync(text=False)
    assert (raw.exit_code, raw.stdout, raw.stderr) == (done.returncode, done.stdout, done.stderr)
    assert raw.ok is (done.returncode == 0)
    context = ExecutionContext(encoding=encoding, errors=errors)
    try:
        expected: Any = (done.stdout.decode(encoding, errors), done.stderr.decode(encoding, errors))
    except UnicodeDecodeError:
        with pytest.raises(UnicodeDecodeError):
            py(WRITE_AND_END, *args).run_sync(context=context)
        return
    text = py(WRITE_AND_END, *args).run_sync(context=context)
    assert (text.exit_code, text.stdout, text.stderr) == (done.returncode, *expected)


# -- the host's signal handlers ---------------------------------------------------------


def test_a_host_that_reaps_its_children_itself(tmp_path: Path) -> None:
    """A SIGCHLD handler that reaps every child (``waitpid(-1)``) takes each status
    from cuprum: as documented, the run ends at the exit, its output whole, with
    status 0; a timeout still ends the run and its group."""
    found = host(
        """
        import signal
        from cuprum import TimeoutExpired

        def reap(signum, frame):
            try:
                while os.waitpid(-1, os.WNOHANG)[0]:
                    pass
            except ChildProcessError:
                pass

        signal.signal(signal.SIGCHLD, reap)
        seen = {}
        for path in ("direct", "trio", "asyncio"):
            runs = [outcome(lambda: run(path, shell("echo out; echo err >&2; exit 3")))]
            try:
                run(path, shell('sleep 300 & echo "$!"; wait'), timeout=0.2)
            except TimeoutExpired as exc:
                runs.append(int(exc.output))
            seen[path] = runs
        report(**seen)
        """,
        tmp_path,
    )
    for path in PATHS:
        result, grandchild = found[path]
        assert result == [0, "out\n", "err\n"], path
        wait_until(functools.partial(is_dead, grandchild), what="the grandchild killed")


def test_a_host_handler_that_raises_during_the_wait_tears_the_run_down(tmp_path: Path) -> None:
    """A host's SIGTERM handler that raises (``sys.exit()``, a common pattern) while a
    direct run waits: the run is torn down (its group killed, every fd closed,
    SIGINT and the wake-up fd as they were) and the handler's exception is raised.
    (The loop paths do the same: tests/core/test_loop_faults.py.)"""
    found = host(
        """
        import signal, threading, time
        pid_file = os.path.join(sys.argv[1], "pid")
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(7))
        shell("true").run_sync()  # the shared /dev/null and the wake-up pipe, made once
        base = sorted(os.listdir("/proc/self/fd"), key=int)

        def terminate_once_running():
            deadline = time.monotonic() + 10
            while not os.path.exists(pid_file):
                assert time.monotonic() < deadline, "the child never started"
                time.sleep(0.001)
            os.kill(os.getpid(), signal.SIGTERM)

        threading.Thread(target=terminate_once_running).start()
        try:
            shell('echo "$$" > "$1.tmp"; mv "$1.tmp" "$1"; exec sleep 300', pid_file).run_sync()
            raised = None
        except SystemExit as exc:
            raised = exc.code
        report(
            raised=raised,
            child=int(open(pid_file).read()),
            leaked=sorted(os.listdir("/proc/self/fd"), key=int) != base,
            sigint=signal.getsignal(signal.SIGINT) is signal.default_int_handler,
            wakeup=signal.set_wakeup_fd(-1),
            next=shell("echo next").run_sync().stdout,
        )
        """,
        tmp_path,
    )
    wait_until(functools.partial(is_dead, found.pop("child")), what="the child killed")
    assert found == {"raised": 7, "leaked": False, "sigint": True, "wakeup": -1, "next": "next\n"}


def test_the_childs_signal_dispositions_and_mask_are_subprocess_runs(tmp_path: Path) -> None:
    """What the child starts with, from a host that ignores SIGINT and SIGHUP, catches
    SIGUSR2, blocks SIGUSR1 and SIGTERM in the calling thread (and, as Python does,
    ignores SIGPIPE and SIGXFSZ): the ignored signals stay ignored, SIGPIPE and SIGXFSZ
    are back to their default (``restore_signals``), caught ones are default after the
    exec, and nothing is blocked, as with ``subprocess.run``."""
    found = host(
        """
        import signal
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        signal.signal(signal.SIGUSR2, lambda signum, frame: None)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1, signal.SIGTERM})
        script = "grep -E '^Sig(Ign|Blk)' /proc/self/status"
        done = subprocess.run(["sh", "-c", script], capture_output=True, text=True)
        seen = {"subprocess": done.stdout}
        for path in ("direct", "trio", "asyncio"):
            seen[path] = run(path, shell(script)).stdout
        report(**seen)
        """,
        tmp_path,
    )
    reference = found.pop("subprocess")
    ignored = int(reference.split("SigIgn:")[1].split()[0], 16)
    standard = (1 << 31) - 1  # Python 3.13's children also ignore glibc's own (32, 33)
    assert ignored & standard == (1 << (signal.SIGINT - 1)) | (1 << (signal.SIGHUP - 1))
    assert found == dict.fromkeys(PATHS, reference)


def test_a_storm_of_signals_at_the_host(tmp_path: Path) -> None:
    """SIGALRM every millisecond at a Python handler, while runs wait (in the main
    thread and in another): every wait is resumed (no output lost, no early or late
    end), and the timeout still holds."""
    found = host(
        """
        import signal, threading
        from cuprum import TimeoutExpired

        BIG = "import os\\nfor _ in range(16): os.write(1, b'o' * 65536); os.write(2, b'e' * 65536)"
        hits = []
        signal.signal(signal.SIGALRM, lambda signum, frame: hits.append(1))
        signal.setitimer(signal.ITIMER_REAL, 0.001, 0.001)
        seen = {}
        for path in ("direct", "trio", "asyncio"):
            big = run(path, py(BIG), text=False)
            in_thread = []
            thread = threading.Thread(
                target=lambda: in_thread.append(outcome(lambda: run(path, shell("echo t; exit 4"))))
            )
            thread.start()
            try:
                run(path, shell("exec sleep 300"), timeout=0.2)
                timed_out = False
            except TimeoutExpired:
                timed_out = True
            thread.join()
            seen[path] = [len(big.stdout), len(big.stderr), big.exit_code, in_thread, timed_out]
        signal.setitimer(signal.ITIMER_REAL, 0, 0)
        report(hits=len(hits) > 100, **seen)
        """,
        tmp_path,
    )
    assert found.pop("hits")
    assert found == {path: [1 << 20, 1 << 20, 0, [[4, "t\n", ""]], True] for path in PATHS}


# -- out of file descriptors ------------------------------------------------------------


def test_out_of_fds_is_a_spawn_error_naming_the_program_and_leaks_nothing(
    tmp_path: Path,
) -> None:
    """With only ``free`` fds left (0 to 9: every step of the wiring and the spawn
    runs out in turn), a direct run either runs or raises ``SpawnError`` (EMFILE)
    naming the program; no fd is left open, and the next run works."""
    found = host(
        """
        import errno
        from cuprum import SpawnError
        from pathlib import Path

        source = Path(sys.argv[1], "in.txt")
        source.write_text("in\\n")
        shell("true").run_sync()  # the shared /dev/null and the wake-up pipe, made once
        base = sorted(os.listdir("/proc/self/fd"), key=int)
        seen = []
        for options in ({}, {"timeout": 5}, {"stdin": source, "stderr": STDOUT}):
            for free in range(10):
                filler = fill_fds_but(free)
                try:
                    got = shell("cat; echo e >&2").run_sync(**options).stdout
                except SpawnError as exc:
                    got = [exc.errno == errno.EMFILE, str(exc).startswith("[Errno 24] sh: ")]
                for fd in filler:
                    os.close(fd)
                leaked = sorted(os.listdir("/proc/self/fd"), key=int) != base
                seen.append([got, leaked])
        report(seen=seen, next=shell("echo next").run_sync().stdout)
        """,
        tmp_path,
    )
    assert found["next"] == "next\n"
    runs = {str(got) for got, _ in found["seen"]}
    assert runs <= {"[True, True]", "", "in\ne\n"}, runs
    assert len(runs) == 3  # each kind of run ran out of fds at some point, and ran at last
    assert not any(leaked for _, leaked in found["seen"])


def test_text_keeps_carriage_returns_unlike_subprocess_text_mode() -> None:
    """No newline translation (documented): ``subprocess.run(text=True)`` turns
    ``\\r\\n`` and ``\\r`` into ``\\n``; cuprum's text is the bytes decoded as they are,
    and its line events split at ``\\n`` only."""
    script = "printf 'a\\r\\nb\\rc\\n\\rd'"
    lines: list[str | None] = []
    with sh.observe(lambda event: lines.append(event.line) if event.phase == "stdout" else None):
        result = shell(script).run_sync()
    translated = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True)
    assert translated.stdout == "a\nb\nc\n\nd"
    assert result.stdout == "a\r\nb\rc\n\rd"
    assert lines == ["a\r", "b\rc", "\rd"]
