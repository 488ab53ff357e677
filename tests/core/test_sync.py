"""``run_sync``: both backends, threads, refusal inside a loop, and Ctrl+C."""

from __future__ import annotations

import gc
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest
from core_support import (
    DEADLINE,
    assert_dead,
    open_fds,
    process_state,
    recording,
    shell,
    wait_until,
)

from cuprum import (
    ECHO,
    LS,
    TRUE,
    CommandResult,
    ForbiddenProgramError,
    InvalidArgumentError,
    ScopeConfig,
    TimeoutExpired,
    before,
    run_concurrent_sync,
    scoped,
    sh,
)

BACKENDS = ["asyncio", "trio"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_run_sync_returns_a_command_result(backend: Any) -> None:
    with recording() as rec:
        result = shell("echo out; echo err >&2; exit 2").run_sync(backend=backend)
    assert isinstance(result, CommandResult)
    assert (result.stdout, result.stderr, result.exit_code) == ("out\n", "err\n", 2)
    assert result.pid == rec.pid
    assert rec.phases[:2] == ["plan", "start"]
    assert sorted(rec.phases[2:4]) == ["stderr", "stdout"]
    assert rec.phases[4:] == ["exit"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_run_sync_sees_the_callers_scope(backend: Any) -> None:
    calls: list[str] = []
    with scoped(ScopeConfig(allowlist=frozenset([ECHO]), timeout=0.05)):
        with before(lambda cmd: calls.append(cmd.program)):
            assert sh.make(ECHO)("hi").run_sync(backend=backend).stdout == "hi\n"
            with pytest.raises(ForbiddenProgramError):
                sh.make(LS)().run_sync(backend=backend)
    assert calls == ["echo"]
    with scoped(ScopeConfig(timeout=0.05)), pytest.raises(TimeoutExpired):
        shell("exec sleep 300").run_sync(backend=backend)


@pytest.mark.parametrize("backend", ["curio", "TRIO", None])
def test_unknown_backend_is_refused_naming_the_program_before_anything_runs(
    backend: Any,
) -> None:
    calls: list[str] = []
    pipeline = sh.make(ECHO)("x") | sh.make(TRUE)()
    with recording() as rec, before(lambda cmd: calls.append(cmd.program)):
        with pytest.raises(InvalidArgumentError, match=r"^sh: backend must be 'asyncio' or 'trio'"):
            shell("true").run_sync(backend=backend)
        with pytest.raises(InvalidArgumentError, match=r"^echo \(first stage of a 2-stage"):
            pipeline.run_sync(backend=backend)
    assert calls == [] and rec.events == []


@pytest.mark.anyio
@pytest.mark.parametrize("backend", BACKENDS)
async def test_run_sync_inside_a_running_loop_is_refused(backend: Any) -> None:
    with pytest.raises(RuntimeError, match=r"await cmd\.run\(\)"):
        sh.make(TRUE)().run_sync(backend=backend)
    with pytest.raises(RuntimeError, match=r"await cmd\.run\(\)"):
        (sh.make(ECHO)("x") | sh.make(TRUE)()).run_sync(backend=backend)


@pytest.mark.anyio
async def test_run_concurrent_sync_inside_a_running_loop_names_run_concurrent(
    anyio_backend: str,
) -> None:
    # The hint names the async form of what was called, not cmd.run().
    with pytest.raises(RuntimeError, match=r"use `await run_concurrent\(\.\.\.\)` instead$"):
        run_concurrent_sync(sh.make(TRUE)())


@pytest.mark.parametrize("backend", BACKENDS)
def test_run_sync_from_many_threads(backend: Any) -> None:
    results: dict[int, str] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(4, timeout=DEADLINE)

    def worker(index: int) -> None:
        try:
            with scoped(ScopeConfig(allowlist=frozenset([ECHO]))):
                barrier.wait()
                out = sh.make(ECHO)(str(index)).run_sync(backend=backend).stdout
                assert out is not None
                results[index] = out
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DEADLINE)
    assert not errors
    assert results == {i: f"{i}\n" for i in range(4)}


@pytest.mark.anyio
async def test_a_threads_loop_is_closed_in_that_thread_even_after_a_failed_run() -> None:
    """Regression: a failed run_sync left the thread's loop in a reference cycle; the
    garbage collector then closed it in whichever thread it ran, and with a loop
    running there the close failed (an unraisable RuntimeError) and leaked its fds."""
    before_fds = open_fds()

    def worker() -> None:
        with scoped(ScopeConfig(allowlist=frozenset([ECHO]))):
            with pytest.raises(ForbiddenProgramError):
                sh.make(LS)().run_sync()

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(DEADLINE)
    gc.collect()  # here, with this test's event loop running
    assert open_fds() == before_fds


# -- Ctrl+C ---------------------------------------------------------------------------

CTRL_C_SCRIPT = textwrap.dedent(
    """
    import sys
    from cuprum import Program, ProgramCatalogue, ProjectSettings, sh

    SH = Program("sh")
    catalogue = ProgramCatalogue(projects=(ProjectSettings(name="ctrl-c", programs=(SH,)),))
    pidfile, backend = sys.argv[1], sys.argv[2]

    def report(event):
        if event.is_terminal:
            print(event.phase, event.error, flush=True)

    script = 'sleep 300 & echo "$$ $!" > "$1.tmp"; mv "$1.tmp" "$1"; wait'
    with sh.observe(report):
        sh.make(SH, catalogue=catalogue)("-c", script, "sh", pidfile).run_sync(backend=backend)
    print("not interrupted", flush=True)
    """
)


@pytest.mark.parametrize("backend", BACKENDS)
def test_ctrl_c_tears_down_child_and_grandchild(backend: str, tmp_path: Path) -> None:
    script = tmp_path / "ctrl_c.py"
    script.write_text(CTRL_C_SCRIPT)
    pidfile = tmp_path / "pids"
    proc = subprocess.Popen(
        [sys.executable, str(script), str(pidfile), backend],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(
            lambda: pidfile.exists() or proc.poll() is not None,
            what="the child to start its grandchild",
        )
        assert proc.poll() is None, proc.communicate()
        child, grandchild = (int(pid) for pid in pidfile.read_text().split())
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=DEADLINE)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0
    assert "KeyboardInterrupt" in stderr
    assert stdout == "error cancelled\n"
    assert process_state(child) is None  # reaped by cuprum before the interpreter exited
    assert_dead(grandchild)
