"""One run's state and the steps of its life that need no waiting, shared by both drivers.

The engine (:mod:`.engine`) drives a run on anyio; :mod:`.direct` drives one local
command from synchronous code, in the calling thread. Both take the same steps,
defined here once: :func:`admit` (allowlist, strategy, misuse), :func:`run_before_hooks`,
then :class:`Run`'s :meth:`~Run.announce` (``plan`` events), :meth:`~Run.start`
(wire every fd, spawn, ``start`` events), and at the end :meth:`~Run.complete`
(``exit`` events, results, after hooks) or, for a run that failed after its
teardown, :meth:`~Run.report` (``error`` events, the exception to raise).
"""

from __future__ import annotations

import functools
import itertools
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from cuprum._core.errors import InvalidArgumentError
from cuprum._core.events import ErrorKind
from cuprum._core.secret import Secret
from cuprum._model.io import Stream
from cuprum._model.results import CommandResult, Outcome
from cuprum._runtime.blame import Blame
from cuprum._runtime.child import ChildProcess
from cuprum._runtime.emit import Emitter
from cuprum._runtime.environment import child_env
from cuprum._runtime.failures import cause, deadline_expired, error_kind, fail
from cuprum._runtime.fifo import FifoEnd
from cuprum._runtime.outcome import result, timeout_error
from cuprum._runtime.outputs import OutputReader
from cuprum._runtime.request import RunRequest
from cuprum._runtime.secrets import run_secrets
from cuprum._runtime.stage import make_stages
from cuprum._runtime.streams import StreamCollector, StreamTap
from cuprum._runtime.substitution import spawn_argv
from cuprum._runtime.validate_env import check_spawn_env
from cuprum._runtime.wiring import Plan, wire
from cuprum._transport.dispatch import Strategy, choose_strategy

if TYPE_CHECKING:
    from cuprum._runtime.contain import Box
    from cuprum._runtime.terminal import Pty

__all__ = [
    "OnStopped",
    "OnSpawned",
    "Results",
    "Run",
    "Spawned",
    "admit",
    "output_reader",
    "run_before_hooks",
]

Results = tuple[CommandResult[Any], ...]


class Spawned(NamedTuple):
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
OnStopped = Callable[[Results], None]

# The failure kinds whose runs are salvaged for ``on_stopped``, and their outcome.
_STOPPED: dict[str, Outcome] = {"cancelled": "cancelled", "timeout": "timed_out"}


def admit(req: RunRequest, on_spawned: OnSpawned | None) -> Strategy:
    """The allowlist, then the pipeline's strategy (refused up front, like a misuse:
    before any hook or event), and ``PIPE`` only for a caller that takes the ends."""
    policy = req.policy
    for cmd in req.stages:
        policy.check_permitted(cmd.program)
    strategy: Strategy = (
        choose_strategy(parent_must_see=req.stage_events) if len(req.stages) > 1 else "direct"
    )
    if on_spawned is None:
        for name in ("stdin", "stdout"):
            if getattr(req, name) is Stream.PIPE:
                raise InvalidArgumentError(
                    f"{req.stages[0].program}: {name}=PIPE is only for streaming (cmd.stream())"
                )
    return strategy


def run_before_hooks(req: RunRequest) -> None:
    """Every before hook, for every stage, in the order they were registered."""
    before_hooks = req.policy.before_hooks
    if before_hooks:
        for cmd in req.stages:
            for hook in before_hooks:
                hook(cmd)


