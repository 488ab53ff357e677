"""The wiring plan: every fd and job of a run, built and checked before anything spawns.

:func:`wire` opens what the children need (the first stage's stdin, one hop per
pair of stages from the transport, the final stdout, each stage's stderr) and
records what the parent must do with its own ends: feed stdin, read outputs into
collectors, relay hops, hand stream ends over. If anything fails while wiring,
everything already opened is closed before the error propagates, so a run that
never starts leaks nothing.

A run with ``tty=`` takes its own branch (:func:`_wire_terminal`, at the end):
one pty whose slave is the child's stdin and stdout, read (or handed to the
stream handle) on the master side, and a spawner that makes it the child's
controlling terminal.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import subprocess
import sys
from collections.abc import AsyncIterable, Callable
from typing import TYPE_CHECKING, Literal, TextIO

from cuprum._model.io import Stream
from cuprum._runtime.child import ChildProcess, spawn
from cuprum._runtime.emit import HopCollector
from cuprum._runtime.fifo import FifoEnd
from cuprum._runtime.outputs import drain_nonblocking
from cuprum._runtime.redirect import inherited, open_input, open_target
from cuprum._runtime.request import RunRequest
from cuprum._runtime.secrets import run_secrets
from cuprum._runtime.spawn_errors import spawn_error
from cuprum._runtime.stage import Stage
from cuprum._runtime.stdin import input_bytes
from cuprum._runtime.streams import StreamCollector
from cuprum._transport.dispatch import Strategy
from cuprum._transport.hop import Hop, open_hop
from cuprum._transport.pipes import (
    DEFAULT_PIPE_SIZE,
    PIPE_SIZE,
    close_quietly,
    make_pipe,
)

if TYPE_CHECKING:
    from cuprum._runtime.terminal import Pty

__all__ = ["Plan", "wire"]

StdinFeed = bytes | AsyncIterable[bytes]
Spawner = Callable[..., ChildProcess]
_OUT_OF_FDS = (errno.EMFILE, errno.ENFILE)


class Plan:
    """What :func:`wire` opened: the children's fds and the parent's ends and jobs."""

    __slots__ = (
        "child_fds",
        "feed",
        "growing",
        "held",
        "hops",
        "parent_fds",
        "pipe_stdin",
        "pipe_stdout",
        "readers",
        "spawner",
        "stage_fds",
        "terminal",
        "terminal_handed",
        "wiring",
    )

    def __init__(self, count: int) -> None:
        self.wiring = 0  # the stage being wired: a failure names its program
        #: Per stage: the child's stdin, stdout and stderr (None: what the child inherits
        #: by itself, nothing here: see ``redirect.inherited``).
        self.stage_fds: list[list[int | None]] = [[subprocess.DEVNULL] * 3 for _ in range(count)]
        self.child_fds: list[int] = []  # ours to close once every stage is spawned
        self.held: list[int] = []  # write ends the child has, kept until it exits
        self.parent_fds: set[int] = set()  # our own ends (hops keep theirs)
        self.hops: list[Hop] = []
        self.readers: dict[int, StreamCollector] = {}  # output fd -> its collector
        self.growing: list[int] = []  # output fds whose pipe may grow (stdout)
        self.feed: tuple[int, StdinFeed] | None = None  # our stdin end, what to write
        self.pipe_stdin: int | None = None  # stdin=PIPE: our end, for the caller
        self.pipe_stdout: int | None = None  # stdout=PIPE: our end, for the caller
        self.spawner: Spawner = spawn  # how each stage starts (child.spawn, or on a terminal)
        self.terminal: Pty | None = None  # tty=: the run's pty
        self.terminal_handed = False  # the stream handle closes it at the end of its block

    def child(self, fd: int) -> int:
        self.child_fds.append(fd)
        return fd

    def writer(self, fd: int, *, hold: bool) -> int:
        """A read pipe's write end for the child; ``hold``: we keep our copy until the
        child exits (see :meth:`let_go_writers`)."""
        if hold:
            self.held.append(fd)
            return fd
        return self.child(fd)

    def let_go_writers(self) -> None:
        """Close our copies of the held write ends (one command's output pipes, held
        until it exits so that its exit wakes the reader once): the pipes end now."""
        for fd in self.held:
            try:  # noqa: SIM105 (close_quietly, inline: every run's path)
                os.close(fd)
            except OSError:
                pass
        self.held.clear()

    def parent(self, fd: int) -> int:
        os.set_blocking(fd, False)  # (transport's set_nonblocking, one call less)
        self.parent_fds.add(fd)
        return fd

    def close_fd(self, fd: int) -> None:
        """Close one of our own ends, if it is still open."""
        if fd in self.parent_fds:
            self.parent_fds.discard(fd)
            os.close(fd)

    def spawned(self) -> None:
        """Every stage runs: close the child-side fds (the children have their copies)."""
        for fd in self.child_fds:
            if fd >= 0:
                close_quietly(fd)
        self.child_fds.clear()
        for hop in self.hops:
            hop.spawned()

    def hand_over(self) -> tuple[int | None, int | None]:
        """Give the caller the ``PIPE`` ends (``stdin``, ``stdout``): no longer ours to close."""
        for fd in (self.pipe_stdin, self.pipe_stdout):
            if fd is not None:
                self.parent_fds.discard(fd)
        self.terminal_handed = self.terminal is not None
        return self.pipe_stdin, self.pipe_stdout

    def drain_and_close(self) -> None:
        """After a teardown: keep whatever output is buffered, then close every fd.

        Line events for drained output may reach a hook that raises again: that
        cannot stop the remaining fds from being closed.
        """
        try:
            for fd, collector in self.readers.items():
                if fd in self.parent_fds:
                    with contextlib.suppress(Exception):
                        drain_nonblocking(fd, collector.feed)
                    with contextlib.suppress(Exception):
                        collector.close()
        finally:
            self.close_all()

    def close_all(self) -> None:
        """Close every fd the plan still holds (idempotent)."""
        if self.held:
            self.let_go_writers()
        for fd in self.child_fds:
            if fd >= 0:
                close_quietly(fd)
        self.child_fds.clear()
        for fd in self.parent_fds:
            close_quietly(fd)
        self.parent_fds.clear()
        for hop in self.hops:
            hop.close()
        if self.terminal is not None and not self.terminal_handed:
            self.terminal.hangup()

    def hang_up(self) -> None:
        """A teardown closes the terminal first (the session gets SIGHUP), keeping what
        it had buffered; a run without a terminal has nothing to do here."""
        pty = self.terminal
        if pty is None or pty.fd is None:
            return
        collector = self.readers.pop(pty.fd, None)
        if collector is not None:
            with contextlib.suppress(Exception):
                drain_nonblocking(pty.fd, collector.feed)
            with contextlib.suppress(Exception):
                collector.close()
        pty.hangup()


def wire(
    req: RunRequest,
    stages: list[Stage],
    strategy: Strategy,
    *,
    observed: bool,
    on_let_go: Callable[[int], None],
) -> Plan:
    """Open every fd of the run; ``on_let_go(i)``: stage ``i`` may get SIGPIPE from now.

    ``observed``: observe hooks are registered (output is read for line events).
    """
    count = len(stages)
    plan = Plan(count)
    try:
        if req.tty is not None:
            _wire_terminal(plan, req, stages[0], observed=observed)
            return plan
        plan.stage_fds[0][0] = _stdin(plan, req, stages[0])
        for index in range(count - 1):
            plan.wiring = index
            hop = open_hop(strategy, functools.partial(on_let_go, index))
            plan.hops.append(hop)
            plan.stage_fds[index][1] = hop.upstream_fd
            plan.stage_fds[index + 1][0] = hop.downstream_fd
            if hop.relayed and req.stage_events and observed:
                stages[index].stdout = _hop_collector(req, stages[index])
        wants_pipe = req.capture or req.echo or observed
        plan.wiring = count - 1
        # One command: the reader waits for its exit too (see Plan.let_go_writers).
        hold = count == 1
        stdout = _stdout(plan, req, stages[-1], wants_pipe=wants_pipe, observed=observed, hold=hold)
        plan.stage_fds[-1][1] = stdout
        _stderr(plan, req, stages, stdout, wants_pipe=wants_pipe, hold=hold)
    except BaseException as exc:
        plan.close_all()
        if isinstance(exc, OSError) and exc.errno in _OUT_OF_FDS:
            # No fd left for a pipe or a file: the program cannot start, as when
            # the OS refuses the spawn itself for the same reason.
            program = stages[plan.wiring].cmd.program
            raise spawn_error(exc, (program,), cwd=None, env=None) from exc
        raise
    return plan


def _collector(
    req: RunRequest,
    stage: Stage,
    name: Literal["stdout", "stderr"],
    sink: TextIO | None,
    *,
    tap: bool = False,
    kind: type[StreamCollector] = StreamCollector,
) -> StreamCollector:
    """A stream's collector; ``tap``: only observed (line events), never captured."""
    ctx = req.context
    if tap:
        return kind(
            program=stage.cmd.program,
            name=name,
            capture=False,
            encoding=ctx.encoding,
            errors=ctx.errors,
        )
    return kind(
        program=stage.cmd.program,
        name=name,
        capture=req.capture,
        encoding=ctx.encoding,
        errors=ctx.errors,
        echo=sink if req.echo else None,
        on_line=None,  # bound after spawn, when the pid is known
        limit=req.capture_limit,
        on_limit=req.on_limit,
        text=req.text,
        # Only a limit that raises shows the output (CaptureLimitExceeded.captured).
        secrets=run_secrets(req) if req.on_limit == "raise" else (),
    )


