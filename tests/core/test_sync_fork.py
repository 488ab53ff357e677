"""``run_sync`` after a fork: a forked child never closes the parent's loop.

The asyncio loop that ``run_sync`` reuses per thread is shared with a forked child
(its epoll set and self-pipe are the same kernel objects). A fork from another
thread frees the calling thread's locals in the child, and a child that exits
normally runs ``atexit``: either used to close the loop there, which took the
self-pipe out of the parent's epoll set, so wake-ups from worker threads
(``anyio.to_thread``) never reached the parent's loop again and its next run
that waited for one hung. Each scenario runs in a fresh interpreter with a
deadline, so a hang fails the test instead of the suite.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

DEADLINE = 30.0

PRELUDE = textwrap.dedent(
    """
    import os, sys, threading
    import anyio, anyio.to_thread
    from cuprum import CAT, sh

    def run_with_a_worker_thread():
        async def source():
            # The data comes from a worker thread: it reaches the loop through its self-pipe.
            yield await anyio.to_thread.run_sync(lambda: b"from a thread\\n")

        return sh.make(CAT)().run_sync(stdin=source()).stdout

    assert run_with_a_worker_thread() == "from a thread\\n"

    def fork_and_exit(how):
        pid = os.fork()
        if pid == 0:
            if how == "atexit":
                sys.exit(0)  # runs atexit in the child
            os._exit(0)
        os.waitpid(pid, 0)
    """
)

SCENARIOS = {
    # A fork from another thread: the child frees the main thread's locals.
    "thread": "t = threading.Thread(target=fork_and_exit, args=('now',)); t.start(); t.join()",
    # A fork from this thread, the child exiting through atexit.
    "atexit": "fork_and_exit('atexit')",
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_the_parents_loop_still_wakes_after_a_fork(scenario: str) -> None:
    script = PRELUDE + SCENARIOS[scenario] + "\nprint(run_with_a_worker_thread(), end='')\n"
    done = subprocess.run(
        # Python 3.12+ warns about a fork in a process with threads: expected here.
        [sys.executable, "-W", "ignore::DeprecationWarning", "-c", script],
        check=False,
        capture_output=True,
        text=True,
        timeout=DEADLINE,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "from a thread\n", "")
