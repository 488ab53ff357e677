"""``run_sync()`` without an event loop, against the loop path, where they could differ.

Each test runs the same thing on the direct path (the default ``run_sync()`` of one
local command) and on an event loop (``run_sync(backend="trio")``, or
``anyio.run(cmd.run)`` on asyncio and trio), and compares. Ctrl+C runs in a fresh
interpreter (``direct_host.py``) with real signals. What differs by timing alone
(which lines were read before a teardown, an error event's exit code) is left out.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from core_support import (
    DEADLINE,
    MISSING,
    TEST_CATALOGUE,
    host_program,
    host_report,
    open_fds,
    py,
    shell,
    wait_until,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from processes import is_dead

from cuprum import (
    DEVNULL,
    PIPE,
    STDOUT,
    ExecEvent,
    ExecutionContext,
    ScopeConfig,
    Secret,
    TimeoutExpired,
    after,
    before,
    scoped,
    sh,
)
from cuprum.testing import FakePrograms

HOST = Path(__file__).with_name("direct_host.py")
LOOPS = ["asyncio", "trio"]


# -- helpers -----------------------------------------------------------------------------


def _outcome(run: Callable[[], Any]) -> tuple[Any, list[tuple[Any, ...]]]:
    """What ``run()`` gave (result fields, or the exception's type, text and output),
    and its events (every field but times, pids, and an error event's exit code; the
    lines of each stream in order, not interleaved as they happened to be read)."""
    seen: list[ExecEvent] = []
    with scoped(ScopeConfig(observe_hooks=(seen.append,))):
        try:
            result = run()
        except Exception as exc:  # compared as a value
            fields: Any = (type(exc).__name__, str(exc))
            for name in ("output", "stderr", "returncode", "captured"):
                fields += (getattr(exc, name, None),)
        else:
            fields = (
                result.exit_code,
                result.stdout,
                result.stderr,
                result.outcome,
                result.stdout_truncated,
                result.stderr_truncated,
                result.ok,
            )
    events: list[tuple[Any, ...]] = []
    lines: list[tuple[Any, ...]] = []  # a run of line events: in order within each stream
    for e in seen:
        event = (
            e.phase,
            e.argv,
            e.line,
            None if e.phase == "error" else e.exit_code,
            e.error,
            e.message,
            e.ok,
        )
        if e.phase in ("stdout", "stderr"):
            lines.append(event)
            continue
        events += sorted(lines, key=lambda line: line[0])  # stable: which stream was
        lines = []  # read first, when both had data, is timing
        events.append(event)
    return fields, events + sorted(lines, key=lambda line: line[0])


def _on_loop(cmd: Any, options: dict[str, Any], backend: str) -> Any:
    async def main() -> Any:
        return await cmd.run(**options)

    return anyio.run(main, backend=backend)


def _same_as_on_a_loop(
    make: Callable[[], Any], options: dict[str, Any], *, lines: bool = True
) -> Any:
    """The direct run's outcome, asserted equal to the loop's on asyncio and trio."""
    direct = _outcome(lambda: make().run_sync(**options))
    for backend in LOOPS:
        looped = _outcome(functools.partial(_on_loop, make(), options, backend))
        if not lines:  # which lines a teardown let through is timing
            direct = (direct[0], [e for e in direct[1] if e[0] not in ("stdout", "stderr")])
            looped = (looped[0], [e for e in looped[1] if e[0] not in ("stdout", "stderr")])
        assert direct == looped, backend
    return direct


# -- Ctrl+C, in a fresh interpreter ------------------------------------------------------

# direct_host.py's paths: the direct one, and the loop's (trio; asyncio as run_sync
# ran before the direct path existed)
PATHS = ["direct", "asyncio", "trio"]
PUBLIC_PATHS = ["direct", "trio"]


def host(scenario: str, path: str, workdir: Path, **env: str) -> Any:
    """``direct_host.py`` running ``scenario``; killed (with its child) if left running."""
    argv = [sys.executable, str(HOST), scenario, path, str(workdir)]
    return host_program(
        argv, workdir, dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), **env)
    )


report = host_report


@pytest.mark.parametrize("path", PATHS)
def test_ctrl_c_inside_another_signal_handler_does_not_break_it_off(
    path: str, tmp_path: Path
) -> None:
    """Regression (direct): the SIGINT handler raised into whatever Python code it
    interrupted while the run waited, here the host's own SIGUSR1 handler, which
    was cut short. On the loop nothing is raised into it; the run is cancelled."""
    with host("foreign_handler", path, tmp_path) as proc:
        found = report(proc)
    assert found == {
        "outcome": "KeyboardInterrupt",
        "context": None,
        "child_states": [None],  # reaped before run_sync raised
        "handler_finished": True,
    }


@pytest.mark.parametrize("path", PATHS)
def test_host_shutdown_interrupted_by_ctrl_c_still_ends_the_host(path: str, tmp_path: Path) -> None:
    """Regression (direct): a Ctrl+C during host shutdown's teardown (SIGTERM under
    ``shutdown_on_signals``, while a run waited) broke it off: no SIGKILL for the
    live runs, and the SIGTERM's own action (ending the host) never came; run_sync
    raised KeyboardInterrupt instead. Now the host dies of its SIGTERM, as on a loop."""
    with host("shutdown", path, tmp_path) as proc:
        stdout, stderr = proc.communicate(timeout=DEADLINE)
        pids = [int(p.read_text()) for p in tmp_path.glob("pids.*")]
    assert (proc.returncode, stdout) == (-signal.SIGTERM, ""), stderr
    assert len(pids) == 1
    wait_until(lambda: is_dead(pids[0]), what="the child stopped by the shutdown")


@pytest.mark.parametrize("where", ["before_hook", "start_event"])
@pytest.mark.parametrize("path", PUBLIC_PATHS)
def test_ctrl_c_from_a_hook_cancels_the_run(path: str, where: str, tmp_path: Path) -> None:
    """A Ctrl+C noted while a before hook, or the start event's observer, runs: the
    child is started and then torn down, on every path."""
    with host("from_a_hook", path, tmp_path, DIRECT_HOST_WHERE=where) as proc:
        found = report(proc)
    found.pop("child_states")  # whether the child wrote its pid file first is timing
    assert found == {
        "outcome": "KeyboardInterrupt",
        "context": None,
        "phases": ["plan", "start", "error:cancelled"],
        "started": [None],  # reaped
    }


@pytest.mark.parametrize("path", PUBLIC_PATHS)
def test_a_sigint_handler_installed_by_a_hook_is_left_in_force(path: str, tmp_path: Path) -> None:
    with host("handler_from_a_hook", path, tmp_path) as proc:
        found = report(proc)
    assert found == {
        "outcome": "returned",
        "context": None,
        "child_states": [None],
        "calls": 1,
        "kept": True,
        "stdout": "done\n",
    }


@pytest.mark.parametrize("path", PUBLIC_PATHS)
def test_ctrl_c_cancels_the_main_threads_run_only(path: str, tmp_path: Path) -> None:
    with host("threads", path, tmp_path) as proc:
        found = report(proc)
    assert found == {
        "outcome": "KeyboardInterrupt",
        "context": None,
        "child_states": [None],
        "workers": ["True"],
        "runs": 60,
    }


# -- run_sync from a hook ----------------------------------------------------------------


def _nested(kind: str) -> Any:
    """A hook of ``kind`` that calls ``run_sync`` (of a command, or of a pipeline)."""
    inner = shell("echo inner")
    pipeline = shell("echo a") | shell("cat")

    def call() -> None:
        inner.run_sync()

    def call_pipeline() -> None:
        pipeline.run_sync()

    if kind == "before":
        return before(lambda cmd: call())
    if kind == "after":
        return after(lambda cmd, result: call())
    if kind == "observe":
        return sh.observe(lambda event: call() if event.phase == "start" else None)
    return before(lambda cmd: call_pipeline())


@pytest.mark.parametrize("kind", ["before", "after", "observe", "pipeline"])
def test_run_sync_from_a_hook_is_refused_as_on_a_loop(kind: str) -> None:
    """Regression (direct): a hook calling run_sync() ran a second command inside the
    first one's run, while on a loop it is refused (the hook runs inside the loop);
    Ctrl+C then waited for the inner run. Now refused with RuntimeError too."""
    outer = shell("echo outer")
    with _nested(kind):
        direct = _outcome(outer.run_sync)
        looped = _outcome(lambda: outer.run_sync(backend="trio"))
    assert direct[0][0] == looped[0][0] == "RuntimeError"
    assert "cannot be called from a hook of a run in progress" in direct[0][1]

    def kinds(events: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        # (the messages differ: no loop to name; the lines drained are timing)
        return [(e[0], e[3], e[4]) for e in events if e[0] not in ("stdout", "stderr")]

    assert kinds(direct[1]) == kinds(looped[1])


def test_run_sync_in_another_thread_from_a_hook_is_allowed() -> None:
    got: list[str] = []

    def hook(cmd: object) -> None:
        thread = threading.Thread(target=lambda: got.append(shell("echo t").run_sync().stdout))
        thread.start()
        thread.join(DEADLINE)

    with before(hook):
        assert shell("echo outer").run_sync().stdout == "outer\n"
    assert got == ["t\n"]  # the thread has a context of its own: no hook there


# The suite's process has threads (anyio's workers, the loop's): 3.12+ warn that a fork
# from it may deadlock. This child only runs a command and exits, which is the point.
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_child_forked_by_a_hook_may_run_sync() -> None:
    """The fork is not inside its parent's run."""
    codes: list[int] = []

    def hook(cmd: object) -> None:
        if codes:  # the child's own run, or the parent's second: no fork
            return
        codes.append(-1)
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            ok = False
            try:
                ok = py("print('in fork')").run_sync().stdout == "in fork\n"
            finally:
                os._exit(0 if ok else 1)
        codes[0] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])

    with before(hook):
        assert shell("echo outer").run_sync().stdout == "outer\n"
    assert codes == [0]