def _hop_collector(req: RunRequest, stage: Stage) -> StreamCollector:
    """What observes a relayed hop's bytes (``stage_events``): line batches, no capture."""
    return _collector(req, stage, "stdout", None, tap=True, kind=HopCollector)


def _stdin(plan: Plan, req: RunRequest, first: Stage) -> int | None:
    """The first stage's stdin, from ``req.stdin``."""
    source = req.stdin
    if source is None or source is Stream.DEVNULL:
        return subprocess.DEVNULL
    if source is Stream.INHERIT:
        return inherited(0)
    if source is Stream.PIPE:
        r, w = make_pipe()
        plan.child(r)
        plan.pipe_stdin = plan.parent(w)
        return r
    if isinstance(source, str | bytes | bytearray | memoryview):
        data = input_bytes(source, req.context.encoding, first.cmd.program)
        r, w = make_pipe(size=PIPE_SIZE if len(data) > DEFAULT_PIPE_SIZE else None)
        plan.child(r)
        plan.feed = (plan.parent(w), data)
        return r
    if isinstance(source, FifoEnd):
        return plan.child(source.take())
    if isinstance(source, os.PathLike):
        return plan.child(open_input(source, first.cmd.program))
    if hasattr(source, "fileno"):
        return int(source.fileno())
    if isinstance(source, AsyncIterable):
        r, w = make_pipe()
        plan.child(r)
        plan.feed = (plan.parent(w), source)
        return r
    raise TypeError(f"{first.cmd.program}: unsupported stdin {type(source)!r}")


