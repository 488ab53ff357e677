"""A host signal handler that raises as a run's pty is opened and registered leaves
no fd: the plan holds both ends from the first instant, or neither is left open.

Each point where CPython would run the handler is tried in turn (``signal_points``).
"""

from __future__ import annotations

import os

import pytest
from processes import fd_targets
from signal_points import Aborted, Interrupted, codes_of, interrupt_each_point

from cuprum._model.terminal import Terminal
from cuprum._runtime import owned, pty_owned
from cuprum._runtime.terminal import Pty
from cuprum._runtime.wiring import Plan

from .terminal_support import py, text


def _release(plan: Plan) -> None:
    """What the run does with the plan's fds: the pty hangs up, the child fds close."""
    if plan.terminal is not None:
        plan.terminal.hangup()
    for fd in plan.child_fds:
        os.close(fd)
    plan.child_fds.clear()


@pytest.mark.parametrize("raising", [Interrupted, Aborted])
def test_a_handler_raising_anywhere_as_the_runs_pty_is_opened_leaves_no_fd(
    raising: type[BaseException],
) -> None:
    fds = fd_targets()
    plans: list[Plan] = []

    def open_one() -> Pty:
        plan = Plan(1)
        plans.append(plan)
        return pty_owned.open_pty(plan, Terminal())

    def check(where: str) -> None:
        _release(plans.pop())
        left = {fd: target for fd, target in fd_targets().items() if fd not in fds}
        assert not left, f"an fd left, {where}: {left}"

    codes = codes_of(pty_owned, Pty.__init__, owned)
    made, points = interrupt_each_point(open_one, codes, check, raising=raising)
    plan = plans.pop()
    assert plan.terminal is made
    assert plan.child_fds == [made.slave_fd]
    _release(plan)
    assert set(fd_targets()) <= set(fds), "an fd left after the pty that got through"
    assert points > 5


async def test_a_run_on_a_terminal_wired_through_open_pty_leaves_no_fd(anyio_backend: str) -> None:
    fds = fd_targets()
    result = await py("import sys; print(sys.stdin.isatty(), sys.stdout.isatty())").run(tty=True)
    assert result.ok
    assert text(result.stdout).strip() == "True True"
    left = {fd: target for fd, target in fd_targets().items() if fd not in fds}
    assert not left, f"an fd left: {left}"
