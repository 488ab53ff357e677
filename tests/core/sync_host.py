"""A host program for the ``run_sync`` signal and threading tests (run as a script).

``python sync_host.py SCENARIO BACKEND WORKDIR ARG`` runs one scenario and prints
one JSON line saying how ``run_sync`` ended. Signals are real ones, sent by the
test or by the host to itself; children say they are ready through files in
WORKDIR. Every wait here is for a condition, with a deadline.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import json
import os
import signal
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/, for processes.py

from processes import group_members, process_state

from cuprum import (
    TRUE,
    ConcurrentConfig,
    ExecutionContext,
    Program,
    ProgramCatalogue,
    ProjectSettings,
    after,
    run_concurrent_sync,
    sh,
)

DEADLINE = 10.0
SH = Program("sh")
CATALOGUE = ProgramCatalogue(projects=(ProjectSettings(name="sync-host", programs=(SH,)),))

# Ignores SIGTERM (so does its grandchild), says "ready" by a pid file naming both,
# notes each SIGTERM in a file of its own, and waits until SIGKILLed.
STUBBORN = (
    "trap '' TERM; sleep 300 & trap 'echo term >> \"$1/term.$$\"' TERM; "
    'echo "$$ $!" > "$1/tmp.$$"; mv "$1/tmp.$$" "$1/pids.$$"; '
    "while :; do wait; done"
)
# Says "ready" by a pid file, then exits 0 once the file "go" appears.
WAITS_FOR_GO = (
    'echo "$$" > "$1/tmp.$$"; mv "$1/tmp.$$" "$1/pids.$$"; '
    'while [ ! -e "$1/go" ]; do sleep 0.01; done'
)


def wait_for(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.001)


def report(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


def leaders(workdir: Path) -> list[int]:
    return sorted(int(p.read_text().split()[0]) for p in workdir.glob("pids.*"))


def interrupt(times: int) -> None:
    """Ctrl+C to this process, ``times`` times, each noted by run_sync before the next.

    Pending signals of one kind merge: a second SIGINT sent before the first was
    handled would be lost. Reads run_sync's handler's count (white-box) to know.
    """
    handler: Any = signal.getsignal(signal.SIGINT)
    for sent in range(1, times + 1):
        os.kill(os.getpid(), signal.SIGINT)

        def noted(sent: int = sent) -> bool:
            return bool(handler.__self__.count >= sent)

        wait_for(noted, f"Ctrl+C {sent} to be noted")


def grace(backend: Any, workdir: Path, arg: str) -> None:
    """Ctrl+C while children ignore SIGTERM. ``arg`` is ``SHAPE:WHEN``: ``test`` (the
    test sends them), ``at_start`` (both before any teardown began), ``in_grace``
    (both once every child had its SIGTERM)."""
    shape, when = arg.split(":")
    count = 1 if shape in ("command", "timeout") else 3
    cmd = sh.make(SH, catalogue=CATALOGUE)("-c", STUBBORN, "sh", str(workdir))
    ctx = ExecutionContext(cancel_grace=60.0)  # longer than any test waits
    starts: list[int] = []

    def on_start(event: Any) -> None:
        if event.phase == "start" and when == "at_start":
            starts.append(event.pid)
            if len(starts) == count:  # all started: wait until they are ready
                wait_for(lambda: len(leaders(workdir)) == count, "the children")
                interrupt(2)

    def in_grace() -> None:
        wait_for(lambda: len(list(workdir.glob("term.*"))) == count, "SIGTERM for all")
        interrupt(2)

    if when == "in_grace":
        threading.Thread(target=in_grace, daemon=True).start()
    try:
        with sh.observe(on_start):
            if shape in ("command", "timeout"):
                timeout = 2.0 if shape == "timeout" else None  # then its teardown is under way
                cmd.run_sync(context=ctx, backend=backend, timeout=timeout)
            elif shape == "pipeline":
                (cmd | cmd | cmd).run_sync(context=ctx, backend=backend)
            else:
                config = ConcurrentConfig(context=ctx)
                run_concurrent_sync(cmd, cmd, cmd, config=config, backend=backend)
    except KeyboardInterrupt as exc:
        # run_sync may only raise once the teardown is over: every leader reaped.
        states = [process_state(pid) for pid in leaders(workdir)]
        deadline = time.monotonic() + DEADLINE / 2  # within the test's own deadline
        while group_members(leaders(workdir)) and time.monotonic() < deadline:
            time.sleep(0.005)  # SIGKILL delivery to the grandchildren is asynchronous
        left = group_members(leaders(workdir))
        context = None if exc.__suppress_context__ else exc.__context__
        report(
            outcome="KeyboardInterrupt",
            leader_states=states,
            group_members=left,
            context=type(context).__name__ if context is not None else None,
        )
    else:
        report(outcome="returned")


def tail(backend: Any, workdir: Path, where: str) -> None:
    """Ctrl+C (sent to itself) from a hook that runs after the run's last await."""
    pids: list[int] = []

    def interrupt_and_wait(pid: int | None) -> None:
        assert pid is not None
        pids.append(pid)
        noted = threading.Event()
        handler = signal.getsignal(signal.SIGINT)
        assert callable(handler), handler

        def spy(signum: int, frame: Any) -> None:
            handler(signum, frame)
            noted.set()

        signal.signal(signal.SIGINT, spy)
        try:
            os.kill(os.getpid(), signal.SIGINT)
            wait_for(noted.is_set, "the Ctrl+C to be noted")
        finally:
            signal.signal(signal.SIGINT, handler)

    def observer(event: Any) -> None:
        if event.phase == "exit":
            interrupt_and_wait(event.pid)

    cmd = sh.make(SH, catalogue=CATALOGUE)("-c", "echo out")
    try:
        if where == "after_hook":
            with after(lambda _cmd, result: interrupt_and_wait(result.pid)):
                result = cmd.run_sync(backend=backend)
        else:
            with sh.observe(observer):
                result = cmd.run_sync(backend=backend)
    except KeyboardInterrupt:
        report(outcome="KeyboardInterrupt", child_states=[process_state(p) for p in pids])
    else:
        report(outcome="returned", stdout=result.stdout)


