"""Running wired stages: the path every ``run()`` takes, one command or a pipeline.

A single command is a pipeline of one stage, so there is one code path for
allowlist checks, hooks, events, spawning, output, deadlines, fail-fast and
teardown. :meth:`_Run.execute` is the whole life cycle::

    check allowlist -> before hooks -> plan events -> wire every fd (wiring)
    -> spawn -> start events -> jobs and exit watchers under the deadline
       (supervise, blame) -> exit events -> after hooks -> results
    any failure on the way: one tail (teardown, one error event per stage, raise)

Each job has a module of its own: :mod:`.wiring` (the plan of fds and jobs),
:mod:`.emit` (events), :mod:`.supervise` (task group, deadline, fail-fast),
:mod:`.blame` (which stage failed), :mod:`.teardown`, :mod:`.outcome` (results).
Callers that need to hear from a run while it goes on pass callbacks to
:func:`run_stages`: ``on_spawned`` (pids, and the stream ends of a streamed run)
and ``on_cancelled`` (what a cancelled run had).
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import AsyncIterable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel

from cuprum._core.secret import Secret
from cuprum._model.io import Stream
from cuprum._model.results import CommandResult
from cuprum._runtime.blame import Blame
from cuprum._runtime.emit import Emitter
from cuprum._runtime.enclosure import (
    Enclosure,
    prepare_commands,
    settle_far_ends,
    stop_far_ends,
)
from cuprum._runtime.environment import child_env
from cuprum._runtime.failures import cause, deadline_expired, error_kind, fail, unwrap
from cuprum._runtime.outcome import result, timeout_error
from cuprum._runtime.pipes import read_outputs
from cuprum._runtime.request import RunRequest
from cuprum._runtime.secrets import run_secrets
from cuprum._runtime.stage import make_stages
from cuprum._runtime.stdin import feed_bytes, feed_iterable
from cuprum._runtime.streams import StreamCollector, StreamTap
from cuprum._runtime.substitution import spawn_argv
from cuprum._runtime.supervise import Job, Supervisor
from cuprum._runtime.teardown import reap_all, tear_down
from cuprum._runtime.wiring import Plan, wire
from cuprum._transport.dispatch import Strategy, choose_strategy
from cuprum._transport.hop import Hop

if TYPE_CHECKING:
    from cuprum._runtime.contain import Box
    from cuprum._runtime.terminal import Pty

__all__ = ["OnCancelled", "OnSpawned", "Spawned", "run_stages"]

Results = tuple[CommandResult[Any], ...]


@dataclass(frozen=True, slots=True)
class Spawned:
    """What ``on_spawned`` hears once every stage runs.

    ``stdin_fd`` / ``stdout_fd``: the parent's ends of ``stdin=PIPE`` /
    ``stdout=PIPE`` (non-blocking), owned by the callee from now on.
    ``stdout_events``: when observers want the final stdout's line events, the tap
    to ``feed`` what is read from ``stdout_fd`` and to ``close`` at EOF; the run
    ends only after that (or is cancelled), so no line event follows its end.
    ``terminal``: a streamed ``tty=`` run's pty, read and written by the callee
    instead of the two fds, and closed by it (a teardown may close it first); its
    output feeds ``stdout_events`` like a ``stdout_fd``'s.
    ``add_secrets``: secrets the callee sends to the program (through ``stdin_fd`` or
    the terminal), to be redacted from the run's events and messages from then on.
    """

    pids: tuple[int, ...]
    stdin_fd: int | None = None
    stdout_fd: int | None = None
    stdout_events: StreamTap | None = None
    terminal: Pty | None = None
    add_secrets: Callable[[Sequence[Secret[Any]]], None] | None = None


OnSpawned = Callable[[Spawned], None]
OnCancelled = Callable[[Results], None]


class _Run:
    """The state of one run; :meth:`execute` is the whole life cycle."""

    __slots__ = (
        "announced",
        "blame",
        "enclosure",
        "env",
        "events",
        "on_cancelled",
        "on_spawned",
        "plan",
        "req",
        "stages",
        "strategy",
        "tap",
    )

    def __init__(
        self,
        req: RunRequest,
        strategy: Strategy,
        on_spawned: OnSpawned | None,
        on_cancelled: OnCancelled | None,
        deadline: float | None = None,
    ) -> None:
        self.req = req
        self.strategy = strategy
        self.on_spawned = on_spawned
        self.on_cancelled = on_cancelled
        ctx = req.context
        self.env = child_env(ctx)
        self.events = Emitter(req.policy.observe_hooks, ctx, run_secrets(req))
        self.stages = make_stages(req.stages, ctx.tags)
        self.blame = Blame(self.stages, req.accepted)
        self.plan: Plan | None = None
        self.announced = 0  # stages whose plan event went out: each gets a terminal one
        self.tap: StreamTap | None = None  # a streamed, observed stdout, read by the caller
        # cgroups, limits, host-shutdown listing, remote sessions, the deadline
        self.enclosure = Enclosure(deadline)

    async def execute(self) -> tuple[Results, int | None]:
        try:
            self._announce()
            await self.enclosure.enter(self.req.context, self.stages)
            self._start()
            await self._supervise()
            if self.enclosure.launches:  # remote stages: a lost session raises here
                await settle_far_ends(self.stages, self.req.context.cancel_grace)
        except BaseException as exc:
            failure = exc
        else:
            return await self._finish()
        # Raised outside the handler, so the exception keeps its own context.
        raise await self._failure_tail(failure)

    def _announce(self) -> None:
        """``plan`` events, then refuse a deadline that has already passed."""
        for stage in self.stages:
            self.announced += 1
            self.events.emit(stage, "plan")
        timeout = self.enclosure.left(self.req.timeout)
        if timeout is not None and timeout <= 0:
            raise deadline_expired(f"timeout of {self.req.timeout}s expired at once")

    def _start(self) -> None:
        """Wire every fd, spawn every stage, tell the caller, then ``start`` events."""
        req, stages = self.req, self.stages
        try:
            self.plan = plan = wire(
                req,
                stages,
                self.strategy,
                observed=bool(self.events.hooks),
                on_let_go=self.blame.excuse_if_running,
            )
            for stage, (stdin, stdout, stderr) in zip(stages, plan.stage_fds, strict=True):
                # A contained stage starts in its box; otherwise the plan's spawner
                # (child.spawn, or on a terminal).
                spawner = plan.spawner if stage.box is None else _boxed(stage.box)
                stage.child = spawner(
                    # The real argv (stage.argv shows secrets as ***), or the ssh of a
                    # remote stage, through the test seam (see substitution.py).
                    spawn_argv(stage.spawn_argv),
                    cwd=req.context.cwd,
                    env=self.env,
                    stdin=stdin,
                    stdout=stdout,
                    stderr=stderr,
                    project=stage.cmd.project,
                )
                stage.started = time.perf_counter()
        except Exception as exc:  # whatever stopped it, the program did not start
            fail("spawn_failed", exc)
        plan.spawned()
        if self.on_spawned is not None:
            self._hand_over(plan, self.on_spawned)
        if self.events.hooks:
            self._bind_line_events()
            self.events.each(stages, "start")

    def _hand_over(self, plan: Plan, on_spawned: OnSpawned) -> None:
        """Tell the caller the pids, and give it the ``PIPE`` ends (and the tap)."""
        stdin_fd, stdout_fd = plan.hand_over()
        observer = self.stages[-1].stdout
        handed = stdout_fd is not None or plan.terminal is not None
        if handed and observer is not None:
            self.tap = StreamTap(observer)
        pids = tuple(stage.child.pid for stage in self.stages if stage.child is not None)
        on_spawned(
            Spawned(pids, stdin_fd, stdout_fd, self.tap, plan.terminal, self.events.add_secrets)
        )

    def _bind_line_events(self) -> None:
        """Each collector's line events, now that the pid is known."""
        last = self.stages[-1]
        for stage in self.stages:
            for name in ("stdout", "stderr"):
                collector: StreamCollector | None = getattr(stage, name)
                if collector is None:
                    continue
                # The stream handle feeds a streamed stdout in the caller's task: a
                # hook's error there is the caller's own, untagged.
                streamed = self.tap is not None and stage is last and name == "stdout"
                collector.bind_lines(self.events.line_emitter(stage, name, tagged=not streamed))

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
        """The one failure tail: teardown, one ``error`` event per announced stage,
        the salvage of a cancelled run; returns the exception to raise."""
        failure = unwrap(exc)
        if self.tap is not None:
            self.tap.detach()
        try:
            await tear_down(self.stages, self.plan, self.req.context.cancel_grace)
            await stop_far_ends(self.stages, self.req.context.cancel_grace)
        finally:
            await self.enclosure.leave(self.stages)
        kind = error_kind(failure)
        real = cause(failure)
        if kind == "timeout":
            message = str(real)
            real = timeout_error(self.req, self.stages)
        else:
            message = f"{type(real).__name__}: {real}"
        self.events.errors(self.stages[: self.announced], kind, message)
        spawned = all(stage.child is not None for stage in self.stages)
        if kind == "cancelled" and self.on_cancelled is not None and spawned:
            self.on_cancelled(tuple(result(self.req, s, outcome="cancelled") for s in self.stages))
        return real

    async def _finish(self) -> tuple[Results, int | None]:
        """Reap, release the cgroups, ``exit`` events, results (decoded here), after hooks."""
        try:
            reap_all(self.stages)
        finally:
            await self.enclosure.leave(self.stages)
        if self.plan is not None:
            self.plan.close_all()
        self.events.exits(self.stages, self.req.accepted)
        # Decoding happens here, after the exit events: with errors="strict" a
        # UnicodeDecodeError is raised for a run that has properly ended.
        results = tuple(result(self.req, stage) for stage in self.stages)
        after_hooks = self.req.policy.after_hooks
        if after_hooks:
            for stage, res in zip(self.stages, results, strict=True):
                for hook in reversed(after_hooks):
                    hook(stage.cmd, res)
        return results, self.blame.failure_index

    # -- jobs -----------------------------------------------------------------

    async def _feed(self, fd: int, source: bytes | AsyncIterable[bytes]) -> None:
        """Feed the first stage's stdin (see :mod:`.stdin`), then close our end."""
        assert self.plan is not None
        try:
            if isinstance(source, bytes):
                dropped = await feed_bytes(fd, source)
            else:
                reader = self.stages[0].child
                assert reader is not None
                dropped = await feed_iterable(fd, source, reader)
        except Exception as exc:  # the source raised, or writing to the pipe failed
            fail("stdin_failed", exc)
        finally:
            self.plan.close_fd(fd)
        if dropped > 0:
            message = f"child closed stdin; {dropped} bytes of input dropped"
            self.events.emit(self.stages[0], "stdin_closed", message=message)

    async def _relay(self, index: int, hop: Hop) -> None:
        """Relay hop ``index``; with ``stage_events`` its bytes feed the stage's line events."""
        collector = self.stages[index].stdout
        try:
            await hop.run(collector.feed if collector is not None else None)
        except Exception as exc:  # a hook's error (line events) stays the hook's
            fail("relay_failed", exc)
        finally:
            if collector is not None:
                collector.close()

    async def _read(self) -> None:
        """Read every output pipe of the run into its collector (one task for all)."""
        plan = self.plan
        assert plan is not None

        def finished(fd: int) -> None:
            # On EOF the stream is finished here; after a teardown,
            # Plan.drain_and_close drains what is still buffered instead.
            plan.readers[fd].close()
            plan.close_fd(fd)

        sinks = {fd: collector.feed for fd, collector in plan.readers.items()}
        # One command: the reader waits for its exit too, in the same epoll set,
        # holding the pipes' write ends until then (Plan.let_go_writers): one wake-up.
        only = self.stages[0].child if len(self.stages) == 1 else None
        exit_fd = only.exit_fd() if only is not None else None
        if exit_fd is None:
            plan.let_go_writers()
        try:
            await read_outputs(
                sinks,
                finished,
                grow=plan.growing,
                exit_fd=exit_fd,
                on_exit=plan.let_go_writers,
            )
        except Exception as exc:  # an echo sink raised, or reading failed
            fail("output_failed", exc)


