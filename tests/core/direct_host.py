"""A host program for the adversarial Ctrl+C tests of ``run_sync`` (run as a script).

``python direct_host.py SCENARIO BACKEND WORKDIR`` runs one scenario and prints one
JSON line saying how ``run_sync`` ended. ``BACKEND`` is ``direct`` (the default
``run_sync()``, which runs one command without an event loop), ``trio``
(``run_sync(backend="trio")``) or ``asyncio`` (the same call on the asyncio loop),
so the test can compare the paths. Signals are real ones, sent by the host to
itself or by its child; children say they are ready through files in WORKDIR.
Every wait here is for a condition, with a deadline.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/, for processes.py

from processes import process_state

from cuprum import (
    ExecEvent,
    ExecutionContext,
    Program,
    ProgramCatalogue,
    ProjectSettings,
    SafeCmd,
    before,
    sh,
)
from cuprum._runtime.shutdown import shutdown_on_signals
from cuprum._runtime.sync import run_sync as loop_run_sync

DEADLINE = 10.0
SH = Program("sh")
CATALOGUE = ProgramCatalogue(projects=(ProjectSettings(name="direct-host", programs=(SH,)),))
# Says "ready" by a pid file, then waits until it is killed.
READY_THEN_WAIT = 'echo "$$" > "$1/tmp.$$"; mv "$1/tmp.$$" "$1/pids.$$"; exec sleep 300'
# The innermost frame of a thread blocked in a run's wait: the direct path's
# (OutputReader.wait; _Waits.grace in a teardown), asyncio's selector, trio's I/O manager.
WAIT_FRAMES = {"wait", "grace", "select", "get_events"}


def wait_for(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.001)


def report(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


def pids(workdir: Path) -> list[int]:
    return sorted(int(p.read_text().split()[0]) for p in workdir.glob("pids.*"))


def shell(script: str, workdir: Path) -> SafeCmd:
    return sh.make(SH, catalogue=CATALOGUE)("-c", script, "sh", str(workdir))


def run(cmd: SafeCmd, backend: str, **options: Any) -> Any:
    """``cmd.run_sync()`` on the path ``backend`` names."""
    if backend == "direct":
        return cmd.run_sync(**options)
    if backend == "trio":
        return cmd.run_sync(backend="trio", **options)
    return loop_run_sync(lambda: cmd.run(**options))


def ctrl_c_noted() -> None:
    """Ctrl+C to this process, returning once run_sync's handler has counted it
    (white-box: the handler is a bound method with a ``count``)."""
    handler: Any = signal.getsignal(signal.SIGINT)
    counted = handler.__self__.count
    os.kill(os.getpid(), signal.SIGINT)
    wait_for(lambda: handler.__self__.count > counted, "the Ctrl+C to be noted")


def once_waiting(workdir: Path, then: Callable[[], object]) -> None:
    """In a thread: once the child is ready and the main thread blocks in the run's
    wait, call ``then`` (which signals the host)."""
    main = threading.main_thread()

    def in_wait() -> bool:
        frame = sys._current_frames().get(main.ident or -1)
        return frame is not None and frame.f_code.co_name in WAIT_FRAMES

    def watch() -> None:
        wait_for(lambda: bool(pids(workdir)), "the child to be ready")
        wait_for(in_wait, "the main thread to wait for the run")
        then()

    threading.Thread(target=watch, daemon=True).start()


def ended(exc: BaseException | None, workdir: Path, **fields: Any) -> None:
    """The report: how run_sync ended, and the child's state then (None: reaped)."""
    context = None if exc is None or exc.__suppress_context__ else exc.__context__
    report(
        outcome="returned" if exc is None else type(exc).__name__,
        context=None if context is None else type(context).__name__,
        child_states=[process_state(pid) for pid in pids(workdir)],
        **fields,
    )


def foreign_handler(backend: str, workdir: Path) -> None:
    """Ctrl+C lands while the host's own SIGUSR1 handler runs, itself called while
    the run waits: that handler must run to its end (nothing is raised into it),
    and the run is cancelled as for any Ctrl+C."""
    finished: list[bool] = []

    def on_usr1(signum: int, frame: object) -> None:
        ctrl_c_noted()  # handled inside this handler, not in the run's wait
        finished.append(True)

    signal.signal(signal.SIGUSR1, on_usr1)
    once_waiting(workdir, lambda: os.kill(os.getpid(), signal.SIGUSR1))
    caught: BaseException | None = None
    try:
        run(shell(READY_THEN_WAIT, workdir), backend, timeout=DEADLINE)
    except BaseException as exc:  # reported
        caught = exc
    ended(caught, workdir, handler_finished=finished == [True])


