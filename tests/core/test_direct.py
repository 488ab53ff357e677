"""``run_sync()`` without an event loop: one local command, driven by the calling thread.

The same results, events and errors as the engine gives the same command on a
loop (compared here with ``await cmd.run()`` on asyncio and trio), asyncio and
anyio never imported for it, and the runs that need a loop still get one.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from core_support import DEADLINE, WITH_GRANDCHILD, open_fds, py, shell, wait_until
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from processes import is_dead

from cuprum import (
    DEVNULL,
    STDOUT,
    ExecEvent,
    ExecutionContext,
    Limits,
    ScopeConfig,
    TimeoutExpired,
    scoped,
)
from cuprum._runtime.direct import runs_direct

OUTPUT = ("stdout", "stderr")
SCRIPT = 'printf "%s" "$1"; printf "%s" "$2" >&2; exit "$3"'


def _events(run: Callable[[], Any]) -> tuple[Any, list[tuple[str, Any]]]:
    """What ``run()`` returned or raised, and the run's events (phase, a stable field)."""
    seen: list[ExecEvent] = []
    with scoped(ScopeConfig(observe_hooks=(seen.append,))):
        try:
            outcome: Any = run()
        except Exception as exc:  # compared as a value below
            outcome = exc
    # An error event's exit code says whether the child had exited before the teardown
    # reached it (a capture limit, say): timing, on a loop or not.
    shape = [(e.phase, e.line if e.phase in ("stdout", "stderr") else e.exit_code) for e in seen]
    return outcome, [(phase, None if phase == "error" else value) for phase, value in shape]


def _fields(outcome: Any) -> Any:
    if isinstance(outcome, Exception):
        return (type(outcome).__name__, str(outcome))
    return (
        outcome.exit_code,
        outcome.stdout,
        outcome.stderr,
        outcome.outcome,
        outcome.stdout_truncated,
        outcome.stderr_truncated,
        outcome.ok,
    )


OPTIONS: list[dict[str, Any]] = [
    {},
    {"text": False},
    {"capture": False},
    {"stderr": STDOUT},
    {"stdout": DEVNULL},
    {"check": True},
    {"accept": (0, 3)},
    {"capture_limit": 5},
    {"capture_limit": 5, "on_limit": "raise"},
]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    out=st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\0"), max_size=40),
    err=st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\0"), max_size=40),
    code=st.sampled_from([0, 1, 3, 127]),
    options=st.sampled_from(OPTIONS),
    backend=st.sampled_from(["asyncio", "trio"]),
)
def test_the_same_run_as_on_an_event_loop(
    out: str, err: str, code: int, options: dict[str, Any], backend: str
) -> None:
    cmd = shell(SCRIPT, "sh", out, err, str(code))
    direct, direct_events = _events(lambda: cmd.run_sync(**options))
    looped, looped_events = _events(lambda: anyio.run(_run, cmd, options, backend=backend))
    assert _fields(direct) == _fields(looped)
    if options.get("on_limit") == "raise":
        # Which lines were read before the limit stopped the run is timing, anywhere.
        direct_events = [event for event in direct_events if event[0] not in OUTPUT]
        looped_events = [event for event in looped_events if event[0] not in OUTPUT]
    assert direct_events == looped_events


async def _run(cmd: Any, options: dict[str, Any]) -> Any:
    return await cmd.run(**options)


async def _chunks() -> AsyncIterator[bytes]:
    yield b"chunk"


