"""Live streaming: ``async with cmd.stream() as handle`` over the same runtime as ``run()``.

The run itself (spawn, stderr, hooks, events, deadline, teardown) happens in a
background task of the block's task group; the handle reads the final stdout
pipe directly in the caller's task, so iterating costs a ``split`` per chunk and one
cursor step per line (:mod:`cuprum._compose.line_cursor`). Leaving the block early,
or cancelling it, tears the processes down exactly as ``run()`` would (SIGTERM,
grace, SIGKILL).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import anyio
import anyio.abc
import anyio.lowlevel

from cuprum._compose.conversation import Conversation
from cuprum._compose.ending import held_rest, with_output, with_rest
from cuprum._compose.line_cursor import line_cursor
from cuprum._compose.output import LINES_READ_SIZE
from cuprum._core.errors import TimeoutExpired
from cuprum._model.io import OnLimit, Stream
from cuprum._model.results import CommandResult, PipelineResult
from cuprum._runtime.engine import Spawned, run_stages
from cuprum._runtime.request import RunRequest
from cuprum._runtime.streams import StreamCollector

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


class StreamHandle(Conversation, Generic[R_co]):
    """A running command (or pipeline) whose stdout you read as it arrives.

    Read with :meth:`stdout_lines`, :meth:`stdout_batches` or :meth:`stdout_chunks`;
    write with :meth:`write` / :meth:`close_stdin` when started with ``stdin=PIPE``;
    hold a conversation with :meth:`expect` and :meth:`sendline` (on a terminal,
    ``tty=True``, or over ``stdin=PIPE``); :meth:`wait` returns the usual result.
    What has been read from the pipe but not yet delivered (the rest of a batch, a
    partial line, what ``expect()`` did not consume) stays with the handle, so
    switching between them (or calling :meth:`wait`) loses nothing.

    Once the ``async with`` block has exited, :meth:`wait` returns (or raises) what
    the run ended with and :attr:`pids` still answers; every read and send raises
    :class:`~cuprum.StreamClosedError`, and :meth:`close_stdin` does nothing.
    """

    def __init__(self, request: RunRequest, wrap: Any) -> None:
        super().__init__(request)
        self._wrap = wrap
        self._spawned = Spawned(pids=())  # until the run has started
        self._result: R_co | None = None  # the run's, or a stopped run's salvage
        self._settled: R_co | Exception | None = None  # what wait() returned or raised

    # -- the background run ---------------------------------------------------

    def _attach(self, spawned: Spawned) -> None:
        """The engine's ``on_spawned``: the run's pids and our ends of its pipes."""
        self._spawned = spawned
        self._stdin_fd, self._terminal = spawned.stdin_fd, spawned.terminal
        self._add_secrets = spawned.add_secrets
        self._out.attach(spawned.stdout_fd, spawned.terminal, spawned.stdout_events)

    async def _run(self, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        """The run, in the block's task group; ``started`` once it has spawned.

        An error before that (refused, failed to start) is raised by ``tg.start``
        itself; a later one is kept for :meth:`wait` or the end of the block.
        """

        def on_spawned(spawned: Spawned) -> None:
            self._attach(spawned)
            task_status.started()

        def on_stopped(salvaged: tuple[CommandResult[Any, Any], ...]) -> None:
            # Stopped (the block left early, was cancelled, or timed out): the
            # outcome says which.
            self._result = self._wrap(salvaged, None)

        timeout = self._request.timeout
        if timeout is not None:  # the run's deadline counts from later: never before this
            self._deadline = anyio.current_time() + timeout
        try:
            results, failure = await run_stages(
                self._request, on_spawned=on_spawned, on_stopped=on_stopped
            )
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

    def stdout_chunks(self) -> AsyncIterator[bytes]:
        """Raw stdout chunks as they arrive (up to 1 MiB each)."""
        self._check_open("stdout_chunks()")
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        out = self._out
        while data := await self._next_chunk():
            out.delivered(data)  # a text reader after this goes on from its end
            yield data
            await anyio.lowlevel.checkpoint()

    async def _next_chunk(self) -> bytes:
        """The next raw chunk, starting with anything the line readers left undelivered."""
        self._check_open("stdout")
        held = self._out.take_bytes()
        return held if held else await self._read()

    def stdout_batches(self) -> AsyncIterator[list[str]]:
        """Lists of the complete lines (without newlines) read so far; the fastest form."""
        self._check_open("stdout_batches()")
        return self._batches()

    async def _batches(self) -> AsyncIterator[list[str]]:
        out = self._out
        batch = list(out.ready)
        if batch:
            yield batch
        while True:
            data = await self._read(LINES_READ_SIZE)
            lines = out.split(data)
            if lines:
                yield lines
            if not data:
                break
            await anyio.lowlevel.checkpoint()
        tail = out.take_partial()
        if tail:
            yield [tail]

    def stdout_lines(self) -> AsyncIterator[str]:
        """Each line of stdout (without its newline) as soon as it is complete.

        A partial line is held until its newline (or EOF) arrives.
        """
        self._check_open("stdout_lines()")
        return line_cursor(self._out, self._next_line)

    async def _next_line(self) -> str:
        """Read until a line is complete and return it (the cursor hands out the rest
        of the batch itself); ``StopAsyncIteration`` once every line is delivered."""
        out, ended = self._out, False
        while True:
            for line in out.ready:  # an iterator on the handle: where we stop, the next starts
                return line
            if ended:
                break
            data = await self._read(LINES_READ_SIZE)
            out.ready = iter(out.split(data))
            if data:
                await anyio.lowlevel.checkpoint()
            else:
                ended = True
        tail = out.take_partial()
        if tail:
            return tail
        raise StopAsyncIteration

    # -- completion -----------------------------------------------------------

    async def wait(self) -> R_co:
        """Close stdin, read what is left of stdout, and return the result.

        Unread stdout is kept in ``result.stdout`` (when capturing, and bounded by
        ``capture_limit``/``on_limit`` like ``run()``), so a block that only calls
        ``wait()`` behaves like ``run()``. Raises what ``run()`` would raise
        (``TimeoutExpired``, ``CaptureLimitExceeded``, ...). A terminal gets no
        end-of-file: call :meth:`send_eof` first if the program waits for input.

        It settles once: a later call (in the block or after it) returns the same
        result or raises the same error. After the block, a run that was stopped
        (the block left early, or was cancelled) has its result with ``outcome``
        ``"cancelled"``, and ``stdout`` what the pipe held that the block left unread.
        """
        settled = self._settled
        if settled is None:
            try:
                settled = await self._settle()
            except Exception as exc:  # (a cancellation is not kept: wait() again waits)
                self._settled = exc
                raise
            self._settled = settled
        if isinstance(settled, Exception):
            raise settled
        if self._request.check:
            settled.check()  # check=True: raise CommandFailedError unless ok
        return settled

    async def _settle(self) -> R_co:
        rest = await self._read_rest()
        await self._done.wait()
        self._raise_error(rest)
        if self._result is None:  # (no result without every stage started)
            raise RuntimeError(f"{self._program}: the run ended without a result")
        result: R_co = self._with_stdout(self._result, rest)
        return result

    async def _read_rest(self) -> StreamCollector:
        """Close stdin (not a terminal's) and collect what is left of stdout, as ``run()``
        would (bounded by ``capture_limit``: ``CaptureLimitExceeded`` for ``raise``)."""
        if self._terminal is None:
            await self._close_stdin("wait()")
        rest = self._held_rest(self._request.on_limit)
        if self._ended:  # what the block left unread is held: the pipe is gone
            return rest
        while data := await self._read():
            rest.feed(data)  # raises CaptureLimitExceeded when on_limit="raise"
            await anyio.lowlevel.checkpoint()
        return rest

    def _held_rest(self, on_limit: OnLimit, *, keep: bool = False) -> StreamCollector:
        """A collector of the rest of stdout, holding what the handle held undelivered."""
        req, out, terminal = self._request, self._out, self._terminal is not None
        return held_rest(req, out, terminal, self._all_secrets(), on_limit, keep=keep)

    def _raise_error(self, rest: StreamCollector) -> None:
        """Raise the error the run ended in, if any; a timeout's ``output`` is the stdout
        not read through the handle, as ``result.stdout`` would have held it."""
        if self._error is not None:
            error = self._failure()
            if isinstance(error, TimeoutExpired) and self._request.capture:
                with_output(error, rest.salvage(text=self._request.text))
            raise error

    async def _raise_run_error(self) -> None:
        if self._error is not None:  # (a write found the input gone: wait() cannot follow)
            self._raise_error(await self._read_rest())

    def _run_failed(self) -> BaseException:
        """The run's error, raised as the block exits (it did not call wait()) or by an
        ``expect()`` that met the end, as ``wait()`` would raise it now: a timeout with
        the stdout left unread (up to ``capture_limit``). Settled: ``wait()`` raises it."""
        try:
            self._raise_error(self._held_rest("truncate", keep=True))
        except Exception as error:
            self._settled = error
            return error
        except BaseException as error:  # (KeyboardInterrupt, ...: not kept)
            return error
        raise AssertionError("unreachable: called once the run has failed")

    def _with_stdout(self, result: Any, rest: StreamCollector) -> Any:
        req = self._request
        stdout = (rest.value(text=req.text), rest.truncated) if req.capture else None
        return with_rest(result, stdout, self._all_secrets() if self._secrets else None)

    def _end(self) -> None:
        """The block's end (every process reaped): keep what stdout still holds, read
        without waiting, for a later :meth:`wait`; close the fds. From now on reads
        and sends raise :class:`~cuprum.StreamClosedError`."""
        self._ended = True
        out = self._out
        held = out.take_bytes()  # (a reader made in the block hands out no more lines)
        if self._request.capture and self._settled is None:
            state = out.state  # where ``held`` begins (take_bytes leaves it there)
            out.unread_bytes(held + out.buffered(self._request.capture_limit, len(held)), state)
        out.close()
        self._close_stdin_fd()


@asynccontextmanager
async def open_stream(request: RunRequest, wrap: Any) -> AsyncIterator[StreamHandle[Any]]:
    """Start ``request`` and yield its handle; tear down whatever still runs on exit."""
    request = request._replace(stdout=Stream.PIPE)
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
                handle._leaving = True  # a read waiting in another task: StreamClosedError
                try:
                    if handle._out.failed and not handle._done.is_set():
                        # A hook raised on a line the handle read (or its echo sink):
                        # the run is ending with that error; let it, so its kind is
                        # reported (it ends within the cancel grace).
                        await handle._done.wait()
                finally:
                    if not handle._done.is_set():
                        # Leaving early: cancel the run; the runtime tears the group down.
                        tg.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        # On trio a cancellation from outside as the block raises puts the run task's
        # cancellation in the group too: the block's exception wins, as on asyncio.
        cancelled = anyio.get_cancelled_exc_class()
        raised = [exc for exc in group.exceptions if not isinstance(exc, cancelled)]
        if len(raised) != 1:
            raise
        sole = raised[0]
    finally:
        handle._end()
    if sole is not None:
        raise sole
    if handle._error is not None and not handle._raised:
        raise handle._run_failed()
