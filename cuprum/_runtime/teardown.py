"""Teardown: stop what still runs, reap every stage, and close the run's fds.

Used on every path that ends a run early (a timeout, a cancellation, a failure);
a contained run's cgroups are killed here and removed by ``contain.release``;
the termination itself (SIGTERM, grace, SIGKILL, shielded) is
:func:`cuprum._runtime.child.terminate_groups`.
"""

from __future__ import annotations

import select
import time
from collections.abc import Sequence

from cuprum._runtime.child import terminate_groups
from cuprum._runtime.contain import kill_trees, terminate_trees
from cuprum._runtime.stage import Stage
from cuprum._runtime.wiring import Plan

__all__ = ["account", "reap_all", "tear_down"]


def account(stages: Sequence[Stage]) -> None:
    """Each reaped stage's usage (with its tree's, if contained) and the limit that stopped it."""
    for stage in stages:
        child = stage.child
        if child is None:
            continue
        box = stage.box
        stage.usage = child.usage if box is None else box.usage(child.usage)
        if box is not None:
            stage.limit = box.limit(child.exit_code, stage.usage)


def reap_all(stages: Sequence[Stage]) -> None:
    """Reap every spawned stage (killing what is left of its process group); a stage
    that cannot be reaped (a child we may not signal) is raised once the others are."""
    first: Exception | None = None
    for stage in stages:
        if stage.child is not None:
            try:
                _await_killed(stage)
                stage.child.reap()
            except Exception as exc:
                first = first or exc
    if first is not None:
        raise first


KILLED_WAIT = 5.0
"""The most seconds a child its cgroup's kill reached may take to exit (most take
microseconds); should it not, the reap goes on as without a cgroup."""


def _await_killed(stage: Stage) -> None:
    """Wait for the exit of a child whose cgroup was killed (``cgroup.kill`` reaches
    every member, whatever its user ID): one we may not signal is then reaped, not
    reported as left running (and left a zombie)."""
    box, child = stage.box, stage.child
    if box is None or not box.killed or child is None or child.exited() is not None:
        return
    fd = child.exit_fd()
    if fd is not None:  # (without a pidfd the reap looks once, as it always did)
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        poller.poll(KILLED_WAIT * 1000)


async def tear_down(stages: Sequence[Stage], plan: Plan | None, grace: float) -> None:
    """Terminate and reap every stage, then drain buffered output and close every fd.

    A run on a terminal has it closed first: the session gets SIGHUP, then the
    group SIGTERM, grace, SIGKILL like any other.
    A contained stage's cgroup members get the SIGTERM too, and the cgroup is
    killed after the grace: what left the process group dies with the rest.
    """
    children = [s.child for s in stages if s.child is not None]
    boxes = [s.box for s in stages if s.box is not None]
    try:
        if plan is not None:
            plan.hang_up()
        terminate_trees(boxes, {child.pid for child in children})
        await terminate_groups(children, grace)
    finally:
        kill_trees(boxes)
        try:
            reap_all(stages)
        finally:  # (the fds are closed even if a stage could not be reaped)
            for stage in stages:
                if not stage.ended:
                    stage.ended = time.perf_counter()
            if plan is not None:
                plan.drain_and_close()
