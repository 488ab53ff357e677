"""Output handling for one stream: capture (bounded or not), echo and line events.

Bytes are kept in one buffer and decoded once at the end, or as they arrive when
that lets a large capture hold just its text (:mod:`cuprum._runtime.capture`). Text
for someone who needs it as it arrives (an echo sink or line events) is decoded
incrementally, so a multi-byte character split across two reads is never mangled.

Decoding never loses output and never hides the error that ended a run:

- echo and line events never stop a run: with ``errors="strict"`` they see
  replacement characters (the result's own decode is the strict one);
- a character split by ``capture_limit`` is not an error: under ``strict`` the text
  ends before it (the stream is marked truncated anyway);
- where a run ends in an error of its own (a timeout, ``CaptureLimitExceeded``, a
  cancellation), a stream that ``strict`` cannot decode is given as its bytes
  (:meth:`StreamCollector.salvage`); only a run that ended normally raises
  ``UnicodeDecodeError`` (:meth:`StreamCollector.value`), as ``subprocess.run`` does.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Sequence
from typing import TextIO

from cuprum._core.errors import CaptureLimitExceeded  # re-exported: defined there
from cuprum._model.io import OnLimit
from cuprum._runtime.capture import Capture, decode

__all__ = [
    "CaptureLimitExceeded",
    "LineReader",
    "LineSplitter",
    "StreamCollector",
    "StreamTap",
    "decode",
]


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
        """Pass the lines ``text`` completes to ``emit`` (as one list to its ``batch``, if any)."""
        emit, lines = self._emit, self.split(text)
        batch = getattr(emit, "batch", None)
        for line in lines if batch is None else ():
            emit(line)  # type: ignore[misc]
        if batch is not None and lines:
            batch(lines)

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


def _newline_is_a_byte(encoding: str) -> bool:
    """Whether byte ``0x0A`` is always a whole newline (never part of a character, nor
    held back by the decoder) in ``encoding``: then lines map onto bytes exactly."""
    name = codecs.lookup(encoding).name
    return name in {"utf-8", "ascii"} or name.startswith(("iso8859-", "cp125", "koi8-"))


class LineReader:
    """Whole lines decoded from a byte stream for the stream handle's iterators, which
    can hand back *exactly* the bytes of what they have not delivered (:meth:`take_rest`).

    Re-encoding the held text would not do: ``errors="replace"`` has turned bytes it
    could not decode into U+FFFD. So the reader keeps the raw bytes since the last
    newline and the last chunk that completed lines. With ``errors="strict"`` a
    stream that ends inside a character does not raise here: its last line is not
    delivered and its bytes stay with the reader (the result's decode decides).
    """

    __slots__ = (
        "_before",
        "_chunk",
        "_count",
        "_decoder",
        "_encoding",
        "_errors",
        "_exact",
        "_lines",
        "_tail",
        "stuck",
    )

    def __init__(self, encoding: str, errors: str) -> None:
        self._encoding = encoding
        self._errors = errors
        self._exact = _newline_is_a_byte(encoding)
        self._reset()

    def _reset(self) -> None:
        self._decoder = codecs.getincrementaldecoder(self._encoding)(self._errors)
        self._lines = LineSplitter()
        self._tail: list[bytes] = []  # raw bytes after the last newline
        self._before = b""  # raw bytes of the last chunk's first line, from earlier chunks
        self._chunk = b""  # the last chunk that completed lines ...
        self._count = 0  # ... and how many
        self.stuck = False  # the stream ended inside a character (strict)

    def split(self, data: bytes) -> list[str]:
        """The lines ``data`` completes (``b""``: the end of the stream)."""
        if not data:
            try:
                return self._lines.split(self._decoder.decode(b"", final=True))
            except UnicodeDecodeError:
                self.stuck = True
                return []
        try:
            lines = self._lines.split(self._decoder.decode(data))
        except UnicodeDecodeError:  # strict: the chunk stays with the reader, as bytes
            self._tail.append(data)
            self._count = 0
            raise
        if self._exact:
            if lines:
                self._before = b"".join(self._tail)
                self._chunk, self._count = data, len(lines)
                self._tail = [data[data.rfind(b"\n") + 1 :]]
            else:
                self._tail.append(data)
                self._count = 0  # every line split before has been handed out
        return lines

    def take_partial(self) -> str:
        """At the end: the unterminated last line, now delivered (``""`` if stuck)."""
        if self.stuck:
            return ""
        self._tail.clear()
        return self._lines.take_partial()

    def take_rest(self, undelivered: Sequence[str]) -> bytes:
        """The bytes of ``undelivered`` (the last lines split, not handed out) and of
        what follows them; the reader is left empty."""
        k = len(undelivered)
        partial = self._lines.take_partial()
        if self._exact and k <= self._count:
            if k == 0:
                raw = b"".join(self._tail)
            elif k == self._count:
                raw = self._before + self._chunk
            else:  # they start after the chunk's (k+1)-th newline from its end
                pos = self._chunk.rfind(b"\n")
                for _ in range(k):
                    pos = self._chunk.rfind(b"\n", 0, pos)
                raw = self._chunk[pos + 1 :]
        else:  # 0x0A may be part of a character: re-encode (exact unless errors is lossy)
            text = "".join([f"{line}\n" for line in undelivered]) + partial
            undecoded = self._decoder.getstate()[0]
            raw = text.encode(self._encoding, self._errors) + undecoded
        self._reset()
        return raw


class StreamCollector:
    """Everything that happens to the bytes of one output stream.

    ``feed`` is the per-chunk entry point; it is specialised at construction so the
    common case (capture only) is a bare ``list.append``.
    """

    __slots__ = (
        "_capture",
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
        self._capture = Capture(encoding, errors, text=text)
        self._size = 0
        self.truncated = False
        self._echo = echo
        self._lines = LineSplitter(on_line) if on_line is not None else None
        needs_text = echo is not None or on_line is not None
        self._decoder = self._live_decoder() if needs_text else None
        if capture and limit is None and not needs_text:
            self.feed: Callable[[bytes], None] = self._capture.add
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
            self._text(self._live(data))

    def _live(self, data: bytes, *, final: bool = False) -> str:
        """Decode for echo and line events; a handler that fails (``surrogatepass``,
        a custom one) gives way to ``replace`` from then on: they never raise."""
        assert self._decoder is not None
        try:
            return self._decoder.decode(data, final)
        except UnicodeDecodeError:
            state = self._decoder.getstate()
            self._decoder = codecs.getincrementaldecoder(self.encoding)("replace")
            self._decoder.setstate(state)
            return self._decoder.decode(data, final)

    def _keep(self, data: bytes) -> None:
        limit = self.limit
        if limit is not None and self._size + len(data) > limit:
            room = limit - self._size
            if room > 0:
                self._capture.add(data[:room])
                self._size = limit
            self.truncated = True
            if self._on_limit == "raise":
                # The limit wins over decoding: bytes if the text cannot be decoded.
                captured = self.salvage(text=self.text)
                assert captured is not None  # only reached when capturing
                raise CaptureLimitExceeded(self.program, self.name, limit, captured)
            return
        self._capture.add(data)
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
            self._text(self._live(b"", final=True))
            self._decoder = None
            if self._echo is not None:
                self._echo.flush()
            if self._lines is not None:
                self._lines.close()

    def raw(self) -> bytes:
        """The captured bytes."""
        return self._capture.raw()

    def value(self, *, text: bool) -> str | bytes | None:
        """The capture as ``str`` (decoded once) or ``bytes``; ``None`` if not captured.

        For a run that ended normally: with ``errors="strict"``, output that cannot
        be decoded raises ``UnicodeDecodeError`` (with a note naming the program and
        the stream).
        """
        if not self.capture:
            return None
        if not text:
            return self.raw()
        try:
            return self._capture.text(cut=self.truncated)
        except UnicodeDecodeError as exc:
            exc.add_note(f"{self.program}: its {self.name} is not valid {self.encoding}")
            raise

    def salvage(self, *, text: bool) -> str | bytes | None:
        """Like :meth:`value`, for a run that ended in an error of its own (a timeout,
        a capture limit, a cancellation): never raises, the captured ``bytes``
        where ``errors="strict"`` cannot decode them."""
        if not self.capture:
            return None
        if not text:
            return self.raw()
        try:
            return self._capture.text(cut=self.truncated)
        except UnicodeDecodeError:
            return self.raw()


class StreamTap:
    """The line-event side of a stream that someone else reads (the stream handle).

    The reader feeds it every chunk it reads and closes it at EOF; the engine waits
    for :attr:`closed` before the run can end, so every line event comes before
    the terminal event, and detaches it when the run ends early, so none comes after.
    """

    __slots__ = ("_collector", "closed")

    def __init__(self, collector: StreamCollector) -> None:
        import anyio  # a stream handle's, on its event loop

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