def _stdout(
    plan: Plan, req: RunRequest, last: Stage, *, wants_pipe: bool, observed: bool, hold: bool
) -> int | None:
    """The final stage's stdout: a pipe we read, the caller's pipe, or a redirect.

    ``hold``: keep our copy of a read pipe's write end until the child exits.
    """
    if req.stdout is Stream.PIPE:
        # Streaming: the caller reads this pipe itself and owns its read end; with
        # observers it feeds what it reads to the collector, for line events.
        r, w = make_pipe(size=PIPE_SIZE)
        plan.child(w)
        plan.pipe_stdout = plan.parent(r)
        if observed:
            last.stdout = _collector(req, last, "stdout", None, tap=True)
        return w
    if req.stdout is None and wants_pipe:
        r, w = make_pipe()  # the reader enlarges it if the output turns out big
        plan.writer(w, hold=hold)
        last.stdout = _collector(req, last, "stdout", req.context.stdout_sink or sys.stdout)
        _read(plan, plan.parent(r), last.stdout, grow=True)
        return w
    if req.stdout is None:
        return subprocess.DEVNULL
    return open_target(plan.child, req.stdout, 1, last.cmd.program)


def _stderr(
    plan: Plan,
    req: RunRequest,
    stages: list[Stage],
    stdout: int | None,
    *,
    wants_pipe: bool,
    hold: bool = False,
) -> None:
    """Every stage's stderr: one shared target, or a pipe we read per stage."""
    piped = req.stderr is None and wants_pipe
    shared: int | None = subprocess.DEVNULL
    if req.stderr is Stream.STDOUT:
        # Into a stdout the host does not have (INHERIT of a closed fd 1): nowhere.
        shared = subprocess.DEVNULL if stdout is None else stdout
    elif req.stderr is not None:
        # None: INHERIT of a closed fd 2
        shared = open_target(plan.child, req.stderr, 2, stages[0].cmd.program)
    for stage, fds in zip(stages, plan.stage_fds, strict=True):
        if not piped:
            fds[2] = shared
            continue
        plan.wiring = stage.index
        r, w = make_pipe()
        fds[2] = plan.writer(w, hold=hold)
        stage.stderr = _collector(req, stage, "stderr", req.context.stderr_sink or sys.stderr)
        _read(plan, plan.parent(r), stage.stderr)