EDGES: dict[str, tuple[str, dict[str, Any]]] = {
    "stdout closed early": ("echo a; exec >&-; echo b >&2; exit 2", {}),
    "both closed, then exit": ("echo a; exec >&- 2>&-; sleep 0.1; exit 5", {}),
    "a grandchild holds the pipes": ("(sleep 0.1; echo late >&2) & echo early; exit 3", {}),
    "no trailing newline, CRs": ("printf 'a\\rb\\r\\nc'; printf 'x\\r' >&2", {}),
    "stdin from a path": ("cat", {"stdin": Path("/etc/hostname")}),
    "stdin from devnull": ("cat", {"stdin": DEVNULL}),
    "stderr into stdout": ("echo a; echo b >&2", {"stderr": STDOUT}),
    "not captured": ("echo a", {"capture": False}),
}


@pytest.mark.parametrize("case", EDGES)
def test_an_edge_as_on_a_loop(case: str) -> None:
    script, options = EDGES[case]
    _same_as_on_a_loop(lambda: shell(script), options)


def _raises_on(phase: str) -> Any:
    def hook(event: ExecEvent) -> None:
        if event.phase == phase:
            raise LookupError(f"hook on {phase}")

    return sh.observe(hook)


def _before_raises(cmd: object) -> None:
    raise LookupError("before hook")