# Input sizes around the pipe's capacity (64 KiB; a larger input's pipe is grown to
# 1 MiB), so the first write takes all, part, or none of it at once.
_SIZES = [0, 1, 65535, 65536, 65537, (1 << 20) + 1, 3 << 20]
_READERS = {
    "cat": "cat",  # all of it
    "count": "wc -c",  # all of it, says how much
    "first line": 'IFS= read -r line; printf "%s" "$line"',  # one line; the rest dropped
    "none": "exit 4",  # reads nothing
}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.one_of(
        st.binary(max_size=200),
        st.sampled_from(_SIZES).map(lambda n: (b"line\n" * (n // 5 + 1))[:n]),
    ),
    reader=st.sampled_from(list(_READERS)),
    as_text=st.booleans(),
    backend=st.sampled_from(["asyncio", "trio"]),
)
def test_stdin_data_as_on_an_event_loop(
    data: bytes, reader: str, as_text: bool, backend: str
) -> None:
    """``stdin=`` bytes or text, fed from the direct run's own poll: the same results
    and events as on a loop (a ``stdin_closed`` event, when the child leaves input
    untaken, depends on when it exits: compared only for a child that reads it all)."""
    cmd = shell(_READERS[reader])
    stdin: bytes | str = data.decode("latin-1") if as_text else data
    options: dict[str, Any] = {
        "stdin": stdin,
        "text": False,
        "context": ExecutionContext(encoding="latin-1"),
    }
    assert runs_direct(cmd._request(dict(_SHAPE, **options)))
    direct, direct_events = _events(lambda: cmd.run_sync(**options))
    looped, looped_events = _events(lambda: anyio.run(_run, cmd, options, backend=backend))
    assert _fields(direct) == _fields(looped)
    if reader in ("cat", "count"):
        assert direct.stdout == (data if reader == "cat" else b"%d\n" % len(data))
    else:
        direct_events = [e for e in direct_events if e[0] != "stdin_closed"]
        looped_events = [e for e in looped_events if e[0] != "stdin_closed"]
    assert direct_events == looped_events


_SHAPE = {"capture": True, "text": True, "stdout": None, "stderr": None}


def test_input_the_child_never_reads_ends_with_its_timeout() -> None:
    """More input than the pipe holds, for a child that never reads: the run waits
    to feed it (as on a loop) until its timeout, then tears down and leaks nothing."""
    shell("true").run_sync()  # the shared /dev/null descriptor, opened once
    fds = open_fds()
    cmd = shell("echo started; exec sleep 30")
    with pytest.raises(TimeoutExpired) as caught:
        cmd.run_sync(stdin=b"x" * (4 << 20), timeout=0.5)
    assert caught.value.output == "started\n"  # partial output kept
    assert open_fds() == fds


def test_a_child_that_closes_its_stdin_early_is_told_in_an_event() -> None:
    """The rest of the input is dropped (EPIPE is not an error), as ``subprocess.run``
    drops it, and a ``stdin_closed`` event says how much."""
    seen: list[ExecEvent] = []
    data = b"y" * (3 << 20)
    with scoped(ScopeConfig(observe_hooks=(seen.append,))):
        result = shell("head -c 10; exec 0<&-").run_sync(stdin=data, text=False)
    assert result.stdout == b"y" * 10 and result.ok
    [closed] = [e for e in seen if e.phase == "stdin_closed"]
    dropped = int(str(closed.message).split("; ")[1].split()[0])
    assert 0 < dropped <= len(data) - 10


def test_a_timeout_keeps_the_output_and_leaves_nothing_running() -> None:
    before = open_fds()
    cmd = shell('echo partial; echo oops >&2; sleep 300 & echo "$!"; wait')
    direct, direct_events = _events(lambda: cmd.run_sync(timeout=0.5))
    assert isinstance(direct, TimeoutExpired)
    assert direct.output is not None and direct.output.startswith("partial\n")
    stderr: Any = direct.stderr  # typed as subprocess's: bytes
    assert stderr == "oops\n"
    grandchild = int(direct.output.split()[1])
    wait_until(lambda: is_dead(grandchild), what="the grandchild killed with its group")
    assert direct_events[-1] == ("error", None)
    assert open_fds() == before
    looped, looped_events = _events(lambda: anyio.run(_run, cmd, {"timeout": 0.5}))
    assert type(looped) is type(direct)
    assert [phase for phase, _ in looped_events if phase != "stdout"] == [
        phase for phase, _ in direct_events if phase != "stdout"
    ]


def test_a_grandchild_holding_the_pipes_is_read_to_the_end() -> None:
    result = shell("(sleep 0.2; echo late) & echo early").run_sync()
    assert result.stdout == "early\nlate\n"


def test_a_grandchild_left_behind_is_killed_with_the_group() -> None:
    # The grandchild keeps its own stdout away from the pipes, so the run ends at the
    # child's exit; what is left of the group is killed then.
    result = shell("sleep 300 >/dev/null 2>&1 & echo $!").run_sync()
    wait_until(lambda: is_dead(int(result.stdout)), what="the grandchild killed")


def test_without_pidfd_the_exit_is_polled(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(pid: int, flags: int = 0) -> int:
        raise OSError(38, "pidfd_open: not implemented here")

    monkeypatch.setattr(os, "pidfd_open", refused)
    result = shell("echo out; exec >&- 2>&-; sleep 0.2; exit 4").run_sync(timeout=DEADLINE)
    assert (result.exit_code, result.stdout) == (4, "out\n")
    with pytest.raises(TimeoutExpired):
        shell("exec >&- 2>&-; sleep 300").run_sync(timeout=0.3)


def test_a_hook_error_in_line_events_tears_the_run_down() -> None:
    def boom(event: ExecEvent) -> None:
        if event.phase == "stdout":
            raise LookupError("hook")

    cmd = shell(WITH_GRANDCHILD)
    with scoped(ScopeConfig(observe_hooks=(boom,))), pytest.raises(LookupError):
        cmd.run_sync()


@pytest.mark.parametrize(
    ("cmd", "options", "direct"),
    [
        (shell("true"), {}, True),
        (shell("true"), {"stdin": DEVNULL}, True),
        (shell("true"), {"stdin": Path(os.devnull)}, True),
        (shell("true"), {"stdin": b"data"}, True),
        (shell("true"), {"stdin": "text"}, True),
        (shell("true"), {"stdin": _chunks()}, False),
        (shell("true"), {"context": ExecutionContext(contain=True)}, True),
        (shell("true"), {"context": ExecutionContext(limits=Limits(open_files=64))}, True),
        (shell("true") | shell("cat"), {}, False),
    ],
    ids=["plain", "devnull", "file", "bytes", "text", "iterable", "contain", "limits", "pipeline"],
)
def test_which_runs_need_no_event_loop(cmd: Any, options: dict[str, Any], direct: bool) -> None:
    call = dict({"capture": True, "text": True, "stdout": None, "stderr": None}, **options)
    assert runs_direct(cmd._request(call)) is direct


def _fresh_interpreter(code: str) -> Any:
    """What ``code``, run by a fresh interpreter with this sys.path, prints as JSON."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    done = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=DEADLINE,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_no_event_loop_is_imported() -> None:
    # A fresh interpreter: a plain run, an observed one, a timed-out one, a contained one
    # (a cgroup of its own, made and removed in the thread) and one with limits.
    code = (
        "import sys\n"
        "from cuprum import ExecutionContext, Limits, Program, ProgramCatalogue, ProjectSettings\n"
        "from cuprum import ScopeConfig, TimeoutExpired, scoped, sh\n"
        "c = ProgramCatalogue(projects=(ProjectSettings('t', (Program('sh'),)),))\n"
        "cmd = sh.make(Program('sh'), catalogue=c)\n"
        "assert cmd('-c', 'echo hi').run_sync().stdout == 'hi\\n'\n"
        "with scoped(ScopeConfig(observe_hooks=(lambda e: None,))):\n"
        "    cmd('-c', 'echo a; echo b >&2').run_sync()\n"
        "try:\n"
        "    cmd('-c', 'sleep 5').run_sync(timeout=0.1)\n"
        "except TimeoutExpired:\n"
        "    pass\n"
        "cmd('-c', 'true').run_sync(context=ExecutionContext(contain=True))\n"
        "cmd('-c', 'true').run_sync(context=ExecutionContext(limits=Limits(open_files=64)))\n"
        "loops = {'asyncio', 'anyio', 'trio', 'sniffio'} & set(sys.modules)\n"
        "print(__import__('json').dumps(sorted(loops)))\n"
    )
    assert _fresh_interpreter(code) == []


def test_ctrl_c_from_another_thread_is_not_cuprums() -> None:
    # Off the main thread nothing is installed for SIGINT, and the run is as usual.
    import threading

    got: list[Any] = []
    thread = threading.Thread(target=lambda: got.append(py("print('x')").run_sync()))
    thread.start()
    thread.join(DEADLINE)
    assert got and got[0].stdout == "x\n"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.parametrize("timeout", [float("inf"), 1e300, 10**20, 1e-300])
def test_any_timeout_the_loop_takes(timeout: float) -> None:
    # A wait is bounded by the OS's time_t: huge timeouts are waited in turns.
    cmd = shell("echo hi")
    direct, _ = _events(lambda: cmd.run_sync(timeout=timeout))
    looped, _ = _events(lambda: anyio.run(_run, cmd, {"timeout": timeout}))
    assert _fields(direct) == _fields(looped)


def test_a_huge_grace_ends_when_the_child_does() -> None:
    ctx = ExecutionContext(cancel_grace=1e300)
    with pytest.raises(TimeoutExpired):
        shell("echo ready; sleep 300").run_sync(timeout=0.3, context=ctx)


def test_a_plain_run_imports_nothing_once_it_owns_ctrl_c() -> None:
    # Regression: the first direct run imported a module (cgroupfs) after taking SIGINT;
    # a thread forking then (test_a_child_forked_during_a_run_has_its_own_ctrl_c) left
    # the child that module's import lock held, and its own first run hung. Everything
    # a plain run needs is loaded before it takes Ctrl+C. A fresh interpreter.
    code = (
        "import json, sys\n"
        "from cuprum import Program, ProgramCatalogue, ProjectSettings, sh\n"
        "from cuprum._runtime import direct, sigint\n"
        "seen = []\n"
        "take = direct.take_sigint\n"
        "def counting(handler):\n"
        "    seen.append(set(sys.modules))\n"
        "    take(handler)\n"
        "direct.take_sigint = counting\n"
        "c = ProgramCatalogue(projects=(ProjectSettings('t', (Program('sh'),)),))\n"
        "assert sh.make(Program('sh'), catalogue=c)('-c', 'true').run_sync().exit_code == 0\n"
        "print(json.dumps(sorted(set(sys.modules) - seen[0])))\n"
    )
    assert _fresh_interpreter(code) == []
