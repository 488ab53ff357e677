"""``run_sync`` and Ctrl+C, the host's own SIGINT handler, and trio's first import.

Each test runs a real host program (``sync_host.py``) in a fresh interpreter and
signals it with ``os.kill``; the children say when they are ready through files.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from core_support import host_program, host_report, shell, wait_until
from processes import group_members

from cuprum import before
from cuprum._runtime.sigint import owns_ctrl_c

BACKENDS = ["asyncio", "trio"]
HOST = Path(__file__).with_name("sync_host.py")


def host(scenario: str, backend: str, workdir: Path, arg: str) -> Any:
    """The host program running ``scenario``; killed (with its children) if left running."""
    return host_program([sys.executable, str(HOST), scenario, backend, str(workdir), arg], workdir)


outcome = host_report


def ready(workdir: Path, count: int, proc: subprocess.Popen[str], name: str = "pids") -> None:
    wait_until(
        lambda: len(list(workdir.glob(f"{name}.*"))) >= count or proc.poll() is not None,
        what=f"{count} {name} files",
    )
    assert proc.poll() is None, proc.communicate()


# -- a second Ctrl+C during the grace period -------------------------------------------

SHAPES = {"command": 1, "pipeline": 3, "concurrent": 3}


def run_to_the_end(proc: subprocess.Popen[str], pgids: list[int], count: int) -> dict[str, Any]:
    """The host's report, once it says KeyboardInterrupt came after every group died."""
    report = outcome(proc)
    assert report["outcome"] == "KeyboardInterrupt"
    assert report["leader_states"] == [None] * count  # reaped before run_sync raised
    assert report["group_members"] == []
    assert group_members(pgids) == []
    return report


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_second_ctrl_c_cuts_the_grace_short_and_kills_every_group(
    backend: str, shape: str, tmp_path: Path
) -> None:
    """Regression (asyncio): the second Ctrl+C raised KeyboardInterrupt at once, out of
    the middle of the teardown, leaving the children (which ignore SIGTERM) alive.
    Now it ends every grace period (60 s here) with SIGKILL, and run_sync raises
    once every process is reaped."""
    count = SHAPES[shape]
    with host("grace", backend, tmp_path, f"{shape}:test") as proc:
        ready(tmp_path, count, proc)
        pgids = [int(p.read_text().split()[0]) for p in tmp_path.glob("pids.*")]
        proc.send_signal(signal.SIGINT)
        ready(tmp_path, count, proc, name="term")  # every stage is in its grace period
        proc.send_signal(signal.SIGINT)
        report = run_to_the_end(proc, pgids, count)
    assert report["context"] is None  # the run was cancelled: nothing else to tell


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_second_ctrl_c_before_the_teardown_began_still_cuts_its_grace_short(
    backend: str, shape: str, tmp_path: Path
) -> None:
    """Both Ctrl+C are handled before the first has cancelled anything: the grace
    periods that begin afterwards are cut short too."""
    count = SHAPES[shape]
    with host("grace", backend, tmp_path, f"{shape}:at_start") as proc:
        ready(tmp_path, count, proc)
        pgids = [int(p.read_text().split()[0]) for p in tmp_path.glob("pids.*")]
        report = run_to_the_end(proc, pgids, count)
    assert report["context"] is None


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_teardown_under_way_is_not_cut_short_by_the_first_ctrl_c(
    backend: str, tmp_path: Path
) -> None:
    """A timeout's teardown is shielded from the first Ctrl+C (on asyncio it used to be
    broken off with a CancelledError); the second cuts its grace short, and the
    KeyboardInterrupt carries the TimeoutExpired the run ended with."""
    with host("grace", backend, tmp_path, "timeout:in_grace") as proc:
        ready(tmp_path, 1, proc)
        pgids = [int(p.read_text().split()[0]) for p in tmp_path.glob("pids.*")]
        report = run_to_the_end(proc, pgids, 1)
    assert report["context"] == "TimeoutExpired"


# -- a Ctrl+C after the run's last await -----------------------------------------------


