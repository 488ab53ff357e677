"""A host signal handler that raises during a spawn on a terminal leaves no child behind,
and one that raises as the pty is opened leaves no fd.

``posix_spawn`` stores the pid itself (from C, into a ctypes int the spawn keeps):
a handler raising as the call returns, or as the child's record is built, finds the
child there to kill and reap. Each point where CPython would run the handler is
tried in turn (``signal_points``).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest
from processes import children, fd_targets
from signal_points import codes_of, interrupt_each_point

from cuprum._model.terminal import Terminal
from cuprum._runtime import owned, terminal_spawn
from cuprum._runtime.child import ChildProcess
from cuprum._runtime.terminal import Pty


@pytest.fixture
def pty() -> Iterator[Pty]:
    made = Pty(Terminal())
    try:
        yield made
    finally:
        made.hangup()
        os.close(made.slave_fd)


def test_a_handler_raising_anywhere_in_the_spawn_on_a_terminal_leaves_nothing(pty: Pty) -> None:
    def spawn() -> ChildProcess:
        slave = pty.slave_fd
        return terminal_spawn.spawn_on_terminal(
            pty, ["sleep", "30"], cwd=None, env=None, stdin=slave, stdout=slave, stderr=slave
        )

    def dispose(child: ChildProcess) -> None:
        os.kill(child.pid, signal.SIGKILL)
        child.reap()

    dispose(spawn())  # libc loaded, the program pinned
    before, fds = children(), fd_targets()

    def check(where: str) -> None:
        assert children() - before == set(), f"a child left, {where}"
        left = {fd: target for fd, target in fd_targets().items() if fd not in fds}
        assert not left, f"an fd left, {where}: {left}"

    codes = codes_of(terminal_spawn, ChildProcess.__init__)
    started, points = interrupt_each_point(spawn, codes, check)
    dispose(started)
    assert points > 10


@pytest.mark.parametrize("echo_input", [True, False])
def test_a_handler_raising_anywhere_as_a_pty_is_opened_leaves_no_fd(echo_input: bool) -> None:
    # Both ends are stored by C code as openpty makes them (see cuprum._runtime.owned).
    settings = Terminal(echo_input=echo_input)
    fds = fd_targets()

    def check(where: str) -> None:
        left = {fd: target for fd, target in fd_targets().items() if fd not in fds}
        assert not left, f"an fd left, {where}: {left}"

    made, points = interrupt_each_point(lambda: Pty(settings), codes_of(Pty.__init__, owned), check)
    made.hangup()
    os.close(made.slave_fd)
    check("after the pty that got through")
    assert points > 5
