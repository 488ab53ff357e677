"""Live streaming: ``async with cmd.stream() as handle`` over the same runtime as ``run()``.

The run itself (spawn, stderr, hooks, events, deadline, teardown) happens in a
background task of the block's task group; the handle reads the final stdout
pipe directly in the caller's task, so iterating costs a ``split`` per chunk and a
``yield`` per line. Leaving the block early, or cancelling it, tears the
processes down exactly as ``run()`` would (SIGTERM, grace, SIGKILL).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import anyio
import anyio.abc
import anyio.lowlevel

from cuprum._core.errors import TimeoutExpired
from cuprum._model.io import Stream
from cuprum._model.results import CommandResult, PipelineResult
from cuprum._runtime.engine import Spawned, run_stages
from cuprum._runtime.request import RunRequest
from cuprum._runtime.streams import LineReader, StreamCollector
from cuprum._transport.pipes import READ_SIZE, write_all

__all__ = ["StreamHandle", "open_stream"]

if TYPE_CHECKING:  # a default, so a bare ``StreamHandle`` annotation means any result
    from typing_extensions import TypeVar as TypeVarWithDefault

    R_co = TypeVarWithDefault(
        "R_co",
        bound="CommandResult[Any, Any] | PipelineResult[Any, Any]",
        default="CommandResult | PipelineResult",
        covariant=True,
    )
else:
    R_co = TypeVar(
        "R_co", bound="CommandResult[Any, Any] | PipelineResult[Any, Any]", covariant=True
    )


class StreamHandle(Generic[R_co]):
    """A running command (or pipeline) whose stdout you read as it arrives.

    Read with :meth:`stdout_lines`, :meth:`stdout_batches` or :meth:`stdout_chunks`;
    write with :meth:`write` / :meth:`close_stdin` when started with ``stdin=PIPE``;
    :meth:`wait` returns the usual result. What has been read from the pipe but not
    yet delivered (the rest of a batch, a partial line) stays with the handle, so
    breaking out of one iterator and starting another (or calling :meth:`wait`)
    loses nothing.
    """

    def __init__(self, request: RunRequest, wrap: Any) -> None:
        self._request = request
        self._wrap = wrap
        self._spawned = Spawned(pids=())  # until the run has started
        self._stdin_fd: int | None = None
        self._stdout_fd: int | None = None
        self._done = anyio.Event()
        self._result: R_co | None = None
        self._error: BaseException | None = None
        self._raised = False
        self._eof = False
        # Line state shared by every stdout_lines()/stdout_batches() iterator.
        self._lines: LineReader | None = None  # holds the current line, not yet terminated
        self._ready: Iterator[str] = iter(())  # complete lines not yet delivered

    # -- the background run ---------------------------------------------------

    def _attach(self, spawned: Spawned) -> None:
        """The engine's ``on_spawned``: the run's pids and our ends of its pipes."""
        self._spawned = spawned
        self._stdin_fd, self._stdout_fd = spawned.stdin_fd, spawned.stdout_fd

    async def _run(self, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        """The run, in the block's task group; ``started`` once it has spawned.

        An error before that (refused, failed to start) is raised by ``tg.start``
        itself; a later one is kept for :meth:`wait` or the end of the block.
        """

        def on_spawned(spawned: Spawned) -> None:
            self._attach(spawned)
            task_status.started()

        try:
            results, failure = await run_stages(self._request, on_spawned=on_spawned)
            self._result = self._wrap(results, failure)
        except anyio.get_cancelled_exc_class():
            raise
        except BaseException as exc:
            if not self._spawned.pids:
                raise
            self._error = exc  # surfaced by wait() or when the block exits
        finally:
            self._done.set()

    @property
    def pids(self) -> tuple[int, ...]:
        """The pid of each stage, once started."""
        return self._spawned.pids

    # -- stdout ---------------------------------------------------------------

    async def _read(self) -> bytes:
        """The next chunk of stdout (``b""`` at EOF); awaits data with anyio."""
        fd = self._stdout_fd
        if fd is None or self._eof:
            return b""
        observer = self._spawned.stdout_events
        while True:
            try:
                data = os.read(fd, READ_SIZE)
            except BlockingIOError:
                await anyio.wait_readable(fd)
                continue
            if not data:
                self._eof = True
                if observer is not None:
                    observer.close()
                return b""
            if observer is not None:
                observer.feed(data)
            return data

    async def stdout_chunks(self) -> AsyncIterator[bytes]:
        """Raw stdout chunks as they arrive (up to 1 MiB each)."""
        while data := await self._next_chunk():
            yield data
            await anyio.lowlevel.checkpoint()

    async def _next_chunk(self) -> bytes:
        """The next raw chunk, starting with anything a line reader left undelivered."""
        if self._lines is not None:
            held = self._held_bytes()
            if held:
                return held
        return await self._read()

    def _held_bytes(self) -> bytes:
        """Hand back, as the exact bytes read, what the line readers hold; reset them."""
        lines, self._lines = self._lines, None
        assert lines is not None
        undelivered, self._ready = list(self._ready), iter(())
        return lines.take_rest(undelivered)

    def _split(self, data: bytes) -> list[str]:
        """Decode ``data`` and return the lines it completes (``b""`` means EOF)."""
        lines = self._lines
        if lines is None:
            ctx = self._request.context
            lines = self._lines = LineReader(ctx.encoding, ctx.errors)
        return lines.split(data)

    def _take_partial(self) -> str:
        return self._lines.take_partial() if self._lines is not None else ""

    async def stdout_batches(self) -> AsyncIterator[list[str]]:
        """Lists of the complete lines (without newlines) read so far; the fastest form."""
        batch = list(self._ready)
        if batch:
            yield batch
        while True:
            data = await self._read()
            lines = self._split(data)
            if lines:
                yield lines
            if not data:
                break
            await anyio.lowlevel.checkpoint()
        tail = self._take_partial()
        if tail:
            yield [tail]

    async def stdout_lines(self) -> AsyncIterator[str]:
        """Each line of stdout (without its newline) as soon as it is complete.

        A partial line is held until its newline (or EOF) arrives.
        """
        while True:
            for line in self._ready:  # an iterator on the handle: where we stop, the next starts
                yield line
            data = await self._read()
            self._ready = iter(self._split(data))
            if not data:
                break
            await anyio.lowlevel.checkpoint()
        for line in self._ready:
            yield line
        tail = self._take_partial()
        if tail:
            yield tail

    # -- stdin ----------------------------------------------------------------

    async def write(self, data: bytes | str) -> None:
        """Write to the child's stdin (``stdin=PIPE``), waiting while its pipe is full.

        Raises ``BrokenPipeError`` if the child has closed its stdin.
        """
        fd = self._stdin_fd
        if fd is None:
            raise RuntimeError("write() needs the stream started with stdin=PIPE")
        payload = data.encode(self._request.context.encoding) if isinstance(data, str) else data
        if await write_all(fd, payload) < len(payload):
            raise BrokenPipeError(f"{self._program}: closed its stdin")

    async def close_stdin(self) -> None:
        """Close the child's stdin so it sees EOF."""
        fd, self._stdin_fd = self._stdin_fd, None
        if fd is not None:
            os.close(fd)
        await anyio.lowlevel.checkpoint()

    @property
    def _program(self) -> str:
        return self._request.stages[0].program

    # -- completion -----------------------------------------------------------

    async def wait(self) -> R_co:
        """Close stdin, read what is left of stdout, and return the result.

        Unread stdout is kept in ``result.stdout`` (when capturing, and bounded by
        ``capture_limit``/``on_limit`` like ``run()``), so a block that only calls
        ``wait()`` behaves like ``run()``. Raises what ``run()`` would raise
        (``TimeoutExpired``, ``CaptureLimitExceeded``, ...).
        """
        await self.close_stdin()
        req, ctx = self._request, self._request.context
        rest = StreamCollector(
            program=req.stages[-1].program,
            name="stdout",
            capture=req.capture,
            encoding=ctx.encoding,
            errors=ctx.errors,
            limit=req.capture_limit,
            on_limit=req.on_limit,
            text=req.text,
        )
        while data := await self._next_chunk():
            rest.feed(data)  # raises CaptureLimitExceeded when on_limit="raise"
            await anyio.lowlevel.checkpoint()
        await self._done.wait()
        if self._error is not None:
            self._raised = True
            if isinstance(self._error, TimeoutExpired) and req.capture:
                # What was not read through the handle, as result.stdout would hold it.
                self._error.output = rest.salvage(text=req.text)
            raise self._error
        assert self._result is not None
        result: R_co = self._with_stdout(self._result, rest)
        if self._request.check:
            result.check()  # check=True: raise CommandFailedError unless ok
        return result

    def _with_stdout(self, result: Any, rest: StreamCollector) -> Any:
        if not self._request.capture:
            return result
        value, cut = rest.value(text=self._request.text), rest.truncated
        if isinstance(result, PipelineResult):
            last = dataclasses.replace(result.stages[-1], stdout=value, stdout_truncated=cut)
            return dataclasses.replace(result, stages=(*result.stages[:-1], last))
        return dataclasses.replace(result, stdout=value, stdout_truncated=cut)

    def _close_fds(self) -> None:
        for fd in (self._stdout_fd, self._stdin_fd):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._stdout_fd = self._stdin_fd = None


@asynccontextmanager
async def open_stream(request: RunRequest, wrap: Any) -> AsyncIterator[StreamHandle[Any]]:
    """Start ``request`` and yield its handle; tear down whatever still runs on exit."""
    request = dataclasses.replace(request, stdout=Stream.PIPE)
    handle: StreamHandle[Any] = StreamHandle(request, wrap)
    # The run task keeps a later error for wait(), so a group out of the task
    # group holds just what the block (or the start-up) raised: re-raise that
    # exception itself, as run() would, rather than a group wrapping it.
    sole: BaseException | None = None
    try:
        async with anyio.create_task_group() as tg:
            # Returns once every stage runs; refused or failed to start, it raises.
            await tg.start(handle._run)
            try:
                yield handle
            finally:
                if not handle._done.is_set():
                    # Leaving early: cancel the run; the runtime tears the group down.
                    tg.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        if len(group.exceptions) != 1:
            raise
        sole = group.exceptions[0]
    finally:
        handle._close_fds()
    if sole is not None:
        raise sole
    if handle._error is not None and not handle._raised:
        raise handle._error