@pytest.mark.parametrize("where", ["after_hook", "exit_event"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_ctrl_c_during_the_runs_last_steps_is_not_lost(
    backend: str, where: str, tmp_path: Path
) -> None:
    """Regression (asyncio): a Ctrl+C landing while after hooks (or the exit events,
    or result decoding) ran was dropped and run_sync returned normally."""
    with host("tail", backend, tmp_path, where) as proc:
        report = outcome(proc)
    assert report == {"outcome": "KeyboardInterrupt", "child_states": [None]}


# -- the host's own SIGINT disposition -------------------------------------------------


@pytest.mark.parametrize("kind", ["handler", "ignored"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_hosts_own_sigint_disposition_is_left_in_force(
    backend: str, kind: str, tmp_path: Path
) -> None:
    with host("own_handler", backend, tmp_path, kind) as proc:
        ready(tmp_path, 1, proc)
        proc.send_signal(signal.SIGINT)
        if kind == "ignored":  # discarded on delivery: nothing else will end the child
            (tmp_path / "go").touch()
        report = outcome(proc)
    calls = 1 if kind == "handler" else 0
    assert report == {"outcome": "returned", "exit_code": 0, "calls": calls, "kept": True}


# -- trio imported for the first time by another thread --------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_run_sync_while_another_thread_first_imports_trio(backend: str, tmp_path: Path) -> None:
    """Regression: run_sync probed the half-imported trio module and raised
    ``AttributeError: partially initialized module 'trio'`` in every such thread.
    On asyncio they now finish while the import is held; on trio they wait for it."""
    with host("trio_import", backend, tmp_path, "3") as proc:
        report = outcome(proc)
    finished = {"t0": 0, "t1": 0, "t2": 0}
    if backend == "asyncio":
        assert report == {"during": {**finished, "main": 0}, "after": {**finished, "main": 0}}
    else:
        assert report == {"during": {}, "after": finished}


# -- Ctrl+C received by another thread -------------------------------------------------


@pytest.mark.parametrize("to", ["worker", "process"])
@pytest.mark.parametrize("shape", ["pipeline", "iterable"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_ctrl_c_another_thread_receives_still_cancels_the_loops_run(
    backend: str, shape: str, to: str, tmp_path: Path
) -> None:
    """Regression (asyncio): a SIGINT the kernel gave to a worker thread left the main
    thread's loop asleep until the run's timeout (a minute here), as Python's handler
    runs only in the main thread, once it is awake. Now the wake-up fd wakes the loop:
    the run is cancelled, every child reaped, and KeyboardInterrupt raised."""
    with host("worker_sigint", backend, tmp_path, f"{shape}:{to}") as proc:
        count = 2 if shape == "pipeline" else 1
        if to == "process":
            ready(tmp_path, 1, proc, name="waiting")
            proc.send_signal(signal.SIGINT)
        report = outcome(proc)
    assert report == {
        "outcome": "KeyboardInterrupt",
        "context": None,
        "leader_states": [None] * count,
    }


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_hosts_own_wakeup_fd_is_left_in_force(backend: str, tmp_path: Path) -> None:
    """The host's wake-up fd stays its own on asyncio (it gets the SIGINT's byte; the
    loop wakes every 50 ms instead, so a Ctrl+C a worker thread receives still
    cancels the run). trio sets its own for each ``trio.run`` (with a RuntimeWarning),
    and puts the host's back afterwards."""
    with host("own_wakeup_fd", backend, tmp_path, "") as proc:
        report = outcome(proc)
    got = [signal.SIGINT] if backend == "asyncio" else []
    assert report == {
        "outcome": "KeyboardInterrupt",
        "leader_states": [None, None],
        "in_force": True,
        "got": got,
    }


def test_a_wakeup_fd_set_during_the_call_is_left_in_force() -> None:
    """asyncio's own signal handling (``add_signal_handler``, here from a before hook
    of a pipeline, which runs on the loop) sets a wake-up fd of its own: it stays."""
    assert owns_ctrl_c()  # else the run would not touch the wake-up fd at all
    loops: list[asyncio.AbstractEventLoop] = []

    def install(cmd: object) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGUSR1, lambda: None)
        loops.append(loop)

    try:
        with before(install):
            result = (shell("echo a") | shell("cat")).run_sync()
        assert result.stdout == "a\n"
        kept = signal.set_wakeup_fd(-1)
        signal.set_wakeup_fd(kept)  # asyncio's, for remove_signal_handler to take back
        assert kept != -1
    finally:
        for loop in loops:
            loop.remove_signal_handler(signal.SIGUSR1)