def shutdown(backend: str, workdir: Path) -> None:
    """SIGTERM to a host inside ``shutdown_on_signals`` while the run waits; the
    child, stopped by the shutdown's teardown, sends Ctrl+C before it exits. The
    teardown must finish, and SIGTERM then end the host (its default action)."""
    script = (
        "trap 'kill -INT $PPID; exit 0' TERM; "
        'echo "$$" > "$1/tmp.$$"; mv "$1/tmp.$$" "$1/pids.$$"; '
        "while :; do sleep 0.01; done"
    )
    once_waiting(workdir, lambda: os.kill(os.getpid(), signal.SIGTERM))
    caught: BaseException | None = None
    with shutdown_on_signals():
        try:
            run(shell(script, workdir), backend, context=ExecutionContext(cancel_grace=DEADLINE))
        except BaseException as exc:  # reported: the host should have died instead
            caught = exc
    ended(caught, workdir)


def from_a_hook(backend: str, workdir: Path) -> None:
    """Ctrl+C from a before hook, and from the ``start`` event's observer."""
    where = os.environ["DIRECT_HOST_WHERE"]
    phases: list[str] = []
    started: list[int] = []

    def observer(event: ExecEvent) -> None:
        phases.append(event.phase if event.error is None else f"{event.phase}:{event.error}")
        if event.phase == "start" and event.pid is not None:
            started.append(event.pid)
            if where == "start_event":
                ctrl_c_noted()

    def before_hook(cmd: object) -> None:
        if where == "before_hook":
            ctrl_c_noted()

    caught: BaseException | None = None
    with sh.observe(observer), before(before_hook):
        try:
            run(shell(READY_THEN_WAIT, workdir), backend, timeout=DEADLINE)
        except BaseException as exc:  # reported
            caught = exc
    # The child may not have written its pid file: the start event's pid instead.
    states = [process_state(pid) for pid in started]
    ended(caught, workdir, phases=phases, started=states)


def handler_from_a_hook(backend: str, workdir: Path) -> None:
    """A before hook installs the host's own SIGINT handler: it is left in force for
    the run (a Ctrl+C is the host's, the run goes on) and after it."""
    calls: list[int] = []

    def mine(signum: int, frame: object) -> None:
        calls.append(signum)
        (workdir / "go").touch()

    def install(cmd: object) -> None:
        signal.signal(signal.SIGINT, mine)

    script = (
        'echo "$$" > "$1/tmp.$$"; mv "$1/tmp.$$" "$1/pids.$$"; '
        'while [ ! -e "$1/go" ]; do sleep 0.01; done; echo done'
    )
    once_waiting(workdir, lambda: os.kill(os.getpid(), signal.SIGINT))
    caught: BaseException | None = None
    result: Any = None
    with before(install):
        try:
            result = run(shell(script, workdir), backend, timeout=DEADLINE)
        except BaseException as exc:  # reported
            caught = exc
    kept = signal.getsignal(signal.SIGINT) is mine
    stdout = None if result is None else result.stdout
    ended(caught, workdir, calls=len(calls), kept=kept, stdout=stdout)


def threads(backend: str, workdir: Path) -> None:
    """Ctrl+C to a run in the main thread while worker threads run commands too: only
    the main thread's run is cancelled."""
    outcomes: list[object] = []

    def work(index: int) -> None:
        try:
            for turn in range(20):
                result = run(sh.make(SH, catalogue=CATALOGUE)("-c", f"echo {turn}"), backend)
                outcomes.append(result.stdout == f"{turn}\n")
        except BaseException as exc:  # reported
            outcomes.append(f"{type(exc).__name__}: {exc}")

    workers = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for worker in workers:
        worker.start()
    once_waiting(workdir, lambda: os.kill(os.getpid(), signal.SIGINT))
    caught: BaseException | None = None
    try:
        run(shell(READY_THEN_WAIT, workdir), backend, timeout=DEADLINE)
    except BaseException as exc:  # reported
        caught = exc
    for worker in workers:
        worker.join(DEADLINE)
    ended(caught, workdir, workers=sorted(set(map(str, outcomes))), runs=len(outcomes))


SCENARIOS = {
    "threads": threads,
    "foreign_handler": foreign_handler,
    "shutdown": shutdown,
    "from_a_hook": from_a_hook,
    "handler_from_a_hook": handler_from_a_hook,
}

if __name__ == "__main__":
    scenario, backend, workdir = sys.argv[1:4]
    SCENARIOS[scenario](backend, Path(workdir))