def _boxed(box: Box) -> Callable[..., Any]:
    """The spawner of a contained stage (containment is imported only when used)."""
    from cuprum._runtime.contain import spawn_stage

    return functools.partial(spawn_stage, box)


def _refuse_pipes(req: RunRequest) -> None:
    """``PIPE`` ends go to a caller that takes them (``on_spawned``): streaming only."""
    for name in ("stdin", "stdout"):
        if getattr(req, name) is Stream.PIPE:
            raise ValueError(
                f"{req.stages[0].program}: {name}=PIPE is only for streaming (cmd.stream())"
            )


async def run_stages(
    req: RunRequest,
    *,
    on_spawned: OnSpawned | None = None,
    on_cancelled: OnCancelled | None = None,
) -> tuple[Results, int | None]:
    """Check policy, run before hooks, then run the stages; see the module docstring.

    ``on_spawned(Spawned)``: called once every stage runs, before any output is
    read (required for ``stdin=PIPE``/``stdout=PIPE``, whose ends it receives).
    ``on_cancelled(results)``: what a cancelled run had (pids, exit statuses after
    the teardown, output so far), before the cancellation propagates.
    Returns each stage's result and the index of the stage that failed the run.
    """
    policy = req.policy
    for cmd in req.stages:
        policy.check_permitted(cmd.program)
    # A strategy that cannot serve this run is refused up front, like a misuse:
    # before any hook or event (it is not a failed start, nor a cancellation).
    strategy: Strategy = (
        choose_strategy(parent_must_see=req.stage_events) if len(req.stages) > 1 else "direct"
    )
    if on_spawned is None:
        _refuse_pipes(req)
    # Inside a scope that is already cancelled nothing starts, like anyio's and
    # trio's run_process: no before hook, no event, no process. (On trio a
    # deadline that has passed cancels only at the next checkpoint, hence the
    # deadline test rather than checkpoint_if_cancelled.)
    scope_deadline = anyio.current_effective_deadline()  # -inf in a cancelled scope
    if scope_deadline != math.inf and scope_deadline <= anyio.current_time():
        await anyio.lowlevel.checkpoint()
    deadline = await prepare_commands(req.stages, req.timeout)
    if policy.before_hooks:
        for cmd in req.stages:
            for hook in policy.before_hooks:
                hook(cmd)
    return await _Run(req, strategy, on_spawned, on_cancelled, deadline).execute()
