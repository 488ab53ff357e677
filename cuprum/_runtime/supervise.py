"""Supervision: a run's jobs and exit watchers, under its deadline, with fail-fast.

The jobs (stdin feeder, hop relays, the output reader) and, in a pipeline or for a
remote command, one exit watcher per stage run in one anyio task group inside the
deadline's cancel scope. A watcher hands each exit to :class:`~.blame.Blame`; when a
stage fails on its own, the others are terminated (SIGTERM, grace, SIGKILL) in the
same group, remote ones at their far end too (``enclosure.stop_far_ends``).
A single command with at most one job runs it in the host task, without a group.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import anyio
import anyio.abc
import anyio.lowlevel

from cuprum._runtime.blame import Blame
from cuprum._runtime.child import terminate_groups
from cuprum._runtime.enclosure import stop_far_ends
from cuprum._runtime.stage import Stage
from cuprum._transport.hop import Hop

__all__ = ["Job", "Supervisor"]

Job = Callable[[], Coroutine[Any, Any, None]]


class Supervisor:
    """Runs one run's jobs and watchers; :meth:`run` says whether the deadline passed."""

    __slots__ = ("_blame", "_grace", "_hops", "_stages", "_tg")

    def __init__(
        self, stages: Sequence[Stage], hops: Sequence[Hop], blame: Blame, grace: float
    ) -> None:
        self._stages = stages
        self._hops = hops
        self._blame = blame
        self._grace = grace
        self._tg: anyio.abc.TaskGroup | None = None

    async def run(self, jobs: Sequence[Job], timeout: float | None, *, reads: bool) -> bool:
        """Run ``jobs`` (the last is the output reader when ``reads``); True on timeout.

        Jobs that fail as the run is cancelled from outside give way to that
        cancellation (see :func:`_cancelled_from_outside`).
        """
        failed: BaseException
        try:
            return await self._under_deadline(jobs, timeout, reads=reads)
        except (Exception, BaseExceptionGroup) as exc:  # a failure, not a bare cancellation
            failed = exc
        await _cancelled_from_outside()  # outside the handler: no failure as its context
        raise failed

    async def _under_deadline(
        self, jobs: Sequence[Job], timeout: float | None, *, reads: bool
    ) -> bool:
        if timeout is None:  # no deadline of its own: no cancel scope to pay for
            await self._run(jobs, reads=reads)
            return False
        with anyio.CancelScope(deadline=anyio.current_time() + timeout) as deadline:
            await self._run(jobs, reads=reads)
        return deadline.cancelled_caught

    async def _run(self, jobs: Sequence[Job], *, reads: bool) -> None:
        # Each stage's exit is watched as it happens in a pipeline (fail-fast), and for
        # a remote stage (its ssh may end before its output does: see watch).
        watched = len(self._stages) > 1 or self._stages[0].launch is not None
        if not watched and len(jobs) <= 1:
            # The common case, one command with at most one job: the host task
            # does it, no task group needed. Like any async call the run must be
            # a checkpoint even if the child is done before we look: the output
            # reader always is one; otherwise (no job, or only feeding stdin)
            # yield here.
            for job in jobs:
                await job()
            if not reads:
                await anyio.lowlevel.checkpoint()
        else:
            try:
                async with anyio.create_task_group() as tg:
                    self._tg = tg
                    *others, last = jobs or [anyio.lowlevel.checkpoint]
                    for job in others:
                        tg.start_soon(job)
                    if watched:
                        for stage in self._stages:
                            tg.start_soon(self.watch, stage)
                    await last()  # the host task does one job itself: one task fewer
            finally:
                self._tg = None
        if not watched:
            # One command: the output reader waited for its exit too (or its
            # output is at EOF, so it has usually exited already).
            await self.watch(self._stages[0])

    def _output_closed(self, index: int) -> bool:
        return index < len(self._hops) and self._hops[index].output_closed()

    async def watch(self, stage: Stage) -> None:
        """Wait for ``stage`` to exit; release its hop's hold; fail fast if it failed."""
        child = stage.child
        assert child is not None
        await child.wait_exit()
        stage.ended = time.perf_counter()
        if stage.index:
            self._hops[stage.index - 1].downstream_exited()
        if stage.launch is not None and self._tg is not None:
            # The master holds the remote stage's fds until its far end ends: a
            # session lost or cut short is stopped now, or its output never ends.
            self._tg.start_soon(stage.launch.ended, child.exit_code, child.stopped, self._grace)
        failed = await self._blame.exited(stage, self._output_closed, self._grace)
        if failed and self._tg is not None:
            others = [s.child for s in self._stages if s.child is not None]
            live = [c for c in others if c.exit_code is None]
            if live:
                self._tg.start_soon(terminate_groups, live, self._grace)
                far = [s for s in self._stages if s.launch is not None and s.child in live]
                if far:
                    self._tg.start_soon(stop_far_ends, far, self._grace)


async def _cancelled_from_outside() -> None:
    """Raise the cancellation of a scope around the run, if one is cancelled.

    The run's jobs can fail as it is being cancelled from outside: a hook raising on
    a line read in the same step, say. The cancellation wins, on either event loop,
    so the run ends ``cancelled`` and the scope that cancelled it catches it: on
    asyncio anyio leaves the cancellation out of the task group's exception group,
    so it is raised here; on trio it is raised here too (``failures.unwrap`` would
    find it in the group). The run's own deadline is inside: its timeout is one more
    failure of the run, which the jobs' errors come before.
    """
    if anyio.current_effective_deadline() == -math.inf:
        await anyio.lowlevel.checkpoint()
