"""A host program for the ``run_sync`` signal and threading tests (run as a script).

``python sync_host.py SCENARIO BACKEND WORKDIR ARG`` runs one scenario and prints
one JSON line saying how ``run_sync`` ended. Signals are real ones, sent by the
test or by the host to itself; children say they are ready through files in
WORKDIR. Every wait here is for a condition, with a deadline.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import json
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cuprum import TRUE, sh

DEADLINE = 10.0


def wait_for(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.001)


def report(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


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


SCENARIOS = {"trio_import": trio_import}

if __name__ == "__main__":
    scenario, backend, workdir, arg = sys.argv[1:5]
    SCENARIOS[scenario](backend, Path(workdir), arg)
