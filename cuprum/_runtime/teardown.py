"""Teardown: stop what still runs, reap every stage, and close the run's fds.

Used on every path that ends a run early (a timeout, a cancellation, a failure);
the termination itself (SIGTERM, grace, SIGKILL, shielded) is
:func:`cuprum._runtime.child.terminate_groups`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from cuprum._runtime.child import terminate_groups
from cuprum._runtime.stage import Stage
from cuprum._runtime.wiring import Plan

__all__ = ["reap_all", "tear_down"]


def reap_all(stages: Sequence[Stage]) -> None:
    """Reap every spawned stage (killing what is left of its process group)."""
    for stage in stages:
        if stage.child is not None:
            stage.child.reap()


async def tear_down(stages: Sequence[Stage], plan: Plan | None, grace: float) -> None:
    """Terminate and reap every stage, then drain buffered output and close every fd.

    A run on a terminal has it closed first: the session gets SIGHUP, then the
    group SIGTERM, grace, SIGKILL like any other.
    """
    children = [s.child for s in stages if s.child is not None]
    try:
        if plan is not None:
            plan.hang_up()
        await terminate_groups(children, grace)
    finally:
        reap_all(stages)
        for stage in stages:
            if not stage.ended:
                stage.ended = time.perf_counter()
        if plan is not None:
            plan.drain_and_close()
