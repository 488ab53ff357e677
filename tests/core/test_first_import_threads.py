"""``run_sync()`` from several threads while one of them imports asyncio for the first
time (a pipeline needs the event loop): the others, on the no-loop path, must not
read the half-imported module (an ``AttributeError`` instead of their run or error)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

HOST = """
import sys, threading
from cuprum import CAT, ECHO, TimeoutExpired, sh
assert "asyncio" not in sys.modules
errors = []
barrier = threading.Barrier(8)
def job(i):
    barrier.wait()
    try:
        if i % 2:  # needs the loop: the first of these imports asyncio
            assert (sh.make(ECHO)("x") | sh.make(CAT)()).run_sync().stdout == "x\\n"
            return
        for n in range(40):  # the direct path, ending in a result or in an error
            if n % 2:
                assert sh.make(ECHO)("x").run_sync().stdout == "x\\n"
                continue
            try:
                sh.make(ECHO)("x").run_sync(timeout=0)
            except TimeoutExpired:
                pass
    except BaseException as exc:
        errors.append(repr(exc))
threads = [threading.Thread(target=job, args=(i,)) for i in range(8)]
for t in threads: t.start()
for t in threads: t.join()
print(errors)
sys.exit(1 if errors else 0)
"""


@pytest.mark.parametrize("attempt", range(3))
def test_runs_in_other_threads_survive_the_first_import_of_asyncio(attempt: int) -> None:
    done = subprocess.run(
        [sys.executable, "-c", HOST],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
