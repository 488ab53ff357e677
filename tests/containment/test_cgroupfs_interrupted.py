"""The cgroup files' fds are their owner's from the first instant: a host's signal
handler that raises as an open returns, or anywhere after it, leaves no fd behind.

A write, a read and the wait for a cgroup to empty, each interrupted at every point
where CPython would run a handler (``signal_points``); ``/proc/self/fd`` compared after
each.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
from processes import fd_targets
from signal_points import codes_of, interrupt_each_point

from cuprum._runtime import cgroupfs, owned
from cuprum._runtime.cgroup import CgroupHost, RunCgroup


@pytest.fixture
def run(host: CgroupHost) -> Iterator[RunCgroup]:
    made = host.new_run()
    try:
        yield made
    finally:
        assert made.destroy_blocking()


def _no_new_fds() -> Callable[[str], None]:
    fds = fd_targets()

    def check(where: str) -> None:
        left = {fd: target for fd, target in fd_targets().items() if fd not in fds}
        assert not left, f"an fd left, {where}: {left}"

    return check


def test_a_write_leaves_no_fd(run: RunCgroup) -> None:
    # cgroup.freeze: a file every v2 cgroup has, whatever its controllers.
    path = os.path.join(run.path, "cgroup.freeze")
    _, points = interrupt_each_point(
        lambda: cgroupfs.write_file(path, "0"), codes_of(cgroupfs.write_file, owned), _no_new_fds()
    )
    assert points > 3


def test_a_read_leaves_no_fd(run: RunCgroup) -> None:
    path = os.path.join(run.path, "cgroup.events")
    found, points = interrupt_each_point(
        lambda: cgroupfs.read_keyed(path), codes_of(cgroupfs.read_keyed, owned), _no_new_fds()
    )
    assert found["populated"] == 0
    assert points > 3


def test_the_wait_for_a_cgroup_to_empty_leaves_no_fd(run: RunCgroup) -> None:
    codes = codes_of(cgroupfs.empty_steps, cgroupfs._events_fd, cgroupfs.run_steps_blocking, owned)
    empty, points = interrupt_each_point(
        lambda: cgroupfs.wait_empty_blocking(run.path, 5.0), codes, _no_new_fds()
    )
    assert empty
    assert points > 5
