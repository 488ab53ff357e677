"""The loop path of ``run_sync()`` (a pipeline, on asyncio and on trio) under host faults.

The direct path's tests of the same families are in ``test_direct_faults.py``. Each
scenario runs in a fresh interpreter (:data:`PRELUDE` plus the scenario), which
prints one JSON report; its stderr must stay empty (no "Exception ignored", no
warning from trio about an abandoned run).
"""

from __future__ import annotations

import functools
import json
import os
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from core_support import (
    DEADLINE,
    HOST_FD_HELPERS,
    HOST_FORK_HELPERS,
    host_program,
    is_dead,
    wait_until,
)

BACKENDS = ["asyncio", "trio"]

# A catalogue with sh, the backend under test (argv[2]), fds(), report() and a
# recorder of the started pids (also written to pids.* files for the cleanup).
PRELUDE = textwrap.dedent(
    """
    import json, os, signal, sys, threading, time, warnings
    from cuprum import Program, ProgramCatalogue, ProjectSettings, sh

    # Python 3.12+ warns about fork() in a threaded process: these hosts fork on purpose.
    warnings.filterwarnings("ignore", "This process .* is multi-threaded", DeprecationWarning)

    SH = Program("sh")
    CATALOGUE = ProgramCatalogue(projects=(ProjectSettings(name="h", programs=(SH,)),))
    WORKDIR, BACKEND = sys.argv[1], sys.argv[2]
    STRATEGIES = ["direct", "python"] + (["rust"] if sys.argv[3] == "rust" else [])
    PIDS = []

    def shell(script, *args):
        return sh.make(SH, catalogue=CATALOGUE)("-c", script, "sh", *args)

    def fds():
        return sorted(os.listdir("/proc/self/fd"), key=int)

    def on_event(event):
        if event.phase == "start":
            with open(os.path.join(WORKDIR, f"pids.{event.pid}"), "w") as f:
                f.write(str(event.pid))
            PIDS.append(event.pid)

    def main_thread_waits():  # in the loop's wait: asyncio's selector, trio's I/O manager
        frame = sys._current_frames().get(threading.main_thread().ident)
        return frame is not None and frame.f_code.co_name in ("select", "get_events")

    def report(**fields):
        os.write(1, (json.dumps(fields) + "\\n").encode())
    """
)


def _native() -> str:
    """``rust`` when the native stream strategy is there to test, else ``none``."""
    from cuprum._transport.native import is_available

    return "rust" if is_available() else "none"


def host(scenario: str, backend: str, workdir: Path) -> dict[str, Any]:
    """Run ``scenario`` in a fresh interpreter on ``backend``; its report (stderr empty)."""
    script = workdir / "host.py"
    script.write_text(PRELUDE + HOST_FORK_HELPERS + HOST_FD_HELPERS + textwrap.dedent(scenario))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    argv = [sys.executable, str(script), str(workdir), backend, _native()]
    with host_program(argv, workdir, env) as proc:
        stdout, stderr = proc.communicate(timeout=DEADLINE)
    lines = stdout.splitlines()
    assert lines, stderr
    assert stderr == ""
    found: dict[str, Any] = json.loads(lines[-1])
    return found


