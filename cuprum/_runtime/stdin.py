"""Feeding a child's stdin from ``bytes`` or an async iterable, with backpressure.

The caller owns the fd (non-blocking, the write end of the child's stdin pipe) and
closes it afterwards; the feeders say how many bytes the child never took because
it closed its stdin early. :class:`PolledFeed` feeds ``bytes`` for a thread that
waits in its own ``poll`` (a direct run); the others are awaited on a loop.
"""

from __future__ import annotations

import contextlib
import select
from collections.abc import AsyncIterable
from typing import Any

from cuprum._core.errors import InvalidArgumentError, StdinEncodeError
from cuprum._core.secret import reveal
from cuprum._runtime.child import ChildProcess
from cuprum._runtime.validate import described
from cuprum._transport.pipes import PendingWrite, write_all

__all__ = ["PolledFeed", "feed_bytes", "feed_iterable", "input_bytes"]


def input_bytes(data: str | bytes | bytearray | memoryview, encoding: str, program: str) -> bytes:
    """``program``'s stdin data as bytes: a copy of a buffer, or the text (a
    :class:`~cuprum.Secret`'s real value) in ``encoding`` (:class:`StdinEncodeError` if
    it cannot be encoded); a released memoryview is an ``InvalidArgumentError``."""
    if type(data) is bytes:
        return data
    if not isinstance(data, str):
        try:  # the buffer itself, as subprocess.run writes it (never a __bytes__)
            return memoryview(data).tobytes()
        except ValueError as exc:  # a released memoryview
            raise InvalidArgumentError(f"{program}: stdin: {exc}") from None
    text = data
    value = reveal(text)
    if isinstance(value, bytes):  # a Secret holding bytes
        return value
    try:
        return value.encode(encoding)
    except UnicodeEncodeError as exc:
        where = f"{program}: stdin: the text cannot be encoded with {encoding!r}"
        if value is not text:  # a Secret: neither the character nor where it is
            fields = (exc.encoding, "", 0, 0, exc.reason)
            error = StdinEncodeError(f"{where} ({exc.reason})", fields)
        else:
            bad = value[exc.start : exc.end]
            message = f"{where}: {bad!r} at position {exc.start} ({exc.reason})"
            fields = (exc.encoding, value, exc.start, exc.end, exc.reason)
            error = StdinEncodeError(message, fields)
    raise error from None


async def feed_bytes(fd: int, data: bytes) -> int:
    """Write all of ``data``; returns the bytes dropped (EPIPE: the reader went)."""
    return len(data) - await write_all(fd, data)


_END = object()  # what anext() gives at the end: no chunk can be it (None is refused)


def _chunk(program: str, chunk: object) -> bytes:
    """A chunk of ``program``'s stdin as bytes, or an ``InvalidArgumentError`` naming
    it: a ``None`` or a ``str`` is refused, never taken for the end or encoded."""
    if type(chunk) is bytes:
        return chunk
    if isinstance(chunk, bytes | bytearray | memoryview):
        return input_bytes(chunk, "utf-8", program)  # a buffer's bytes, as for stdin=
    raise InvalidArgumentError(
        f"{program}: stdin: the async iterable yielded {described(chunk)}; "
        "each chunk must be bytes (bytearray, memoryview)"
    )


async def feed_iterable(
    fd: int, source: AsyncIterable[bytes], reader: ChildProcess, program: str
) -> int:
    """Write each chunk of ``source`` as the pipe drains; returns the bytes dropped.

    A chunk is pulled only when the previous one has been written, so the producer
    is never drained into memory. Once ``reader`` has exited nothing reads the pipe,
    so a pending pull is abandoned: a producer that is idle (or never ends) cannot
    hold the run open. The iterator is closed (``aclose``) in every case; if the feed
    was stopped or had failed already, an error of that cleanup is dropped.
    """
    import anyio

    iterator = source.__aiter__()
    pulling = anyio.CancelScope()  # the scope of the pull in progress
    dropped = 0

    async def stop_pulling_on_exit() -> None:
        await reader.wait_exit()
        pulling.cancel()

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(stop_pulling_on_exit)
            while reader.exit_code is None:
                pulled: object = _END
                failed: Exception | None = None  # the pull's error
                with anyio.CancelScope() as pulling:
                    try:
                        pulled = await anext(iterator, _END)
                    except Exception as exc:
                        failed = exc
                if failed is not None:
                    await _raise_unless_stopping(failed)
                if pulled is _END:  # the end of the input, or the reader exited
                    break
                chunk = _chunk(program, pulled)
                written = await write_all(fd, chunk)  # short once the reader has gone
                if written < len(chunk):
                    dropped = len(chunk) - written
                    break
            tg.cancel_scope.cancel()
    except BaseException:
        # Stopped (the deadline, a cancellation) or failed: the source is closed, but
        # its cleanup raising cannot change why the run ended (a timeout stays
        # TimeoutExpired), as for a hook on a hop's last line (engine._relay).
        with contextlib.suppress(Exception):
            await _close(iterator)
        raise
    await _close(iterator)
    return dropped


async def _close(iterator: object) -> None:
    """``aclose`` the source's iterator (if it has one), even in a cancelled scope."""
    import anyio

    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        with anyio.CancelScope(shield=True):
            await aclose()


async def _raise_unless_stopping(error: Exception) -> None:
    """Raise ``error``, the source's, unless it raised while handling the run's
    cancellation (its cleanup, as the deadline stopped the pull): then raise the
    cancellation, so the run ends the way it was ending (``TimeoutExpired``).

    A source raising on its own as the deadline passes (no cancellation delivered
    to it) still fails the run with its error (``stdin_failed``)."""
    import anyio
    import anyio.lowlevel

    cancelled = anyio.get_cancelled_exc_class()
    seen: BaseException | None = error.__context__
    while seen is not None:
        if isinstance(seen, cancelled):
            # Raises if the run's scope is cancelled; else (only the pull was, the
            # reader having exited) the cleanup's error is the source's.
            await anyio.lowlevel.checkpoint_if_cancelled()
            break
        seen = seen.__context__
    raise error


class PolledFeed:
    """``data`` for the stdin pipe ``fd``, from a thread that waits in ``poller`` (a
    ``select.poll``): what the pipe takes is written at once (most inputs fit), and
    the rest each time ``poller`` reports room. Raises what a write raises, but EPIPE."""

    __slots__ = ("_poller", "done", "pending")

    def __init__(self, fd: int, data: bytes, poller: Any) -> None:
        self._poller = poller
        self.pending = PendingWrite(fd, data)
        self.done = self.pending.step()
        if not self.done:
            poller.register(fd, select.POLLOUT)

    def handle(self, ready: list[tuple[int, int]]) -> None:
        """Write more if ``ready`` (what the poll returned) says the pipe has room."""
        fd = self.pending.fd
        for ready_fd, _ in ready:
            if ready_fd == fd:
                if self.pending.step():
                    self.done = True
                    self._poller.unregister(fd)
                return

    @property
    def dropped(self) -> int:
        """The bytes the child never took (it closed its stdin first)."""
        return len(self.pending.view) - self.pending.written
