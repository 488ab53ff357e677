"""The async iterator ``stdout_lines()`` returns: one line per ``async for`` step.

Both forms hand out the lines the handle has already split (``source.ready``, the
handle's undelivered lines, so where one reader stops the next starts) and await
``refill()`` when those run out: it reads and splits more, and returns the next line
or raises ``StopAsyncIteration`` at the end. With the native extension the ready
lines come from C (``cuprum._streams_rs.line_cursor``: no frame resumed and, on
CPython 3.11, no exception per line; about 35 ns a step against an async generator's
100); without it (or with ``CUPRUM_STREAM_BACKEND=python``) an async generator
does the same work.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Protocol

from cuprum._transport.dispatch import pure_python
from cuprum._transport.native import line_cursor as native_cursor

__all__ = ["LineSource", "Refill", "line_cursor", "python_cursor"]

Refill = Callable[[], Awaitable[str]]
"""Reads more: the next line, or ``StopAsyncIteration`` at the end of the stream."""


class LineSource(Protocol):
    """Where the lines wait: an iterator that other readers advance too."""

    ready: Iterator[str]


async def python_cursor(source: LineSource, refill: Refill) -> AsyncIterator[str]:
    """The cursor without the extension: the same lines, one frame resumed per line."""
    while True:
        ready = source.ready
        if not isinstance(ready, Iterator):  # as the native cursor refuses it
            kind = type(ready).__name__
            raise TypeError(f"line_cursor: source.ready must be an iterator of lines, not {kind}")
        for line in ready:
            yield line
        if source.ready is not ready:
            continue  # another reader put up new lines: they come first
        try:
            line = await refill()
        except StopAsyncIteration:
            return
        yield line


def line_cursor(source: LineSource, refill: Refill) -> AsyncIterator[str]:
    """The native cursor when the extension has one, else :func:`python_cursor` (also
    when ``CUPRUM_STREAM_BACKEND=python`` asks for a pure run)."""
    native = None if pure_python() else native_cursor()
    if native is None:
        return python_cursor(source, refill)
    return native(source, refill)
