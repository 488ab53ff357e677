"""Output handling for one stream: capture (bounded or not), echo and line events.

Bytes are captured as a list of chunks, joined and decoded once at the end. Text
is decoded incrementally only when someone needs it as it arrives (an echo sink or
line events), so a multi-byte character split across two reads is never mangled.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from typing import TextIO

import anyio

from cuprum._core.errors import CuprumError
from cuprum._model.io import OnLimit

__all__ = ["CaptureLimitExceeded", "LineSplitter", "StreamCollector", "StreamTap"]


class CaptureLimitExceeded(CuprumError):
    """A stream produced more than ``capture_limit`` bytes and ``on_limit="raise"``.

    ``captured`` holds the first ``limit`` bytes (decoded like a result).
    """

    def __init__(self, program: str, stream: str, limit: int, captured: str | bytes) -> None:
        super().__init__(f"{program}: {stream} exceeded the capture limit of {limit} bytes")
        self.program = program
        self.stream = stream
        self.limit = limit
        self.captured = captured


class LineSplitter:
    """Turns decoded text into whole lines (without the newline).

    :meth:`split` returns the lines a piece of text completes (the stream handle
    hands them out in batches); :meth:`feed` passes each to ``emit`` (line
    events). Lines of any length are delivered whole; the last unterminated line
    is kept until :meth:`take_partial` or :meth:`close`.
    """

    __slots__ = ("_emit", "_pending")

    def __init__(self, emit: Callable[[str], None] | None = None) -> None:
        self._emit = emit
        self._pending: list[str] = []

    def split(self, text: str) -> list[str]:
        """The lines ``text`` completes; an unterminated rest is kept for later."""
        if "\n" not in text:
            if text:
                self._pending.append(text)
            return []
        lines = text.split("\n")
        if self._pending:
            self._pending.append(lines[0])
            lines[0] = "".join(self._pending)
            self._pending.clear()
        tail = lines.pop()
        if tail:
            self._pending.append(tail)
        return lines

    def feed(self, text: str) -> None:
        """Pass each line ``text`` completes to ``emit``."""
        emit = self._emit
        assert emit is not None
        for line in self.split(text):
            emit(line)

    def take_partial(self) -> str:
        """The unterminated rest so far (``""`` if none); the splitter forgets it."""
        line = "".join(self._pending)
        self._pending.clear()
        return line

    def close(self) -> None:
        """Deliver the last unterminated line, if any, to ``emit``."""
        line = self.take_partial()
        if line and self._emit is not None:
            self._emit(line)


class StreamCollector:
    """Everything that happens to the bytes of one output stream.

    ``feed`` is the per-chunk entry point; it is specialised at construction so the
    common case (capture only) is a bare ``list.append``.
    """

    __slots__ = (
        "_chunks",
        "_decoder",
        "_echo",
        "_lines",
        "_on_limit",
        "_size",
        "capture",
        "encoding",
        "errors",
        "feed",
        "limit",
        "name",
        "program",
        "text",
        "truncated",
    )

    def __init__(
        self,
        *,
        program: str,
        name: str,
        capture: bool,
        encoding: str,
        errors: str,
        echo: TextIO | None = None,
        on_line: Callable[[str], None] | None = None,
        limit: int | None = None,
        on_limit: OnLimit = "truncate",
        text: bool = True,
    ) -> None:
        self.program = program
        self.name = name
        self.capture = capture
        self.encoding = encoding
        self.errors = errors
        self.limit = limit
        self._on_limit = on_limit
        self.text = text  # how CaptureLimitExceeded.captured is given, like the result
        self._chunks: list[bytes] = []
        self._size = 0
        self.truncated = False
        self._echo = echo
        self._lines = LineSplitter(on_line) if on_line is not None else None
        needs_text = echo is not None or on_line is not None
        self._decoder = self._live_decoder() if needs_text else None
        if capture and limit is None and not needs_text:
            self.feed: Callable[[bytes], None] = self._chunks.append
        else:
            self.feed = self._feed

    def _live_decoder(self) -> codecs.IncrementalDecoder:
        """The decoder for echo and line events, which must never stop a run midway:
        with ``errors="strict"`` they see replacement characters, and the strict
        decode of the captured bytes at the end raises instead."""
        errors = "replace" if self.errors == "strict" else self.errors
        return codecs.getincrementaldecoder(self.encoding)(errors)

    def bind_lines(self, on_line: Callable[[str], None]) -> None:
        """Start delivering whole lines to ``on_line`` (before the first chunk)."""
        self._lines = LineSplitter(on_line)
        if self._decoder is None:
            self._decoder = self._live_decoder()
        self.feed = self._feed

    def _feed(self, data: bytes) -> None:
        if self.capture:
            self._keep(data)
        if self._decoder is not None:
            self._text(self._decoder.decode(data))

    def _keep(self, data: bytes) -> None:
        limit = self.limit
        if limit is not None and self._size + len(data) > limit:
            room = limit - self._size
            if room > 0:
                self._chunks.append(data[:room])
                self._size = limit
            self.truncated = True
            if self._on_limit == "raise":
                captured = self.value(text=self.text)
                assert captured is not None  # only reached when capturing
                raise CaptureLimitExceeded(self.program, self.name, limit, captured)
            return
        self._chunks.append(data)
        self._size += len(data)

    def _text(self, text: str) -> None:
        if not text:
            return
        if self._echo is not None:
            self._echo.write(text)
        if self._lines is not None:
            self._lines.feed(text)

    def close(self) -> None:
        """Flush the decoder and the last partial line (at EOF or after a teardown)."""
        if self._decoder is not None:
            self._text(self._decoder.decode(b"", final=True))
            self._decoder = None
            if self._echo is not None:
                self._echo.flush()
            if self._lines is not None:
                self._lines.close()

    def raw(self) -> bytes:
        """The captured bytes (joined once)."""
        if len(self._chunks) != 1:
            joined = b"".join(self._chunks)
            self._chunks[:] = [joined]
        return self._chunks[0] if self._chunks else b""

    def value(self, *, text: bool) -> str | bytes | None:
        """The capture as ``str`` (decoded once) or ``bytes``; ``None`` if not captured."""
        if not self.capture:
            return None
        data = self.raw()
        return data.decode(self.encoding, self.errors) if text else data


class StreamTap:
    """The line-event side of a stream that someone else reads (the stream handle).

    The reader feeds it every chunk it reads and closes it at EOF; the engine waits
    for :attr:`closed` before the run can end, so every line event comes before
    the terminal event, and detaches it when the run ends early, so none comes after.
    """

    __slots__ = ("_collector", "closed")

    def __init__(self, collector: StreamCollector) -> None:
        self._collector = collector
        self.closed = anyio.Event()

    def feed(self, data: bytes) -> None:
        if not self.closed.is_set():
            self._collector.feed(data)

    def close(self) -> None:
        """EOF: deliver the last partial line, then let the run end."""
        if self.closed.is_set():
            return
        try:
            self._collector.close()
        finally:
            self.closed.set()

    def detach(self) -> None:
        """The run has ended: nothing fed from now on produces an event."""
        self.closed.set()
