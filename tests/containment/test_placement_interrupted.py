"""The pure placement interrupted: a host's signal handler that raises, anywhere in the
visit and as often as it likes, never leaves the host in the run, the lock held, a
pids limit raised, an fd open or a child running.

``placement.spawn_into`` moves this process into the run's cgroup for the spawn. One
test raises from a real handler at each point where CPython would run one
(``signal_points``); the other sends real signals to the host throughout many visits,
from another thread, to a handler that raises whenever it runs in the placement's
code: several raises in one visit, on the way in and on the way home.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest
from processes import children, fd_targets
from signal_points import Interrupted, codes_of, interrupt_each_point

from cuprum._runtime import child as child_module
from cuprum._runtime import owned, placement
from cuprum._runtime.cgroup import CgroupHost, RunCgroup
from cuprum._runtime.cgroup_limits import CgroupLimits, apply_limits
from cuprum._runtime.child import ChildProcess

DEADLINE = 20.0  # an upper bound for what must happen, never slept
CODES = codes_of(placement, owned)


@pytest.fixture
def run(host: CgroupHost) -> Iterator[RunCgroup]:
    """A run whose pids limit the visit must raise (on a hybrid machine, in its v1 mirror)."""
    made = host.new_run()
    try:
        apply_limits(made, CgroupLimits(pids_max=1))
        yield made
    finally:
        assert made.destroy_blocking()


def _own_cgroups() -> str:
    with open("/proc/self/cgroup", encoding="ascii") as f:
        return f.read()


def _limits(run: RunCgroup) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for directory in (run.path, *run.linked):
        try:
            with open(os.path.join(directory, "pids.max"), encoding="ascii") as f:
                found[directory] = f.read()
        except FileNotFoundError:
            found[directory] = None
    return found


class _Before:
    """What the host has before a visit, to compare with after an interrupted one."""

    def __init__(self, run: RunCgroup) -> None:
        self.run = run
        self.cgroups = _own_cgroups()
        self.fds = fd_targets()
        self.children = children()
        self.limits = _limits(run)
        assert "1\n" in self.limits.values()  # a limit the visit raises

    def check(self, where: str) -> None:
        assert _own_cgroups() == self.cgroups, f"the host left in the run, {where}"
        assert placement._lock.acquire(blocking=False), f"the lock left held, {where}"
        placement._lock.release()
        assert _limits(self.run) == self.limits, f"a pids limit left raised, {where}"
        fds = {fd: target for fd, target in fd_targets().items() if fd not in self.fds}
        assert not fds, f"an fd left, {where}: {fds}"
        assert children() - self.children == set(), f"a child left, {where}"


def _visit(run: RunCgroup) -> ChildProcess:
    """A spawn inside ``run``, as ``contain.spawn_stage`` makes it."""
    started: list[ChildProcess] = []

    def start() -> None:
        started.append(
            child_module.spawn(
                ["sleep", "30"], cwd=None, env=None, stdin=None, stdout=None, stderr=None
            )
        )

    try:
        placement.spawn_into(run, start)
    except BaseException:
        for child in started:
            child.reap()
        raise
    return started[0]


def test_a_handler_raising_anywhere_in_the_visit_leaves_nothing(run: RunCgroup) -> None:
    child_module.null_fd()  # the shared /dev/null, opened on first use, is no leak
    before = _Before(run)
    child, points = interrupt_each_point(lambda: _visit(run), CODES, before.check)
    try:
        assert child.pid in run.procs()
    finally:
        child.reap()
    before.check("after the visit that got through")
    assert points > 20


def test_signals_raising_throughout_many_visits_leave_nothing(run: RunCgroup) -> None:
    child_module.null_fd()
    before = _Before(run)

    def handler(signum: int, frame: object) -> None:
        if getattr(frame, "f_code", None) in CODES:
            raise Interrupted(signum)

    stop = threading.Event()

    def pester() -> None:
        while not stop.wait(0.0001):
            os.kill(os.getpid(), signal.SIGUSR1)

    previous = signal.signal(signal.SIGUSR1, handler)
    helper = threading.Thread(target=pester)
    visits = interrupted = 0
    try:
        helper.start()
        deadline = time.monotonic() + DEADLINE
        while interrupted < 1000 and visits < 5000 and time.monotonic() < deadline:
            visits += 1
            try:
                child = _visit(run)
            except Interrupted:
                interrupted += 1
                before.check(f"visit {visits}, interrupted")
            else:
                child.reap()
    finally:
        stop.set()
        helper.join()
        signal.signal(signal.SIGUSR1, previous)
    before.check("after the visits")
    assert interrupted > 0, f"no signal landed in {visits} visits"
