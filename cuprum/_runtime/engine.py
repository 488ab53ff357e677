"""Running wired stages: the path every ``run()`` takes, one command or a pipeline.

A single command is a pipeline of one stage, so there is one code path for
allowlist checks, hooks, events, spawning, output, deadlines, fail-fast and
teardown. :meth:`_Run.execute` is the whole life cycle::

    check allowlist -> before hooks -> plan events -> wire every fd (wiring)
    -> spawn -> start events -> jobs and exit watchers under the deadline
       (supervise, blame) -> exit events -> after hooks -> results
    any failure on the way: one tail (teardown, one error event per stage, raise)

The steps that need no waiting are :mod:`.run`'s, shared with :mod:`.direct` (a
``run_sync()`` of one local command, without an event loop). Each job has a module
of its own: :mod:`.wiring` (the plan of fds and jobs),
:mod:`.emit` (events), :mod:`.supervise` (task group, deadline, fail-fast),
:mod:`.blame` (which stage failed), :mod:`.teardown`, :mod:`.outcome` (results).
Callers that need to hear from a run while it goes on pass callbacks to
:func:`run_stages`: ``on_spawned`` (pids, and the stream ends of a streamed run)
and ``on_stopped`` (what a run cancelled or timed out had).
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import AsyncIterable, Callable

import anyio
import anyio.lowlevel

from cuprum._runtime.enclosure import (
    Enclosure,
    prepare_commands,
    settle_far_ends,
    stop_far_ends,
)
from cuprum._runtime.failures import cancellation, deadline_expired, fail, raised_order, unwrap
from cuprum._runtime.fifo import open_fifos
from cuprum._runtime.pipes import read_outputs
from cuprum._runtime.request import RunRequest
from cuprum._runtime.run import (
    OnSpawned,
    OnStopped,
    Results,
    Run,
    Spawned,
    admit,
    output_reader,
    run_before_hooks,
)
from cuprum._runtime.stdin import feed_bytes, feed_iterable
from cuprum._runtime.supervise import Job, Supervisor
from cuprum._runtime.teardown import reap_all, tear_down
from cuprum._transport.dispatch import Strategy
from cuprum._transport.hop import Hop

__all__ = ["OnFailed", "OnStopped", "OnSpawned", "Spawned", "run_stages"]

OnFailed = Callable[[int], None]
"""Told when a failed run's failure was raised (``failures.raised_order``)."""