class Run:
    """The state of one run and its steps that need no waiting (see the module docstring)."""

    __slots__ = (
        "announced",
        "blame",
        "env",
        "events",
        "fifos",
        "on_spawned",
        "on_stopped",
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
        on_spawned: OnSpawned | None = None,
        on_stopped: OnStopped | None = None,
    ) -> None:
        self.req = req
        self.strategy = strategy
        self.on_spawned = on_spawned
        self.on_stopped = on_stopped
        ctx = req.context
        # Read once, after the before hooks (which may have changed the mapping since
        # the request was checked): the overlay checked is the one the child is given.
        overlay = dict(ctx.env) if ctx.env else None
        if overlay:
            check_spawn_env(req.stages, overlay, req.policy)
        self.env = child_env(ctx, overlay)
        self.events = Emitter(req.policy.observe_hooks, ctx, run_secrets(req))
        self.stages = make_stages(req.stages, ctx.tags)
        self.blame = Blame(self.stages, req.accepted)
        self.plan: Plan | None = None
        self.announced = 0  # stages whose plan event went out: each gets a terminal one
        self.tap: StreamTap | None = None  # a streamed, observed stdout, read by the caller
        self.fifos: list[FifoEnd] = []  # FIFOs opened before the wiring (see .fifo)

    def announce(self, timeout: float | None) -> None:
        """``plan`` events, then refuse a deadline (``timeout`` left) that has passed."""
        for stage in self.stages:
            self.announced += 1
            self.events.emit(stage, "plan")
        if timeout is not None and timeout <= 0:
            raise deadline_expired(f"timeout of {self.req.timeout}s expired at once")

    def start(self) -> None:
        """Wire every fd, spawn every stage, tell the caller, then ``start`` events."""
        req, stages = self.req, self.stages
        children: list[ChildProcess] = []  # each stage's, stored as its spawner returns it
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
                _spawn_into(
                    children,
                    spawner,
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
                stage.child = children[-1]
                stage.started = time.perf_counter()
        except BaseException as exc:
            # Every child that started is the teardown's, wherever a handler raised.
            for stage, child in zip(stages, children, strict=False):  # those that started
                stage.child = child
            if not isinstance(exc, Exception):
                raise
            self.events.started_before_failing(s for s in stages if s.child is not None)
            fail("spawn_failed", exc)  # whatever stopped it, the program did not start
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

    def input_dropped(self, dropped: int) -> None:
        """Once stdin is fed: a ``stdin_closed`` event if the child left input untaken."""
        if dropped > 0:
            message = f"child closed stdin; {dropped} bytes of input dropped"
            self.events.emit(self.stages[0], "stdin_closed", message=message)

    def complete(self) -> tuple[Results, int | None]:
        """After the reap and the usage: ``exit`` events, results (decoded here), after hooks."""
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

    def report(self, failure: BaseException, during: BaseException | None = None) -> BaseException:
        """After the teardown of a run that failed with ``failure`` (unwrapped): one
        ``error`` event per announced stage, a cancelled run's salvage; returns the
        exception to raise. ``during``: the failure the run was ending with when its
        teardown raised ``failure`` (a child it may not kill): what it would have
        raised (``TimeoutExpired``) is the context of what it raises, as if handled,
        and the events' message says it too."""
        for end in self.fifos:  # opened, but the wiring never took it
            end.close()
        kind = error_kind(failure)
        real, message = self._raised(kind, failure)
        if during is not None:
            first, said = self._raised(error_kind(during), during)
            message += f" (stopping the run, which had failed: {said})"
            if real.__context__ is None:
                real.__context__ = first
        self.events.errors(self.stages[: self.announced], kind, message)
        spawned = all(stage.child is not None for stage in self.stages)
        stopped: Outcome | None = _STOPPED.get(kind)
        if stopped is not None and self.on_stopped is not None and spawned:
            self.on_stopped(tuple(result(self.req, s, outcome=stopped) for s in self.stages))
        return real

    def _raised(self, kind: ErrorKind, failure: BaseException) -> tuple[BaseException, str]:
        """The exception to raise for ``failure`` (of ``kind``), and its events' message."""
        real = cause(failure)
        if kind != "timeout":
            return real, f"{type(real).__name__}: {real}"
        # (the message as for any error: "TimeoutExpired: ...")
        detail = str(real)  # what timed out, when more than the run itself
        real = timeout_error(self.req, self.stages)
        message = f"{type(real).__name__}: {real}"
        if detail != f"timed out after {self.req.timeout}s":
            message += f" ({detail})"
        return real, message


def output_reader(
    plan: Plan, child: ChildProcess | None, *, in_thread: bool = False
) -> OutputReader:
    """The run's output reader: every read pipe into its collector, finished and closed
    at its EOF. With ``child`` (one command) its pidfd is in the epoll set too, and the
    pipes' write ends are held until its exit (``Plan.let_go_writers``): one wake-up.
    After a teardown, ``Plan.drain_and_close`` drains what is still buffered instead.
    ``in_thread``: waited on by this thread (see :class:`OutputReader`)."""
    exit_fd = child.exit_fd() if child is not None else None
    if exit_fd is None:  # no pidfd: the pipes end by themselves, the exit is polled
        plan.let_go_writers()

    def finished(fd: int) -> None:
        plan.readers[fd].close()
        plan.close_fd(fd)

    sinks = {fd: collector.feed for fd, collector in plan.readers.items()}
    return OutputReader(
        sinks,
        finished,
        grow=plan.growing,
        exit_fd=exit_fd,
        on_exit=plan.let_go_writers,
        in_thread=in_thread,
    )


def _spawn_into(
    children: list[ChildProcess], spawner: Callable[..., ChildProcess], argv: Any, **options: Any
) -> None:
    """``spawner(argv, **options)``, its child appended to ``children`` as it returns.

    Both calls are made from C (``extend`` runs the spawner through ``starmap``): a
    signal handler that raised as a spawner returned (a ``functools.partial``'s call
    ends at a check point) would otherwise lose a running child to the teardown.
    """
    children.extend(itertools.starmap(functools.partial(spawner, **options), ((argv,),)))


def _boxed(box: Box) -> Callable[..., Any]:
    """The spawner of a contained stage (containment is imported only when used)."""
    from cuprum._runtime.contain import spawn_stage

    return functools.partial(spawn_stage, box)