def _after_raises(cmd: object, result: object) -> None:
    raise LookupError("after hook")


FAILURES: dict[str, tuple[Callable[[], Any], dict[str, Any], Any]] = {
    "missing cwd": (lambda: shell("true"), {"context": ExecutionContext(cwd="/no/such/dir")}, None),
    "cwd is a file": (
        lambda: shell("true"),
        {"context": ExecutionContext(cwd="/etc/hostname")},
        None,
    ),
    "env name with =": (
        lambda: shell("true"),
        {"context": ExecutionContext(env={"A=B": "1"})},
        None,
    ),
    "env value with NUL": (
        lambda: shell("true"),
        {"context": ExecutionContext(env={"A": "\0"})},
        None,
    ),
    "missing program": (sh.make(MISSING, catalogue=TEST_CATALOGUE), {}, None),
    "not allowed": (
        lambda: shell("true"),
        {},
        lambda: scoped(ScopeConfig(allowlist=frozenset(), fail_closed=True)),
    ),
    "stdout=PIPE": (lambda: shell("true"), {"stdout": PIPE}, None),
    "killed by a signal": (lambda: shell("kill -9 $$"), {"check": True}, None),
    "strict decoding": (
        lambda: shell("printf '\\377'"),
        {"context": ExecutionContext(errors="strict")},
        None,
    ),
    "timeout 0": (lambda: shell("echo hi"), {"timeout": 0}, None),
    "before hook": (lambda: shell("echo a"), {}, lambda: before(_before_raises)),
    "after hook": (lambda: shell("echo a"), {}, lambda: after(_after_raises)),
    "observer on plan": (lambda: shell("echo a"), {}, lambda: _raises_on("plan")),
    "observer on a line": (
        lambda: shell("echo a; exec sleep 300"),
        {},
        lambda: _raises_on("stdout"),
    ),
    "observer on exit": (lambda: shell("echo a"), {}, lambda: _raises_on("exit")),
    "observer on error": (
        lambda: shell("exec sleep 300"),
        {"timeout": 0.1},
        lambda: _raises_on("error"),
    ),
}