class _Run(Run):
    """One run on anyio: :meth:`execute` is the whole life cycle."""

    __slots__ = ("enclosure", "on_failed")

    def __init__(
        self,
        req: RunRequest,
        strategy: Strategy,
        on_spawned: OnSpawned | None,
        on_stopped: OnStopped | None,
        *,
        deadline: float | None = None,
        on_failed: OnFailed | None = None,
    ) -> None:
        super().__init__(req, strategy, on_spawned, on_stopped)
        self.on_failed = on_failed
        # cgroups, limits, host-shutdown listing, remote sessions, the deadline
        self.enclosure = Enclosure(deadline)

    async def execute(self) -> tuple[Results, int | None]:
        try:
            self.announce(self.enclosure.left(self.req.timeout))
            await self.enclosure.enter(self.req.context, self.stages)
            await self._open_fifos()
            self.start()
            await self._supervise()
            if self.enclosure.launches:  # remote stages: a lost session raises here
                await settle_far_ends(self.stages, self.req.context.cancel_grace)
        except BaseException as exc:
            failure = exc
        else:
            return await self._finish()
        # Raised outside the handler, so the exception keeps its own context.
        raise await self._failure_tail(failure)

    async def _open_fifos(self) -> None:
        """Open the FIFOs among the run's streams (awaited; see :mod:`.fifo`), within
        the run's timeout, which then counts from here on."""
        deadline = self.enclosure.deadline
        if deadline is None and self.req.timeout is not None:
            deadline = anyio.current_time() + self.req.timeout
        self.req, self.fifos = await open_fifos(self.req, deadline)
        if self.fifos:
            self.enclosure.deadline = deadline

    async def _supervise(self) -> None:
        """Run the plan's jobs and the exit watchers; raise when the deadline passed."""
        plan = self.plan
        assert plan is not None
        jobs: list[Job] = []
        if plan.feed is not None:
            jobs.append(functools.partial(self._feed, *plan.feed))
        for index, hop in enumerate(plan.hops):
            if hop.relayed:
                jobs.append(functools.partial(self._relay, index, hop))
        if self.tap is not None:
            jobs.append(self.tap.closed.wait)  # the caller reads the stdout to its end
        if plan.readers:
            jobs.append(self._read)
        supervisor = Supervisor(self.stages, plan.hops, self.blame, self.req.context.cancel_grace)
        timeout = self.enclosure.left(self.req.timeout)
        if await supervisor.run(jobs, timeout, reads=bool(plan.readers)):
            raise deadline_expired(f"timed out after {self.req.timeout}s")

    async def _failure_tail(self, exc: BaseException) -> BaseException:
        """The one failure tail: teardown, then :meth:`Run.report`; returns the
        exception to raise."""
        failure = unwrap(exc)
        if self.on_failed is not None:
            self.on_failed(raised_order(failure))
        if self.tap is not None:
            self.tap.detach()
        try:
            try:
                await tear_down(self.stages, self.plan, self.req.context.cancel_grace)
                await stop_far_ends(self.stages, self.req.context.cancel_grace)
            finally:
                await self.enclosure.leave(self.stages)
        except BaseException as late:  # a hook's Ctrl+C or SystemExit on a drained line
            # It ends the run instead (what the teardown drains cannot make an
            # Exception: those are dropped), with its error events all the same; so
            # does a child it may not kill (PermissionError), in the context of
            # what the run was ending with (TimeoutExpired).
            if self.on_failed is not None:
                self.on_failed(raised_order(late))
            return self.report(late, during=failure)
        return self.report(failure)

    async def _finish(self) -> tuple[Results, int | None]:
        """Reap, release the cgroups (with each stage's usage), then :meth:`Run.complete`."""
        try:
            reap_all(self.stages)
        finally:
            await self.enclosure.leave(self.stages)
        return self.complete()

    # -- jobs -----------------------------------------------------------------

    async def _feed(self, fd: int, source: bytes | AsyncIterable[bytes]) -> None:
        """Feed the first stage's stdin (see :mod:`.stdin`), then close our end."""
        assert self.plan is not None
        try:
            if isinstance(source, bytes):
                dropped = await feed_bytes(fd, source)
            else:
                first = self.stages[0]
                assert first.child is not None
                dropped = await feed_iterable(fd, source, first.child, first.cmd.program)
        except Exception as exc:  # the source raised, or writing to the pipe failed
            fail("stdin_failed", exc)
        except BaseExceptionGroup as group:
            # The source raised as the run was being cancelled (its deadline, or from
            # outside): on trio the feeder's task group holds both. Its error is tagged
            # as if alone: it wins over the deadline as a hook's would in that step, and
            # a cancellation from outside still wins (Supervisor.run raises it).
            cancelled = anyio.get_cancelled_exc_class()
            errors = [exc for exc in group.exceptions if not isinstance(exc, cancelled)]
            if len(errors) != 1 or cancellation(errors[0]):
                raise  # (Ctrl+C among them wins: failures.unwrap)
            fail("stdin_failed", errors[0])  # (a SystemExit too, as a hook's)
        finally:
            self.plan.close_fd(fd)
        self.input_dropped(dropped)

    async def _relay(self, index: int, hop: Hop) -> None:
        """Relay hop ``index``; with ``stage_events`` its bytes feed the stage's line events."""
        collector = self.stages[index].stdout
        try:
            await hop.run(collector.feed if collector is not None else None)
        except BaseException as exc:
            # Stopped (the deadline, a cancellation) or failed: the hop's last partial
            # line still has its event, but a hook raising on it cannot change why the
            # run ended (a timeout stays TimeoutExpired), as for the lines a teardown
            # drains.
            if collector is not None:
                with contextlib.suppress(Exception):
                    collector.close()
            if isinstance(exc, Exception):  # a hook's error (line events) stays the hook's
                fail("relay_failed", exc)
            raise
        if collector is not None:
            collector.close()  # EOF: a hook raising on the last line fails the run

    async def _read(self) -> None:
        """Read every output pipe of the run into its collector (one task for all)."""
        plan = self.plan
        assert plan is not None
        only = self.stages[0].child if len(self.stages) == 1 else None
        try:
            await read_outputs(output_reader(plan, only))
        except BaseException as exc:  # an echo sink raised (SystemExit too), or reading failed
            fail("output_failed", exc)  # (a cancellation or Ctrl+C goes on as itself)


async def run_stages(
    req: RunRequest,
    *,
    on_spawned: OnSpawned | None = None,
    on_stopped: OnStopped | None = None,
    on_failed: OnFailed | None = None,
) -> tuple[Results, int | None]:
    """Check policy, run before hooks, then run the stages; see the module docstring.

    ``on_spawned(Spawned)``: called once every stage runs, before any output is
    read (required for ``stdin=PIPE``/``stdout=PIPE``, whose ends it receives).
    ``on_stopped(results)``: what a run cancelled or stopped by its timeout had
    (pids, exit statuses after the teardown, output so far, ``outcome`` saying
    which), before the cancellation or :class:`TimeoutExpired` propagates.
    ``on_failed(order)``: when the failure of a run that failed was raised, before
    its teardown (a batch of runs raises the first to fail: ``failures.FirstFailure``).
    Returns each stage's result and the index of the stage that failed the run.
    """
    strategy = admit(req, on_spawned)
    # Inside a scope that is already cancelled nothing starts, like anyio's and
    # trio's run_process: no before hook, no event, no process. (On trio a
    # deadline that has passed cancels only at the next checkpoint, hence the
    # deadline test rather than checkpoint_if_cancelled.)
    scope_deadline = anyio.current_effective_deadline()  # -inf in a cancelled scope
    if scope_deadline != math.inf and scope_deadline <= anyio.current_time():
        await anyio.lowlevel.checkpoint()
    deadline = await prepare_commands(req.stages, req.timeout)
    run_before_hooks(req)
    run = _Run(req, strategy, on_spawned, on_stopped, deadline=deadline, on_failed=on_failed)
    return await run.execute()