def _read(plan: Plan, fd: int, collector: StreamCollector, *, grow: bool = False) -> None:
    """Have the run's output reader (one task for all pipes) feed ``fd`` to ``collector``."""
    plan.readers[fd] = collector
    if grow:
        plan.growing.append(fd)


# -- tty=: the terminal branch ----------------------------------------------------


def _wire_terminal(plan: Plan, req: RunRequest, stage: Stage, *, observed: bool) -> None:
    """One command on a pty: stdin and stdout the slave, stderr a pipe (or the terminal
    with ``stderr=STDOUT``, or a redirect). ``stdout=PIPE`` (a stream): the handle reads
    and writes the master; otherwise the output reader reads it. The master is
    never in ``parent_fds``: the :class:`Pty` closes it, once."""
    # Imported here: termios and ctypes are only for runs on a terminal.
    from cuprum._model.terminal import Terminal
    from cuprum._runtime.pty_owned import open_pty
    from cuprum._runtime.terminal import TerminalCollector
    from cuprum._runtime.terminal_spawn import spawn_on_terminal

    pty = open_pty(plan, req.tty or Terminal())  # the slave closes once the child runs
    plan.spawner = functools.partial(spawn_on_terminal, pty)
    fds = plan.stage_fds[0]
    fds[0] = fds[1] = pty.slave_fd
    assert pty.fd is not None
    if req.stdout is Stream.PIPE:
        if observed:
            stage.stdout = _collector(req, stage, "stdout", None, tap=True, kind=TerminalCollector)
    else:
        sink = req.context.stdout_sink or sys.stdout
        stage.stdout = _collector(req, stage, "stdout", sink, kind=TerminalCollector)
        _read(plan, pty.fd, stage.stdout)
    wants_pipe = req.capture or req.echo or observed
    _stderr(plan, req, [stage], pty.slave_fd, wants_pipe=wants_pipe)
