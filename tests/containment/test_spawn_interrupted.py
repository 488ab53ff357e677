"""A host signal handler that raises during a spawn: no child, fd or cgroup visit outlives it.

A handler runs as the call that was under way returns (``spawn_process``, a class
building the child's record...), before its result is stored: whatever that call
created must already be where the spawn's cleanup finds it. One test lands a real
signal at that exact return (the child is held before its exec, so the spawn is
still running when the signal comes); the others raise from a real handler at each
point of the spawn where CPython would run one (``signal_points``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from processes import children, fd_targets
from signal_points import Interrupted, codes_of, interrupt_each_point

from cuprum._runtime import child as child_module
from cuprum._runtime import contain, native_spawn, owned, placement
from cuprum._runtime.cgroup import CgroupHost, RunCgroup
from cuprum._runtime.cgroup_limits import CgroupLimits, apply_limits
from cuprum._runtime.child import ChildProcess
from cuprum._runtime.limits import ResourceLimits, apply_prlimits
from cuprum._runtime.reap import reap

pytestmark = [pytest.mark.native]

DEADLINE = 20.0  # an upper bound for what must happen, never slept


@pytest.fixture(autouse=True)
def _needs_spawn_process() -> None:
    if not native_spawn.native_spawn_available():
        pytest.skip("the native extension with spawn_process is not installed")


@pytest.fixture
def run(host: CgroupHost) -> Iterator[RunCgroup]:
    """A run cgroup with a pids limit (a v1 mirror to join, on a hybrid machine)."""
    made = host.new_run()
    try:
        apply_limits(made, CgroupLimits(pids_max=64))
        yield made
    finally:
        assert made.destroy_blocking()


def _own_cgroups() -> str:
    with open("/proc/self/cgroup", encoding="ascii") as f:
        return f.read()


class _Left:
    """What this process has now, to compare with after an interrupted spawn."""

    def __init__(self) -> None:
        self.children = children()
        self.fds = fd_targets()
        self.cgroups = _own_cgroups()

    def check(self, point: str) -> None:
        # The spawn's cleanup is synchronous: the child is reaped when the exception
        # leaves the call (a running child or a zombie both still show in /proc).
        assert children() - self.children == set(), f"a child left, {point}"
        fds = {fd: target for fd, target in fd_targets().items() if fd not in self.fds}
        assert not fds, f"an fd left, {point}: {fds}"
        assert _own_cgroups() == self.cgroups, f"the host left in a run, {point}"


def _discard(child: ChildProcess) -> None:
    child.reap()


def _native(run: RunCgroup | None) -> native_spawn.NativeChild:
    return native_spawn.spawn_native(["sleep", "30"], cgroup=run)


def _dispose(started: native_spawn.NativeChild) -> None:
    os.kill(started.pid, signal.SIGKILL)
    reap(started.pid)
    if started.pidfd is not None:
        os.close(started.pidfd)


@contextlib.contextmanager
def _raising(signum: int) -> Iterator[None]:
    def handler(number: int, frame: object) -> None:
        raise Interrupted(number)

    previous = signal.signal(signum, handler)
    try:
        yield
    finally:
        signal.signal(signum, previous)


def _full_fifo(directory: Path) -> tuple[int, int]:
    """A FIFO ``directory/cgroup.procs`` with no room left: (read end, write end)."""
    path = directory / "cgroup.procs"
    os.mkfifo(path)
    reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    writer = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    with contextlib.suppress(BlockingIOError):
        while True:
            os.write(writer, b"x" * 65536)
    return reader, writer


def test_a_signal_that_comes_during_the_native_spawn_leaves_no_child(
    run: RunCgroup, tmp_path: Path
) -> None:
    # The child joins the run's v1 hierarchies first of all, by writing to their
    # cgroup.procs: here a full FIFO, so it waits there, before its exec, and the spawn
    # cannot return. The signal comes then; its handler raises as spawn_process returns.
    reader, writer = _full_fifo(tmp_path)
    linked, run.linked = run.linked, [str(tmp_path)]
    seen: list[int] = []

    def signal_then_let_go() -> None:
        deadline = time.monotonic() + DEADLINE
        while not seen and time.monotonic() < deadline:
            seen.extend(run.procs())  # the child is in the run from its first instruction
        os.kill(os.getpid(), signal.SIGUSR1)
        os.read(reader, 1 << 20)  # room: the child writes, then execs; the spawn returns

    child_module.null_fd()  # the shared /dev/null, opened on first use, is no leak
    left = _Left()
    helper = threading.Thread(target=signal_then_let_go)
    try:
        with _raising(signal.SIGUSR1):
            helper.start()
            with pytest.raises(Interrupted):
                native_spawn.spawn_native(["sleep", "30"], cgroup=run)
            helper.join()
    finally:
        helper.join()
        run.linked = linked
        os.close(reader)
        os.close(writer)
    assert seen, "the child never showed in the run's cgroup"
    left.check("as spawn_process returned")
    assert run.procs() == []


@pytest.mark.parametrize("contained", [False, True], ids=["plain", "in a run"])
def test_a_handler_raising_anywhere_in_the_native_spawn_leaves_nothing(
    request: pytest.FixtureRequest, contained: bool
) -> None:
    cgroup: RunCgroup | None = request.getfixturevalue("run") if contained else None
    _dispose(_native(cgroup))  # first-use work (/dev/null, the PATH lookup) done
    left = _Left()
    started, points = interrupt_each_point(
        lambda: _native(cgroup), codes_of(native_spawn), left.check
    )
    _dispose(started)
    assert points > 10


@pytest.mark.parametrize("how", ["native", "pure", "pure, limited"])
def test_a_handler_raising_anywhere_in_a_contained_spawn_leaves_nothing(
    run: RunCgroup, how: str
) -> None:
    # The stage's spawn, up to the ChildProcess the run keeps: the native spawn; or
    # fork_exec (its own points: tests/core) inside the host's visit to the run's
    # cgroup (placement's points too: tests/containment/test_placement_interrupted.py
    # has more), or followed by prlimit.
    if how == "native":
        box = contain.Box(run, None, None, native=True)
    elif how == "pure":
        box = contain.Box(run, None, None, native=False)
    else:
        box = contain.Box(None, ResourceLimits(open_files=64), None, native=False)
    codes = codes_of(
        contain.spawn_stage,
        contain._native_fd,
        native_spawn,
        placement,
        owned,
        ChildProcess.__init__,
        child_module.spawn,
        apply_prlimits,
    )

    def spawn() -> ChildProcess:
        return contain.spawn_stage(
            box, ["sleep", "30"], cwd=None, env=None, stdin=None, stdout=None, stderr=None
        )

    _discard(spawn())
    left = _Left()
    started, points = interrupt_each_point(spawn, codes, left.check)
    _discard(started)
    assert points > 5