def own_handler(backend: Any, workdir: Path, kind: str) -> None:
    """The host's own SIGINT disposition stays in force during run_sync."""
    calls: list[int] = []

    def mine(signum: int, frame: Any) -> None:
        calls.append(signum)
        (workdir / "go").touch()

    disposition = mine if kind == "handler" else signal.SIG_IGN
    signal.signal(signal.SIGINT, disposition)
    cmd = sh.make(SH, catalogue=CATALOGUE)("-c", WAITS_FOR_GO, "sh", str(workdir))
    try:
        result = cmd.run_sync(backend=backend, timeout=DEADLINE)
    except KeyboardInterrupt:
        report(outcome="KeyboardInterrupt")
    else:
        kept = signal.getsignal(signal.SIGINT) is disposition
        report(outcome="returned", exit_code=result.exit_code, calls=len(calls), kept=kept)


class HoldTrioImport(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Holds the first import of trio half done, in the thread named ``importer``.

    It is held while ``trio._core`` executes (trio itself is then in ``sys.modules``,
    partially initialised), not while finders run: those hold the global import lock.
    """

    def __init__(self) -> None:
        self.held = threading.Event()
        self.release = threading.Event()
        self.loader: Any = None

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != "trio._core" or threading.current_thread().name != "importer":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        assert spec is not None
        self.loader, spec.loader = spec.loader, self
        return spec

    def create_module(self, spec: Any) -> Any:
        return self.loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self.held.set()
        self.release.wait(DEADLINE)
        self.loader.exec_module(module)


def blocked_on_import(thread: threading.Thread) -> bool:
    """``thread`` waits for another thread's import to finish (importlib's module lock)."""
    frame = sys._current_frames().get(thread.ident or -1)
    while frame is not None:
        code = frame.f_code
        if code.co_name == "acquire" and "importlib._bootstrap" in code.co_filename:
            return True
        frame = frame.f_back
    return False


def trio_import(backend: Any, workdir: Path, threads: str) -> None:
    """run_sync in several threads while another thread is importing trio."""
    assert "trio" not in sys.modules
    sh.make(TRUE)().run_sync()  # everything but trio imported: the threads import only trio
    hold = HoldTrioImport()
    sys.meta_path.insert(0, hold)
    importer = threading.Thread(target=lambda: __import__("trio"), name="importer")
    importer.start()
    wait_for(hold.held.is_set, "trio's import to be under way")
    outcomes: dict[str, object] = {}

    def call(name: str) -> None:
        try:
            outcomes[name] = sh.make(TRUE)().run_sync(backend=backend).exit_code
        except BaseException as exc:
            outcomes[name] = f"{type(exc).__name__}: {exc}"

    runners = [threading.Thread(target=call, args=(f"t{i}",)) for i in range(int(threads))]
    for runner in runners:
        runner.start()
    if backend == "trio":  # they need trio itself: they may only wait for its import
        wait_for(
            lambda: all(not r.is_alive() or blocked_on_import(r) for r in runners),
            "the threads to finish or wait for trio's import",
        )
    else:  # they must not need it: they finish while it is held
        call("main")
        for runner in runners:
            runner.join(DEADLINE)
    during = dict(outcomes)
    hold.release.set()
    importer.join(DEADLINE)
    for runner in runners:
        runner.join(DEADLINE)
    report(during=during, after=outcomes)


# Says "ready" by a pid file, then waits until it is killed.
READY_THEN_WAIT = 'echo "$$" > "$1/tmp.$$"; mv "$1/tmp.$$" "$1/pids.$$"; exec sleep 300'
# The innermost frame of the main thread blocked in a loop's wait: asyncio's
# selector, trio's I/O manager.
WAIT_FRAMES = {"select", "get_events"}


def main_thread_waits() -> bool:
    frame = sys._current_frames().get(threading.main_thread().ident or -1)
    return frame is not None and frame.f_code.co_name in WAIT_FRAMES


def busy_workers(count: int, stop: threading.Event, backend: str) -> list[threading.Thread]:
    """``count`` threads running Python code until ``stop``: the kernel may give a
    signal for the process to any of them, where Python's handler cannot run.

    The event loop's modules are imported first: against three spinning threads the
    main thread holds the GIL a quarter of the time, and importing trio then took
    seconds of the test's time."""
    importlib.import_module(f"anyio._backends._{backend}")

    def spin() -> None:
        while not stop.is_set():
            sum(range(1000))

    workers = [threading.Thread(target=spin, daemon=True) for _ in range(count)]
    for worker in workers:
        worker.start()
    return workers