@pytest.mark.parametrize("case", FAILURES)
def test_a_failure_as_on_a_loop(case: str) -> None:
    make, options, scope = FAILURES[case]
    with scope() if scope is not None else contextlib.nullcontext():
        outcome = _same_as_on_a_loop(make, options)
    assert isinstance(outcome[0][0], str), outcome  # it raised


# -- timeouts and graces -----------------------------------------------------------------


@pytest.mark.parametrize("timeout", [1e7, float("inf")])
def test_a_timeout_of_any_size_is_the_loops(timeout: float) -> None:
    """Regression (direct): a timeout over epoll's limit (INT_MAX ms, 24.8 days) or inf
    raised OverflowError instead of running the command."""
    _same_as_on_a_loop(lambda: shell("echo hi"), {"timeout": timeout})


@pytest.mark.parametrize("grace", [1e7, float("inf")])
def test_a_grace_of_any_size_is_the_loops(grace: float) -> None:
    """Regression (direct): so did a cancel_grace over that limit, in a teardown."""
    context = ExecutionContext(cancel_grace=grace)
    outcome = _same_as_on_a_loop(
        lambda: shell("exec sleep 300"), {"timeout": 0.05, "context": context}
    )
    assert outcome[0][0] == "TimeoutExpired"


def test_the_waits_and_the_teardown_need_no_epoll_set(monkeypatch: pytest.MonkeyPatch) -> None:
    """A direct run waits with select.poll (no fd of its own): with no epoll set to be
    had (EMFILE, say), a run and its teardown still end, with the run's own error."""
    import select

    def epoll(*args: Any) -> select.epoll:
        raise OSError(24, "Too many open files")

    shell("true").run_sync()  # the shared /dev/null descriptor, opened once
    before_fds = open_fds()
    monkeypatch.setattr(select, "epoll", epoll)
    assert shell("echo hi").run_sync().stdout == "hi\n"
    with pytest.raises(TimeoutExpired):
        shell("exec sleep 300").run_sync(timeout=0.05)
    assert open_fds() == before_fds


# -- outputs -----------------------------------------------------------------------------

BOTH = "import os\nfor _ in range({n}):\n    os.write(1, b'o' * 65536); os.write(2, b'e' * 65536)\n"


def test_many_mib_on_both_pipes() -> None:
    direct = _same_as_on_a_loop(lambda: py(BOTH.format(n=128)), {"text": False})
    assert len(direct[0][1]) == len(direct[0][2]) == 8 << 20


def test_many_mib_past_a_capture_limit() -> None:
    direct = _same_as_on_a_loop(
        lambda: py(BOTH.format(n=64)), {"text": False, "capture_limit": 100_000}
    )
    assert direct[0][4:6] == (True, True)


