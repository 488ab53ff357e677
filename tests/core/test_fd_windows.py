"""A child's pidfd is its owner's from the first instant: a host's signal handler that
raises as ``pidfd_open`` returns, or anywhere after it, leaves no fd behind.

CPython runs a handler as a C call returns, before its result is stored: an fd
returned there would be lost. So the pidfd is stored by C code as it is made
(``cuprum._runtime.owned``), as are the cgroup files' fds
(``tests/containment/test_cgroupfs_interrupted.py``), the report pipe of a spawn
(``test_fork_exec.py``) and a terminal's pty (``tests/terminal``). Here a real
handler raises at each point where CPython would run one (``signal_points``), and
``/proc/self/fd`` is compared after each.
"""

from __future__ import annotations

import os

from processes import fd_targets
from signal_points import codes_of, interrupt_each_point

from cuprum._runtime import child as child_module
from cuprum._runtime import owned
from cuprum._runtime.child import ChildProcess


def test_the_childs_pidfd_is_never_lost() -> None:
    child = child_module.spawn(
        ["sleep", "30"], cwd=None, env=None, stdin=None, stdout=None, stderr=None
    )
    try:
        fds = set(fd_targets())

        def check(where: str) -> None:
            held = set() if child._pidfd is None else {child._pidfd}
            left = set(fd_targets()) - fds
            assert left <= held, f"an fd left, {where}: {left - held}"  # opened: the child's
            if child._pidfd is not None:  # the next try opens it afresh
                os.close(child._pidfd)
                child._pidfd = None

        codes = codes_of(ChildProcess.exit_fd, ChildProcess._open_pidfd, owned)
        fd, points = interrupt_each_point(child.exit_fd, codes, check)
        assert fd is not None
        assert fd == child._pidfd
        assert points > 3
    finally:
        child.reap()
    assert child._pidfd is None  # closed by the reap