async def _data() -> AsyncIterator[bytes]:
    yield b"data"


def worker_sigint(backend: Any, workdir: Path, arg: str) -> None:
    """Ctrl+C to a loop run in the main thread, received by a worker thread. ``arg`` is
    ``SHAPE:TO``: a ``pipeline`` or a command with an ``iterable`` stdin (both on a loop);
    ``TO`` is ``process`` (the test signals the process once ``waiting.main`` says
    the main thread waits) or ``worker`` (sent here to a busy worker thread)."""
    shape, to = arg.split(":")
    stop = threading.Event()
    workers = busy_workers(3, stop, backend)
    cmd = sh.make(SH, catalogue=CATALOGUE)("-c", READY_THEN_WAIT, "sh", str(workdir))
    count = 2 if shape == "pipeline" else 1

    def signal_when_waiting() -> None:
        wait_for(lambda: len(leaders(workdir)) == count, "the children")
        wait_for(main_thread_waits, "the main thread to wait for the run")
        if to == "worker":
            signal.pthread_kill(workers[0].ident or 0, signal.SIGINT)
        else:
            (workdir / "waiting.main").touch()

    threading.Thread(target=signal_when_waiting, daemon=True).start()
    timeout = 6 * DEADLINE  # longer than the test waits: only Ctrl+C ends it in time
    try:
        if shape == "pipeline":
            (cmd | cmd).run_sync(backend=backend, timeout=timeout)
        else:
            cmd.run_sync(backend=backend, timeout=timeout, stdin=_data())
    except KeyboardInterrupt as exc:
        context = None if exc.__suppress_context__ else exc.__context__
        states = [process_state(pid) for pid in leaders(workdir)]
        report(
            outcome="KeyboardInterrupt",
            context=None if context is None else type(context).__name__,
            leader_states=states,
        )
    except BaseException as exc:  # reported
        report(outcome=type(exc).__name__)
    else:
        report(outcome="returned")
    finally:
        stop.set()


def own_wakeup_fd(backend: Any, workdir: Path, arg: str) -> None:
    """The host's own wake-up fd, and a Ctrl+C a worker thread receives during a
    pipeline's run: what the host's pipe got, and whether its fd is in force after."""
    read, write = os.pipe2(os.O_NONBLOCK)
    signal.set_wakeup_fd(write)
    stop = threading.Event()
    workers = busy_workers(3, stop, backend)
    cmd = sh.make(SH, catalogue=CATALOGUE)("-c", READY_THEN_WAIT, "sh", str(workdir))

    def signal_when_waiting() -> None:
        wait_for(lambda: len(leaders(workdir)) == 2, "the children")
        wait_for(main_thread_waits, "the main thread to wait for the run")
        signal.pthread_kill(workers[0].ident or 0, signal.SIGINT)

    threading.Thread(target=signal_when_waiting, daemon=True).start()
    try:
        (cmd | cmd).run_sync(backend=backend, timeout=6 * DEADLINE)
    except BaseException as exc:  # reported
        outcome = type(exc).__name__
    else:
        outcome = "returned"
    stop.set()
    in_force = signal.set_wakeup_fd(-1) == write
    try:
        got = list(os.read(read, 512))
    except BlockingIOError:
        got = []
    states = [process_state(pid) for pid in leaders(workdir)]
    report(outcome=outcome, leader_states=states, in_force=in_force, got=got)


SCENARIOS = {
    "own_wakeup_fd": own_wakeup_fd,
    "grace": grace,
    "tail": tail,
    "own_handler": own_handler,
    "trio_import": trio_import,
    "worker_sigint": worker_sigint,
}

if __name__ == "__main__":
    scenario, backend, workdir, arg = sys.argv[1:5]
    SCENARIOS[scenario](backend, Path(workdir), arg)
