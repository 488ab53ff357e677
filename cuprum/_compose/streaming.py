"""Live streaming: ``async with cmd.stream() as handle`` over the same runtime as ``run()``.

The run itself (spawn, stderr, hooks, events, deadline, teardown) happens in a
background task of the block's task group; the handle reads the final stdout
pipe directly in the caller's task, so iterating costs a ``split`` per chunk and a
``yield`` per line. Leaving the block early, or cancelling it, tears the
processes down exactly as ``run()`` would (SIGTERM, grace, SIGKILL).
"""

from __future__ import annotations

import codecs
import contextlib
import dataclasses
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Generic, TypeVar

import anyio
import anyio.lowlevel

from cuprum._model.io import StreamEnds
from cuprum._model.results import CommandResult, PipelineResult
from cuprum._runtime.engine import run_stages
from cuprum._runtime.pipes import READ_SIZE, write_all
from cuprum._runtime.request import RunRequest

__all__ = ["StreamHandle", "open_stream"]

R = TypeVar("R", CommandResult[Any], PipelineResult[Any])


class StreamHandle(Generic[R]):
    """A running command (or pipeline) whose stdout you read as it arrives.

    Read with one of :meth:`stdout_lines`, :meth:`stdout_batches` or
    :meth:`stdout_chunks`; write with :meth:`write` / :meth:`close_stdin` when
    started with ``stdin=PIPE``; :meth:`wait` returns the usual result.
    """

    def __init__(self, request: RunRequest, wrap: Any) -> None:
        self._request = request
        self._wrap = wrap
        self._ends = request.ends or StreamEnds()
        self._done = anyio.Event()
        self._result: R | None = None
        self._error: BaseException | None = None
        self._raised = False
        self._eof = False
        self._unread: list[bytes] = []

    # -- the background run ---------------------------------------------------

    async def _run(self, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        try:
            task_status.started()
            results, failure = await run_stages(self._request)
            self._result = self._wrap(results, failure)
        except anyio.get_cancelled_exc_class():
            raise
        except BaseException as exc:  # surfaced by wait() or when the block exits
            self._error = exc
        finally:
            self._done.set()

    @property
    def pids(self) -> tuple[int, ...]:
        """The pid of each stage, once started."""
        return self._ends.pids

    # -- stdout ---------------------------------------------------------------

    async def _read(self) -> bytes:
        """The next chunk of stdout (``b""`` at EOF); awaits data with anyio."""
        fd = self._ends.stdout_fd
        if fd is None or self._eof:
            return b""
        while True:
            try:
                data = os.read(fd, READ_SIZE)
            except BlockingIOError:
                await anyio.wait_readable(fd)
                continue
            if not data:
                self._eof = True
                if self._ends.observer is not None:
                    self._ends.observer.close()
                return b""
            if self._ends.observer is not None:
                self._ends.observer.feed(data)
            return data

    async def stdout_chunks(self) -> AsyncIterator[bytes]:
        """Raw stdout chunks as they arrive (up to 1 MiB each)."""
        while data := await self._read():
            yield data
            await anyio.lowlevel.checkpoint()

    async def stdout_batches(self) -> AsyncIterator[list[str]]:
        """Lists of the complete lines (without newlines) read so far; the fastest form."""
        ctx = self._request.context
        decoder = codecs.getincrementaldecoder(ctx.encoding)(ctx.errors)
        pending = ""
        while data := await self._read():
            lines = (pending + decoder.decode(data)).split("\n")
            pending = lines.pop()
            if lines:
                yield lines
            await anyio.lowlevel.checkpoint()
        tail = pending + decoder.decode(b"", final=True)
        if tail:
            yield [tail]

    async def stdout_lines(self) -> AsyncIterator[str]:
        """Each line of stdout (without its newline) as soon as it is complete.

        A partial line is held until its newline (or EOF) arrives.
        """
        async for batch in self.stdout_batches():
            for line in batch:
                yield line

    # -- stdin ----------------------------------------------------------------

    async def write(self, data: bytes | str) -> None:
        """Write to the child's stdin (``stdin=PIPE``), waiting while its pipe is full.

        Raises ``BrokenPipeError`` if the child has closed its stdin.
        """
        fd = self._ends.stdin_fd
        if fd is None:
            raise RuntimeError("write() needs the stream started with stdin=PIPE")
        payload = data.encode(self._request.context.encoding) if isinstance(data, str) else data
        if await write_all(fd, payload) < len(payload):
            raise BrokenPipeError(f"{self._program}: closed its stdin")

    async def close_stdin(self) -> None:
        """Close the child's stdin so it sees EOF."""
        fd, self._ends.stdin_fd = self._ends.stdin_fd, None
        if fd is not None:
            os.close(fd)
        await anyio.lowlevel.checkpoint()

    @property
    def _program(self) -> str:
        return self._request.stages[0].program

    # -- completion -----------------------------------------------------------

    async def wait(self) -> R:
        """Close stdin, read what is left of stdout, and return the result.

        Unread stdout is kept in ``result.stdout`` (when capturing), so a block
        that only calls ``wait()`` behaves like ``run()``. Raises what ``run()``
        would raise (``TimeoutExpired``, ...).
        """
        await self.close_stdin()
        rest = b"".join([chunk async for chunk in self.stdout_chunks()])
        await self._done.wait()
        if self._error is not None:
            self._raised = True
            raise self._error
        assert self._result is not None
        return self._with_stdout(self._result, rest)

    def _with_stdout(self, result: R, rest: bytes) -> R:
        if not self._request.capture:
            return result
        ctx = self._request.context
        value: str | bytes = rest.decode(ctx.encoding, ctx.errors) if self._request.text else rest
        if isinstance(result, PipelineResult):
            stages = (*result.stages[:-1], dataclasses.replace(result.stages[-1], stdout=value))
            return dataclasses.replace(result, stages=stages)
        return dataclasses.replace(result, stdout=value)

    def _close_fds(self) -> None:
        for name in ("stdout_fd", "stdin_fd"):
            fd = getattr(self._ends, name)
            if fd is not None:
                setattr(self._ends, name, None)
                with contextlib.suppress(OSError):
                    os.close(fd)


@asynccontextmanager
async def open_stream(request: RunRequest, wrap: Any) -> AsyncIterator[StreamHandle[Any]]:
    """Start ``request`` and yield its handle; tear down whatever still runs on exit."""
    request = dataclasses.replace(request, ends=StreamEnds())
    handle: StreamHandle[Any] = StreamHandle(request, wrap)
    try:
        async with anyio.create_task_group() as tg:
            await tg.start(handle._run)
            # Wait until the run has spawned (or failed) before handing out the handle.
            # Spawning is synchronous inside the run task, so this loops once or twice.
            while not request.ends.pids and not handle._done.is_set():  # type: ignore[union-attr]
                await anyio.lowlevel.checkpoint()
            if handle._error is not None:  # refused or failed to start: nothing to stream
                handle._raised = True
                raise handle._error
            try:
                yield handle
            finally:
                if not handle._done.is_set():
                    # Leaving early: cancel the run; the runtime tears the group down.
                    tg.cancel_scope.cancel()
    finally:
        handle._close_fds()
    if handle._error is not None and not handle._raised:
        raise handle._error