# -- a host's signal handler that raises while the run waits ---------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_host_handler_that_raises_tears_the_pipeline_down(backend: str, tmp_path: Path) -> None:
    """Regression: a SIGTERM handler that raised (``sys.exit()``, or an exception of its
    own) while the main thread waited in a pipeline's ``run_sync()`` left both stages
    running and the run's pipes, pidfds and epoll fd open (trio also warned that its
    run was abandoned). Now the run is torn down as a cancellation is (every stage
    killed and reaped, every fd closed) before the handler's exception, the same one,
    leaves ``run_sync()``; SIGINT and SIGTERM keep their handlers, and the next run
    works. On every stream strategy."""
    found = host(
        """
        class Stop(Exception):
            pass

        def on_term(signum, frame):
            if KIND == "exit":
                sys.exit(7)
            raise Stop("stopped")

        def terminate_once_running():
            deadline = time.monotonic() + 10
            while len(PIDS) < 2:
                assert time.monotonic() < deadline, "the stages never started"
                time.sleep(0.001)
            os.kill(os.getpid(), signal.SIGTERM)

        signal.signal(signal.SIGTERM, on_term)
        (shell("true") | shell("cat")).run_sync(backend=BACKEND)  # what is made once
        base = fds()
        seen = []
        for strategy in STRATEGIES:
            os.environ["CUPRUM_STREAM_BACKEND"] = strategy
            for KIND in ("exit", "own"):
                PIDS.clear()
                thread = threading.Thread(target=terminate_once_running)
                with sh.observe(on_event):
                    thread.start()
                    try:
                        (shell("exec sleep 30") | shell("cat")).run_sync(backend=BACKEND)
                        raised = None
                    except SystemExit as exc:
                        raised = ["SystemExit", exc.code]
                    except Stop as exc:
                        raised = ["Stop", str(exc)]
                    thread.join()
                seen.append({
                    "raised": raised,
                    "unreaped": [pid for pid in PIDS if os.path.exists(f"/proc/{pid}")],
                    "leaked": fds() != base,
                    "handlers": [
                        signal.getsignal(signal.SIGTERM) is on_term,
                        signal.getsignal(signal.SIGINT) is signal.default_int_handler,
                    ],
                    "next": (shell("echo next") | shell("cat")).run_sync(backend=BACKEND).stdout,
                })
        report(seen=seen, pids=PIDS)
        """,
        backend,
        tmp_path,
    )
    expected = {"unreaped": [], "leaked": False, "handlers": [True, True], "next": "next\n"}
    assert [run.pop("raised") for run in found["seen"]] == [
        ["SystemExit", 7],
        ["Stop", "stopped"],
    ] * (len(found["seen"]) // 2)
    assert found["seen"] == [expected] * len(found["seen"])
    for pid in found["pids"]:
        wait_until(functools.partial(is_dead, pid), what=f"pid {pid} to die")


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_second_raise_cuts_the_grace_short(backend: str, tmp_path: Path) -> None:
    """A stage that ignores SIGTERM: the handler's first raise starts the teardown's
    grace period (an hour here); a second raise ends it at once (SIGKILL), as a
    second Ctrl+C does, and the first exception is the one raised."""
    found = host(
        """
        from cuprum import ExecutionContext

        count = []

        def gone(pid):
            try:
                with open(f"/proc/{pid}/stat") as f:
                    return f.read().rsplit(")", 1)[1].split()[0] == "Z"
            except OSError:
                return True

        def on_term(signum, frame):
            count.append(1)
            sys.exit(len(count))

        def terminate_twice():
            deadline = time.monotonic() + 10
            while not os.path.exists(os.path.join(WORKDIR, "ready")):
                assert time.monotonic() < deadline, "the stage never got ready"
                time.sleep(0.001)
            os.kill(os.getpid(), signal.SIGTERM)
            while len(PIDS) < 2 or not gone(PIDS[1]):  # cat: the teardown's SIGTERM
                assert time.monotonic() < deadline, "the teardown never began"
                time.sleep(0.001)
            os.kill(os.getpid(), signal.SIGTERM)

        signal.signal(signal.SIGTERM, on_term)
        ready = os.path.join(WORKDIR, "ready")
        thread = threading.Thread(target=terminate_twice)
        with sh.observe(on_event):
            thread.start()
            try:
                (
                    shell("trap '' TERM; : > \\"$1\\"; sleep 300", ready) | shell("cat")
                ).run_sync(backend=BACKEND, context=ExecutionContext(cancel_grace=3600))
                raised = None
            except SystemExit as exc:
                raised = exc.code
            thread.join()
        report(
            raised=raised,
            count=len(count),
            unreaped=[pid for pid in PIDS if os.path.exists(f"/proc/{pid}")],
        )
        """,
        backend,
        tmp_path,
    )
    assert found == {"raised": 1, "count": 2, "unreaped": []}


# -- out of file descriptors before the loop starts ------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_out_of_fds_before_the_loop_starts_is_a_spawn_error(backend: str, tmp_path: Path) -> None:
    """Regression: with too few fds left for the event loop itself (its epoll fd and
    self-pipe), trio raised a bare ``OSError`` naming no program, and asyncio also
    printed "Exception ignored ... '_ThreadLoop' object has no attribute 'loop'". Now
    each run raises ``SpawnError`` (EMFILE) naming the first program or runs; no fd
    is left open, nothing is printed, and the next run (fds back) works."""
    found = host(
        """
        import errno
        from cuprum import SpawnError
        from cuprum._runtime import sync

        pipeline = shell("echo in; echo e >&2") | shell("cat")
        pipeline.run_sync(backend=BACKEND)  # the shared /dev/null and wake-up pipe
        seen = []
        sync._close_main_loop()  # asyncio: a new loop for each call
        base = fds()
        import resource  # a low limit: quick to fill
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (int(base[-1]) + 64, hard))
        for free in range(20):
            filler = fill_fds_but(free)
            try:
                got = pipeline.run_sync(backend=BACKEND).stdout
            except SpawnError as exc:
                got = [exc.errno == errno.EMFILE, str(exc).startswith("[Errno 24] sh: ")]
            except OSError as exc:
                got = repr(exc)
            for fd in filler:
                os.close(fd)
            sync._close_main_loop()  # the loop is kept for the thread's next calls
            seen.append([got, fds() != base])
        report(seen=seen, next=pipeline.run_sync(backend=BACKEND).stdout)
        """,
        backend,
        tmp_path,
    )
    assert found["next"] == "in\n"
    runs = {str(got) for got, _ in found["seen"]}
    assert runs == {"[True, True]", "in\n"}, found["seen"]
    assert not any(leaked for _, leaked in found["seen"]), found["seen"]


def test_a_handler_installed_during_the_call_that_raises(tmp_path: Path) -> None:
    """A handler the run's own code installs (here a before hook, after the call took
    the host's in hand) raises into the asyncio loop itself: the run's task is
    cancelled and run to the end of its teardown before the exception goes on."""
    found = host(
        """
        from cuprum import before

        class Stop(Exception):
            pass

        def on_term(signum, frame):
            raise Stop("late")

        def install(cmd):
            signal.signal(signal.SIGTERM, on_term)

        def terminate_once_running():  # in the loop's wait (a hook would get it, else)
            deadline = time.monotonic() + 10
            while len(PIDS) < 2 or not main_thread_waits():
                assert time.monotonic() < deadline, "the stages never started"
                time.sleep(0.001)
            os.kill(os.getpid(), signal.SIGTERM)

        (shell("true") | shell("cat")).run_sync()
        base = fds()
        thread = threading.Thread(target=terminate_once_running)
        with sh.observe(on_event), before(install):
            thread.start()
            try:
                (shell("exec sleep 30") | shell("cat")).run_sync()
                raised = None
            except Stop as exc:
                raised = str(exc)
            thread.join()
        report(
            raised=raised,
            unreaped=[pid for pid in PIDS if os.path.exists(f"/proc/{pid}")],
            leaked=fds() != base,
            next=(shell("echo next") | shell("cat")).run_sync().stdout,
        )
        """,
        "asyncio",
        tmp_path,
    )
    assert found == {"raised": "late", "unreaped": [], "leaked": False, "next": "next\n"}


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_child_forked_during_the_call_has_the_hosts_handlers(
    backend: str, tmp_path: Path
) -> None:
    """A process forked (from another thread) while the main thread is in a loop-path
    ``run_sync()`` has the host's own handlers back, not the call's, which would hold
    what they raise for a run the child does not have."""
    found = host(
        """
        done = os.path.join(WORKDIR, "done")
        r, w = os.pipe()

        def on_term(signum, frame):
            sys.exit(3)

        def in_child():
            seen = {"handler": signal.getsignal(signal.SIGTERM) is on_term}
            try:
                signal.raise_signal(signal.SIGTERM)
                seen["raised"] = None
            except SystemExit as exc:
                seen["raised"] = exc.code
            os.write(w, json.dumps(seen).encode())

        signal.signal(signal.SIGTERM, on_term)

        def started():
            return len(PIDS) >= 2

        thread = threading.Thread(target=fork_during_the_run, args=(started, in_child, done))
        with sh.observe(on_event):
            thread.start()
            wait = shell('while [ ! -e "$1" ]; do sleep 0.01; done', done)
            (wait | shell("cat")).run_sync(backend=BACKEND, timeout=10)
            thread.join()
        os.close(w)
        report(**json.loads(os.read(r, 4096)))
        """,
        backend,
        tmp_path,
    )
    assert found == {"handler": True, "raised": 3}
