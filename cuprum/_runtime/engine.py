"""Running wired stages: the path every ``run()`` takes, one command or a pipeline.

A single command is a pipeline of one stage, so there is one code path for
allowlist checks, hooks, events, spawning, output, deadlines, fail-fast and
teardown. The order of one run::

    check allowlist -> before hooks -> plan -> wire fds -> spawn -> start
    -> task group {stdin feeder, output reader, hop relays, exit watchers}
       under the deadline -> exit (or one error event) -> after hooks -> results

One task reads every output pipe of the run (:func:`.pipes.read_outputs`); a
single command whose only job is that reader runs it in the host task, without
a task group.
"""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import sys
import time
from collections.abc import AsyncIterable, Callable, Mapping
from typing import Any, Literal

import anyio
import anyio.abc
import anyio.lowlevel

from cuprum._core.errors import TimeoutExpired
from cuprum._core.events import ErrorKind, ExecEvent, ExecPhase, ObserveHook, line_event
from cuprum._model.io import AppendTo, Stream
from cuprum._model.results import CommandResult, Outcome
from cuprum._model.spec import CommandSpec
from cuprum._runtime.child import ChildProcess, spawn, terminate_groups
from cuprum._runtime.pipes import (
    PIPE_SIZE,
    drain_nonblocking,
    make_pipe,
    read_outputs,
    set_nonblocking,
)
from cuprum._runtime.request import RunRequest
from cuprum._runtime.stdin import feed_bytes, feed_iterable
from cuprum._runtime.streams import CaptureLimitExceeded, StreamCollector
from cuprum._transport.dispatch import Strategy, choose_strategy, relay_for

__all__ = ["run_stages"]


class _Stage:
    """One stage's fds, collectors and process, and its event fields built once."""

    __slots__ = (
        "argv",
        "child",
        "cmd",
        "ended",
        "env",
        "index",
        "started",
        "stderr",
        "stdout",
        "tags",
    )

    def __init__(self, index: int, cmd: CommandSpec, tags: Mapping[str, object]) -> None:
        self.index = index
        self.cmd = cmd
        self.argv = cmd.argv_with_program
        self.tags = tags
        self.child: ChildProcess | None = None
        self.stdout: StreamCollector | None = None
        self.stderr: StreamCollector | None = None
        self.started = 0.0
        self.ended = 0.0

    @property
    def duration(self) -> float:
        return max(0.0, (self.ended or time.perf_counter()) - self.started) if self.started else 0.0


def _writers_gone(fd: int) -> bool:
    """Whether every write end of the pipe whose read end is ``fd`` is closed.

    ``POLLHUP``, without reading: a writer that has closed its end (it is exiting,
    say, though not yet waitable) can no longer get EPIPE on it.
    """
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return any(events & select.POLLHUP for _, events in poller.poll(0))


def _unwrap(exc: BaseException) -> BaseException:
    """The single real error inside (nested) exception groups from our task group.

    When a capture limit fails the run, other tasks may fail in the same step as
    they are cancelled: that is one failure, reported as the first
    ``CaptureLimitExceeded``, not as a group.
    """
    while isinstance(exc, BaseExceptionGroup):
        if len(exc.exceptions) != 1:
            _, others = exc.split(CaptureLimitExceeded)
            if others is not None:
                break
        exc = exc.exceptions[0]
    return exc