def test_a_sink_that_raises() -> None:
    class Broken:
        def write(self, text: str) -> int:
            raise OSError(5, "sink broke")

        def flush(self) -> None:
            raise OSError(5, "sink broke")

    stdout = sys.stdout
    sys.stdout = Broken()
    try:
        direct = _same_as_on_a_loop(lambda: shell("echo a; exec sleep 300"), {"echo": True})
    finally:
        sys.stdout = stdout
    assert direct[0][0] == "OSError"
    assert direct[1][-1][4] == "output_failed"


BYTES = st.binary(max_size=300) | st.sampled_from([b"\xff\xfe", b"a\r\nb\rc", b"x" * 70_000])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    out=BYTES,
    err=BYTES,
    options=st.fixed_dictionaries(
        {},
        optional={
            "text": st.booleans(),
            "capture_limit": st.integers(1, 80_000),
            "on_limit": st.sampled_from(["truncate", "raise"]),
            "check": st.booleans(),
            "stdout": st.just(DEVNULL),
            "context": st.sampled_from(
                [ExecutionContext(errors="strict"), ExecutionContext(errors="replace")]
            ),
        },
    ),
)
def test_bytes_and_options_as_on_a_loop(out: bytes, err: bytes, options: dict[str, Any]) -> None:
    script = "import sys; sys.stdout.buffer.write(bytes.fromhex(sys.argv[1])); " + (
        "sys.stderr.buffer.write(bytes.fromhex(sys.argv[2]))"
    )
    make = lambda: py(script, out.hex(), err.hex())  # noqa: E731
    _same_as_on_a_loop(make, options, lines=options.get("on_limit") != "raise")


def test_fakes_as_on_a_loop(tmp_path: Path) -> None:
    with FakePrograms(tmp_path) as fake:
        fake.expect(("sh", "-c", "one"), stdout="faked\n", stderr="e\n", exit_code=3)
        fake.expect(("sh", "-c", "slow"), stdout="s\n", delay=DEADLINE)
        _same_as_on_a_loop(lambda: shell("one"), {})
        _same_as_on_a_loop(lambda: shell("one"), {"check": True})
        unexpected = _same_as_on_a_loop(lambda: shell("other"), {})
        timed_out = _same_as_on_a_loop(lambda: shell("slow"), {"timeout": 0.2}, lines=False)
    assert unexpected[0][0] == "UnexpectedCommandError"
    assert timed_out[0][0] == "TimeoutExpired"


@pytest.mark.parametrize(
    ("script", "options"),
    [('echo "$1"; exit 4', {"check": True}), ('echo "$1"; exec sleep 300', {"timeout": 0.2})],
)
def test_secrets_are_redacted_as_on_a_loop(script: str, options: dict[str, Any]) -> None:
    secret = Secret("hunter2")
    outcome = _same_as_on_a_loop(lambda: shell(script, "sh", secret), options)
    assert "hunter2" not in outcome[0][1]
    assert "hunter2" not in repr(outcome[1])


# -- threads, fds, context ---------------------------------------------------------------


def test_threads_at_once_leave_no_fd() -> None:
    shell("true").run_sync()  # the shared /dev/null descriptor, opened once
    before_fds = open_fds()
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            for turn in range(8):
                result = shell(f"echo {index}-{turn}; exit {turn % 3}").run_sync()
                assert (result.stdout, result.exit_code) == (f"{index}-{turn}\n", turn % 3)
                with pytest.raises(TimeoutExpired):
                    shell("exec sleep 300").run_sync(timeout=0.01)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DEADLINE)
    assert errors == []
    assert open_fds() == before_fds


def test_a_hooks_context_variables_stay_inside_the_run() -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")

    def set_it(*args: object) -> None:
        var.set("set")

    seen: list[str] = []
    with before(set_it), sh.observe(lambda event: seen.append(var.get())):
        shell("true").run_sync()
        assert var.get() == "unset"
        _on_loop(shell("true"), {}, "asyncio")
        assert var.get() == "unset"
    assert seen == ["set"] * len(seen)  # plan, start, exit: each saw the run's context
