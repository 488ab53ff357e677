"""The one shared ``/dev/null`` descriptor, opened on first use, even by many threads at once.

Each test runs a fresh interpreter, which forks a child per try before it uses the
descriptor, so each child's first use really is the first.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from core_support import DEADLINE

ROOT = Path(__file__).resolve().parents[2]
THREADS = 8
TRIES = 20

# In each of TRIES forked children: the /dev/null fds it holds before, and after
# THREADS threads, released by one barrier, each did its first run (or asked for
# the descriptor itself); and how many descriptors (exit codes) they were given.
HOST = """
import json, os, sys, threading
from cuprum import TRUE, Program, ProgramCatalogue, ProgramNotFoundError, ProjectSettings, sh
from cuprum._runtime.child import null_fd

def nulls():
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == os.devnull:
                found.append(fd)
        except OSError:
            pass
    return len(found)

def race(how, count):
    before = nulls()
    barrier = threading.Barrier(count)
    got = []

    def first():
        barrier.wait()
        if how == "run":
            got.append(sh.make(TRUE)().run_sync().exit_code)
        else:
            got.append(null_fd())

    threads = [threading.Thread(target=first) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return nulls() - before, len(set(got))

how, count, tries = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
# A run refused just before its spawn: what a run imports, imported (but resource).
missing = Program("cuprum-test-no-such-program-7f3a")
catalogue = ProgramCatalogue(projects=(ProjectSettings(name="null-fd", programs=(missing,)),))
try:
    sh.make(missing, catalogue=catalogue)().run_sync()
except ProgramNotFoundError:
    import resource
sys.setswitchinterval(1e-6)
found = []
for _ in range(tries):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        os.write(write, json.dumps(race(how, count)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        found.append(json.loads(pipe.read()))
    os.waitpid(pid, 0)
print(json.dumps(found))
"""


@pytest.mark.parametrize("how", ["run", "null_fd"])
def test_threads_first_using_dev_null_at_once_open_it_once(how: str) -> None:
    """Regression: two threads in their first run at the same moment could each open
    /dev/null, and all but one descriptor stayed open for ever."""
    done = subprocess.run(
        [sys.executable, "-c", HOST, how, str(THREADS), str(TRIES)],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.splitlines()[-1])
    # One descriptor opened, and the same one (or exit code 0) for every thread.
    assert found == [[1, 1]] * TRIES