class _Run:
    """The state of one run; :meth:`execute` is the whole life cycle."""

    def __init__(self, req: RunRequest, strategy: Strategy = "direct") -> None:
        self.req = req
        self.strategy = strategy
        ctx = req.context
        self.hooks: tuple[ObserveHook, ...] = req.policy.observe_hooks
        self.cwd = os.fspath(ctx.cwd) if ctx.cwd is not None else None
        self.env_overlay = dict(ctx.env) if ctx.env else None
        self.env = {**os.environ, **ctx.env} if ctx.env else None
        count = len(req.stages)
        self.stages = [
            _Stage(i, cmd, self._tags(cmd, i, count)) for i, cmd in enumerate(req.stages)
        ]
        self.failure_index: int | None = None
        self.child_fds: list[int] = []  # closed once every stage has been spawned
        self.parent_fds: set[int] = set()
        self.readers: dict[int, StreamCollector] = {}
        self.growing: list[int] = []  # output fds whose pipe may grow (stdout)
        self.tasks: list[Callable[[], Any]] = []
        self.tg: anyio.abc.TaskGroup | None = None
        self.stdin_dropped = 0
        # SIGPIPE/EPIPE blame: a non-final stage is excused only if it was still
        # running when the parent let go of the read side of its stdout hop (after
        # the downstream exited, or the relay hit EPIPE). ``hop_holds`` keeps the
        # parent's copy of each direct hop's read end until then, so the stage
        # cannot see EPIPE earlier.
        self.hop_holds: dict[int, int] = {}
        self.excused: set[int] = set()

    def _tags(self, cmd: CommandSpec, index: int, count: int) -> dict[str, object]:
        tags: dict[str, object] = {"project": cmd.project.name}
        if count > 1:
            tags["pipeline_stage_index"] = index
            tags["pipeline_stages"] = count
        tags.update(self.req.context.tags)
        return tags

    # -- events ---------------------------------------------------------------

    def _event(self, stage: _Stage, phase: ExecPhase, **fields: Any) -> ExecEvent:
        return ExecEvent(
            phase,
            stage.cmd.program,
            stage.argv,
            self.cwd,
            self.env_overlay,
            stage.tags,  # one mapping per stage per attempt: observers may key on it
            time.time(),
            stage.child.pid if stage.child is not None else None,
            **fields,
        )

    def emit(self, stage: _Stage, phase: ExecPhase, **fields: Any) -> None:
        if not self.hooks:
            return
        event = self._event(stage, phase, **fields)
        for hook in self.hooks:
            hook(event)

    def line_emitter(self, stage: _Stage, phase: ExecPhase) -> Callable[[str], None]:
        """A per-line event callback with every constant field bound once."""
        hooks = self.hooks
        program, argv, cwd, env, tags = (
            stage.cmd.program,
            stage.argv,
            self.cwd,
            self.env_overlay,
            stage.tags,
        )
        pid = stage.child.pid if stage.child is not None else None
        now = time.time

        def emit_line(line: str) -> None:
            event = line_event(phase, program, argv, cwd, env, tags, now(), pid, line)
            for hook in hooks:
                hook(event)

        return emit_line

    def emit_terminal_error(
        self, kind: ErrorKind, message: str, stages: list[_Stage] | None = None
    ) -> None:
        """One ``error`` event per stage, on a path that is already raising.

        A hook that raises here (perhaps the one whose failure brought us here) is
        skipped, so every other hook still sees the end and the original error is
        the one that propagates.
        """
        for stage in self.stages if stages is None else stages:
            code = stage.child.exit_code if stage.child is not None else None
            event = self._event(
                stage,
                "error",
                exit_code=code,
                duration_s=stage.duration,
                error=kind,
                message=message,
            )
            for hook in self.hooks:
                with contextlib.suppress(Exception):
                    hook(event)

    # -- wiring ---------------------------------------------------------------

    def _parent(self, fd: int) -> int:
        set_nonblocking(fd)
        self.parent_fds.add(fd)
        return fd

    def _close(self, fd: int) -> None:
        if fd in self.parent_fds:
            self.parent_fds.discard(fd)
            os.close(fd)

    def _open_target(self, target: Any, default_fd: int) -> int:
        """A child-side fd for a redirect target (paths opened here, closed after spawn)."""
        if target is Stream.DEVNULL:
            return subprocess.DEVNULL
        if target is Stream.INHERIT:
            return default_fd
        if isinstance(target, AppendTo | str | os.PathLike):
            append = isinstance(target, AppendTo)
            path = target.path if isinstance(target, AppendTo) else target
            flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC
            fd = os.open(path, flags | (os.O_APPEND if append else os.O_TRUNC), 0o666)
            self.child_fds.append(fd)
            return fd
        if hasattr(target, "fileno"):
            if hasattr(target, "flush"):
                target.flush()
            return int(target.fileno())
        raise TypeError(f"cannot redirect to {target!r}")

    def _collector(
        self, stage: _Stage, name: Literal["stdout", "stderr"], sink: Any
    ) -> StreamCollector:
        req = self.req
        return StreamCollector(
            program=stage.cmd.program,
            name=name,
            capture=req.capture,
            encoding=req.context.encoding,
            errors=req.context.errors,
            echo=sink if req.echo else None,
            on_line=None,  # bound after spawn, when the pid is known
            limit=req.capture_limit,
            on_limit=req.on_limit,
            text=req.text,
        )

    def _wants_pipe(self) -> bool:
        return self.req.capture or self.req.echo or bool(self.hooks)

    def wire(self) -> list[dict[str, int]]:
        """Create every fd the children need; returns per-stage stdin/stdout/stderr."""
        req, ctx = self.req, self.req.context
        n = len(self.stages)
        fds: list[dict[str, int]] = [{} for _ in range(n)]
        # stdin of the first stage
        fds[0]["stdin"] = self._stdin_fd()
        # hops
        strategy = self.strategy
        for i in range(n - 1):
            if strategy == "direct":
                r, w = make_pipe(size=PIPE_SIZE)
                self.child_fds.append(w)
                self.parent_fds.add(r)  # blocking: the child shares this file description
                self.hop_holds[i] = r
                fds[i]["stdout"], fds[i + 1]["stdin"] = w, r
            else:
                r1, w1 = make_pipe(size=PIPE_SIZE)
                r2, w2 = make_pipe(size=PIPE_SIZE)
                self.child_fds += (w1, r2)
                fds[i]["stdout"], fds[i + 1]["stdin"] = w1, r2
                self._start_relay(i, self._parent(r1), self._parent(w2), strategy)
        # final stdout
        last = self.stages[-1]
        merged_stdout: int
        if req.stdout is None and req.ends is not None:
            # Streaming: the handle reads this pipe itself and owns its read end.
            r, w = make_pipe(size=PIPE_SIZE)
            self.child_fds.append(w)
            set_nonblocking(r)
            req.ends.stdout_fd = r
            merged_stdout = w
        elif req.stdout is None and self._wants_pipe():
            r, w = make_pipe()  # the reader enlarges it if the output turns out big
            self.child_fds.append(w)
            last.stdout = self._collector(last, "stdout", ctx.stdout_sink or sys.stdout)
            self._start_reader(last, "stdout", self._parent(r))
            merged_stdout = w
        elif req.stdout is None:
            merged_stdout = subprocess.DEVNULL
        else:
            merged_stdout = self._open_target(req.stdout, 1)
        fds[-1]["stdout"] = merged_stdout
        # stderr of every stage
        shared_err: int | None = None
        if req.stderr is Stream.STDOUT:
            shared_err = merged_stdout
        elif req.stderr is not None:
            shared_err = self._open_target(req.stderr, 2)
        elif not self._wants_pipe():
            shared_err = subprocess.DEVNULL
        for stage, stage_fds in zip(self.stages, fds, strict=True):
            if shared_err is not None:
                stage_fds["stderr"] = shared_err
                continue
            r, w = make_pipe()
            self.child_fds.append(w)
            stage.stderr = self._collector(stage, "stderr", ctx.stderr_sink or sys.stderr)
            self._start_reader(stage, "stderr", self._parent(r))
            stage_fds["stderr"] = w
        return fds

    def _stdin_fd(self) -> int:
        source = self.req.stdin
        if source is None or source is Stream.DEVNULL:
            return subprocess.DEVNULL
        if source is Stream.INHERIT:
            return 0
        if source is Stream.PIPE:
            if self.req.ends is None:
                raise ValueError("stdin=PIPE is only for streaming (cmd.stream())")
            r, w = make_pipe()
            self.child_fds.append(r)
            set_nonblocking(w)
            self.req.ends.stdin_fd = w
            return r
        if isinstance(source, str | bytes | bytearray | memoryview):
            data = (
                source.encode(self.req.context.encoding)
                if isinstance(source, str)
                else bytes(source)
            )
            r, w = make_pipe(size=PIPE_SIZE if len(data) > 65536 else None)
            self.child_fds.append(r)
            fd = self._parent(w)
            self.tasks.append(lambda: self._feed_stdin(fd, data))
            return r
        if isinstance(source, os.PathLike):
            fd = os.open(source, os.O_RDONLY | os.O_CLOEXEC)
            self.child_fds.append(fd)
            return fd
        if hasattr(source, "fileno"):
            return int(source.fileno())
        if isinstance(source, AsyncIterable):
            r, w = make_pipe()
            self.child_fds.append(r)
            fd = self._parent(w)
            self.tasks.append(lambda: self._feed_stdin(fd, source))
            return r
        raise TypeError(f"{self.stages[0].cmd.program}: unsupported stdin {type(source)!r}")

    # -- tasks ----------------------------------------------------------------

    def _start_reader(self, stage: _Stage, name: Literal["stdout", "stderr"], fd: int) -> None:
        """Have this run's output reader (one task for all pipes) feed ``fd`` to its collector."""
        collector = stage.stdout if name == "stdout" else stage.stderr
        assert collector is not None
        if not self.readers:
            self.tasks.append(self._read_outputs)
        self.readers[fd] = collector
        if name == "stdout":
            self.growing.append(fd)

    async def _read_outputs(self) -> None:
        def finished(fd: int) -> None:
            # On EOF the stream is finished here; after a teardown,
            # _close_parent_fds drains what is still buffered instead.
            self.readers[fd].close()
            self._close(fd)

        sinks = {fd: collector.feed for fd, collector in self.readers.items()}
        await read_outputs(sinks, finished, grow=self.growing)

    def _start_relay(self, index: int, reader_fd: int, writer_fd: int, strategy: Any) -> None:
        relay = relay_for(strategy)
        stage = self.stages[index]

        async def run_relay() -> None:
            on_chunk = None
            collector: StreamCollector | None = None
            if self.req.stage_events and self.hooks:
                collector = StreamCollector(
                    program=stage.cmd.program,
                    name="stdout",
                    capture=False,
                    encoding=self.req.context.encoding,
                    errors=self.req.context.errors,
                    on_line=self.line_emitter(stage, "stdout"),
                )
                on_chunk = collector.feed
            finished = False
            try:
                await relay(reader_fd, writer_fd, on_chunk=on_chunk)
                finished = True
            finally:
                # Cancelled (deadline, caller) or failed: both ends stay open until the
                # teardown has signalled every stage (_close_parent_fds), so the next
                # stage never takes the cut for a clean end of input.
                if finished:
                    self._close(writer_fd)  # the next stage sees EOF
                    if not _writers_gone(reader_fd):  # the relay stopped: the reader went
                        self._excuse_if_running(index)
                    self._close(reader_fd)  # a still-writing stage gets SIGPIPE
                if collector is not None:
                    collector.close()

        self.tasks.append(run_relay)

    async def _feed_stdin(self, fd: int, source: bytes | AsyncIterable[bytes]) -> None:
        """Feed the first stage's stdin (see :mod:`.stdin`), then close our end."""
        try:
            if isinstance(source, bytes):
                dropped = await feed_bytes(fd, source)
            else:
                reader = self.stages[0].child
                assert reader is not None
                dropped = await feed_iterable(fd, source, reader)
        finally:
            self._close(fd)
        self._note_stdin_dropped(dropped)

    def _note_stdin_dropped(self, dropped: int) -> None:
        if dropped > 0:
            self.stdin_dropped += dropped
            self.emit(
                self.stages[0],
                "stdin_closed",
                message=f"child closed stdin; {dropped} bytes of input dropped",
            )

    async def _watch(self, stage: _Stage) -> None:
        child = stage.child
        assert child is not None
        code = await child.wait_exit()
        stage.ended = time.perf_counter()
        hold = self.hop_holds.pop(stage.index - 1, None)
        if hold is not None:  # the upstream stage may get SIGPIPE/EPIPE from now on
            if not _writers_gone(hold):
                self._excuse_if_running(stage.index - 1)
            self._close(hold)
        if code == 0 or child.stopped or self.failure_index is not None:
            return
        if self._reader_gone(stage):
            return
        self.failure_index = stage.index
        others = [s.child for s in self.stages if s.child is not None and s.child.exit_code is None]
        if others and self.tg is not None:
            self.tg.start_soon(terminate_groups, others, self.req.context.cancel_grace)

    def _excuse_if_running(self, index: int) -> None:
        """Called just before stage ``index`` can first see EPIPE on its stdout."""
        child = self.stages[index].child
        if child is not None and child.exit_code is None and child._peek() is None:
            self.excused.add(index)

    def _reader_gone(self, stage: _Stage) -> bool:
        """A non-final stage that died of SIGPIPE, or exited after its reader had gone
        (see ``excused``), is not blamed. Decided from what happened first, not from
        what the watchers happen to see when they run."""
        if stage.index == len(self.stages) - 1:
            return False
        code = stage.child.exit_code if stage.child else None
        return code in (-13, 141) or stage.index in self.excused

    # -- life cycle -----------------------------------------------------------

    async def execute(self) -> tuple[tuple[CommandResult[Any], ...], int | None]:
        req = self.req
        for index, stage in enumerate(self.stages):
            try:
                self.emit(stage, "plan")
            except Exception as exc:  # end what was announced, then let the hook's error out
                self.emit_terminal_error(
                    "hook_failed", f"{type(exc).__name__}: {exc}", self.stages[: index + 1]
                )
                raise
        if req.timeout is not None and req.timeout <= 0:
            self.emit_terminal_error("timeout", f"timeout of {req.timeout}s expired at once")
            raise self._timeout_error()
        try:
            fds = self.wire()
            for stage, stage_fds in zip(self.stages, fds, strict=True):
                stage.child = spawn(
                    stage.argv,
                    cwd=req.context.cwd,
                    env=self.env,
                    stdin=stage_fds.get("stdin", subprocess.DEVNULL),
                    stdout=stage_fds["stdout"],
                    stderr=stage_fds["stderr"],
                )
                stage.started = time.perf_counter()
        except BaseException as exc:
            self._close_all(self.child_fds)
            await self._teardown()
            self._close_parent_fds()
            kind: ErrorKind = "spawn_failed" if isinstance(exc, OSError) else "cancelled"
            self.emit_terminal_error(kind, str(exc))
            raise
        self._close_all(self.child_fds)
        if req.ends is not None:
            req.ends.pids = tuple(s.child.pid for s in self.stages if s.child is not None)
        try:
            self._bind_line_events()
            for stage in self.stages:
                self.emit(stage, "start")
            timed_out = await self._supervise()
        except BaseException as exc:
            real = _unwrap(exc)
            await self._teardown()
            self._close_parent_fds()
            cancelled = isinstance(real, anyio.get_cancelled_exc_class() | KeyboardInterrupt)
            kind = (
                "cancelled"
                if cancelled
                else "capture_limit"
                if isinstance(real, CaptureLimitExceeded)
                else "hook_failed"
            )
            self.emit_terminal_error(kind, f"{type(real).__name__}: {real}")
            if cancelled and req.on_cancelled is not None:
                self._salvage(req.on_cancelled)
            if real is exc:
                raise
            raise real from None
        if timed_out:
            await self._teardown()
            self._close_parent_fds()
            self.emit_terminal_error("timeout", f"timed out after {req.timeout}s")
            raise self._timeout_error()
        self._reap_all()
        self._emit_exits()
        # Decoding happens here, after the exit events: with errors="strict" a
        # UnicodeDecodeError is raised for a run that has properly ended.
        results = tuple(self._result(stage) for stage in self.stages)
        after_hooks = req.policy.after_hooks
        if after_hooks:
            for stage, result in zip(self.stages, results, strict=True):
                for hook in reversed(after_hooks):
                    hook(stage.cmd, result)
        return results, self.failure_index

    def _emit_exits(self) -> None:
        """Every hook gets every stage's ``exit``, even if one raises; the first error
        is raised afterwards (the processes are already reaped)."""
        first: Exception | None = None
        for stage in self.stages:
            assert stage.child is not None
            if not self.hooks:
                break
            event = self._event(
                stage, "exit", exit_code=stage.child.exit_code, duration_s=stage.duration
            )
            for hook in self.hooks:
                try:
                    hook(event)
                except Exception as exc:
                    first = first or exc
        if first is not None:
            raise first

    def _bind_line_events(self) -> None:
        if not self.hooks:
            return
        ends = self.req.ends
        if ends is not None and ends.stdout_fd is not None:
            last = self.stages[-1]
            last.stdout = StreamCollector(
                program=last.cmd.program,
                name="stdout",
                capture=False,
                encoding=self.req.context.encoding,
                errors=self.req.context.errors,
            )
            ends.observer = last.stdout
        for stage in self.stages:
            for name in ("stdout", "stderr"):
                collector: StreamCollector | None = getattr(stage, name)
                if collector is not None:
                    collector.bind_lines(self.line_emitter(stage, name))

    async def _supervise(self) -> bool:
        """Run every task under the deadline; True when the deadline cancelled them."""
        with anyio.CancelScope() as deadline:
            if self.req.timeout is not None:
                deadline.deadline = anyio.current_time() + self.req.timeout
            if len(self.stages) == 1 and len(self.tasks) <= 1:
                # The common case, one command with at most one job: the host task
                # does it, no task group needed. Like any async call the run must be
                # a checkpoint even if the child is done before we look: the output
                # reader always is one; otherwise (no job, or only feeding stdin)
                # yield here.
                if self.readers:
                    await self._read_outputs()
                else:
                    for task in self.tasks:
                        await task()
                    await anyio.lowlevel.checkpoint()
            else:
                async with anyio.create_task_group() as tg:
                    self.tg = tg
                    *others, last = self.tasks or [anyio.lowlevel.checkpoint]
                    for task in others:
                        tg.start_soon(task)
                    if len(self.stages) > 1:
                        # Watchers see each exit as it happens, for fail-fast.
                        for stage in self.stages:
                            tg.start_soon(self._watch, stage)
                    await last()  # the host task does one job itself: one task fewer
            if len(self.stages) == 1:
                # One command: its output is at EOF, so it has usually exited already.
                await self._watch(self.stages[0])
        self.tg = None
        return deadline.cancelled_caught

    async def _teardown(self) -> None:
        children = [s.child for s in self.stages if s.child is not None]
        try:
            await terminate_groups(children, self.req.context.cancel_grace)
        finally:
            self._reap_all()
            for stage in self.stages:
                if not stage.ended:
                    stage.ended = time.perf_counter()

    def _reap_all(self) -> None:
        for stage in self.stages:
            if stage.child is not None:
                stage.child.reap()

    def _close_all(self, fds: list[int]) -> None:
        for fd in fds:
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        fds.clear()

    def _close_parent_fds(self) -> None:
        """After a teardown: keep whatever output is buffered, then close our ends.

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
            for fd in list(self.parent_fds):
                self._close(fd)

    def _value(self, collector: StreamCollector | None, *, lenient: bool = False) -> Any:
        """A stream's captured value; ``lenient``: None where ``errors="strict"`` fails."""
        if collector is None:
            return None
        try:
            return collector.value(text=self.req.text)
        except UnicodeDecodeError:
            if lenient:
                return None
            raise

    def _salvage(self, sink: Callable[[tuple[CommandResult[Any], ...]], None]) -> None:
        """Hand what a cancelled, torn-down run had to ``sink``: nothing is lost."""
        sink(tuple(self._result(stage, outcome="cancelled") for stage in self.stages))

    def _result(self, stage: _Stage, *, outcome: Outcome = "exited") -> CommandResult[Any]:
        """The stage's result. A cancelled one cannot raise for its output: a stream
        that ``errors="strict"`` cannot decode (cut mid-character) is None instead."""
        child = stage.child
        assert child is not None and child.exit_code is not None
        lenient = outcome == "cancelled"
        return CommandResult(
            program=stage.cmd.program,
            argv=stage.argv,
            exit_code=child.exit_code,
            pid=child.pid,
            stdout=self._value(stage.stdout, lenient=lenient),
            stderr=self._value(stage.stderr, lenient=lenient),
            duration_s=stage.duration,
            stdout_truncated=stage.stdout.truncated if stage.stdout else False,
            stderr_truncated=stage.stderr.truncated if stage.stderr else False,
            outcome=outcome,
        )

    def _timeout_error(self) -> TimeoutExpired:
        argv: list[str] = []
        for stage in self.stages:
            argv += [*stage.argv, "|"]
        last = self.stages[-1]
        timeout = self.req.timeout if self.req.timeout is not None else 0.0
        stdout, stderr = self._value(last.stdout), self._value(last.stderr)
        if self.req.capture and not last.started:  # expired before anything started
            empty = "" if self.req.text else b""
            stdout = empty if self.req.stdout is None else None
            stderr = empty if self.req.stderr is None else None
        return TimeoutExpired(argv[:-1], timeout, stdout, stderr)


async def run_stages(req: RunRequest) -> tuple[tuple[CommandResult[Any], ...], int | None]:
    """Check policy, run before hooks, then run the stages; see the module docstring."""
    policy = req.policy
    for cmd in req.stages:
        policy.check_permitted(cmd.program)
    # A strategy that cannot serve this run is refused up front, like a misuse:
    # before any hook or event (it is not a failed start, nor a cancellation).
    strategy: Strategy = (
        choose_strategy(parent_must_see=req.stage_events) if len(req.stages) > 1 else "direct"
    )
    if policy.before_hooks:
        for cmd in req.stages:
            for hook in policy.before_hooks:
                hook(cmd)
    return await _Run(req, strategy).execute()
