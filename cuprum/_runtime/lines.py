"""Lines out of a stream: :class:`LineSplitter` for decoded text (line events, the
collectors) and :class:`LineReader` for raw bytes (the stream handle's iterators),
which can give back exactly the bytes of what it has not delivered."""

from __future__ import annotations

import codecs
from collections.abc import Callable, Sequence

from cuprum._runtime.decoder_state import State, decoder_at, fresh

__all__ = ["LineReader", "LineSplitter"]


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


_Chunk = tuple[bytes, tuple[bytes, int] | None, int]
"""A chunk read, the decoder's state before it (when needed), the lines it completed."""


class LineReader:
    """Whole lines decoded from a byte stream for the stream handle's iterators, which
    can hand back *exactly* the bytes of what they have not delivered (:meth:`take_rest`).

    Re-encoding the held text would not do: ``errors="replace"`` has turned bytes it
    could not decode into U+FFFD, and an encoding may not give back the bytes it read
    (a UTF-16 byte order mark, a Shift JIS byte it could not decode). So the reader
    keeps the raw chunks since the one before the last that completed lines, and finds
    where a line ends in them only when asked: by looking for ``0x0A`` where that is
    always a newline (UTF-8, ASCII, the single-byte encodings), otherwise by decoding
    a prefix of the chunk again from the decoder's state before it. With
    ``errors="strict"`` a stream that ends inside a character does not raise here: its
    last line is not delivered and its bytes stay with the reader (the result's decode
    decides). It decodes from ``state`` (where the stream's decoding stood when it took
    over, see :mod:`~cuprum._runtime.decoder_state`); :attr:`start` is where its bytes
    begin, and after :meth:`take_rest`, where the bytes it returned do.
    """

    __slots__ = (
        "_count",
        "_decoder",
        "_encoding",
        "_errors",
        "_exact",
        "_last",
        "_lines",
        "_raw",
        "_settled",
        "start",
        "stuck",
    )

    def __init__(self, encoding: str, errors: str, state: State | None = None) -> None:
        self._encoding = encoding
        self._errors = errors
        self._exact = _newline_is_a_byte(encoding)
        self._reset(state)

    def _reset(self, state: State | None) -> None:
        self._decoder = decoder_at(self._encoding, self._errors, state)
        self.start: State = self._decoder.getstate()
        self._lines = LineSplitter()
        #: The chunks held; with ``_settled``, the rest starts after the last newline
        #: of the first (whose lines are all delivered), else at its start.
        self._raw: list[_Chunk] = []
        self._settled = False
        self._last = -1  # the index in _raw of the last chunk that completed lines ...
        self._count = 0  # ... and how many of them may not be delivered yet
        self.stuck = False  # the stream ended inside a character (strict)

    def split(self, data: bytes) -> list[str]:
        """The lines ``data`` completes (``b""``: the end of the stream)."""
        state = None if self._exact else self._decoder.getstate()
        try:
            lines = self._lines.split(self._decoder.decode(data, final=not data))
        except UnicodeDecodeError:  # strict: the chunk stays with the reader, as bytes
            if not data:
                self.stuck = True
                return []
            self._settle()  # the lines split before have all been handed out
            self._raw.append((data, state, 0))
            raise
        if lines:
            self._settle()
            self._last, self._count = len(self._raw), len(lines)
        if data or lines:
            self._raw.append((data, state, len(lines)))
        return lines

    def _settle(self) -> None:
        """Every line split so far is delivered: keep only the last chunk that
        completed lines (the rest starts after its last newline) and what follows."""
        if self._last >= 0:
            del self._raw[: self._last]
            self._settled, self._last = True, 0
        self._count = 0

    def take_partial(self) -> str:
        """At the end: the unterminated last line, now delivered (``""`` if stuck)."""
        if self.stuck:
            return ""
        self._raw.clear()
        self._settled, self._last, self._count = False, -1, 0
        return self._lines.take_partial()

    def take_rest(self, undelivered: Sequence[str]) -> bytes:
        """The bytes of ``undelivered`` (the last lines split, not handed out) and of
        what follows them; the reader is left empty."""
        k = len(undelivered)
        if k > self._count:
            raise ValueError(f"{k} lines undelivered, but the last read completed {self._count}")
        raw = self._raw
        if not raw:
            self._reset(self._decoder.getstate())
            return b""
        if k < self._count:  # some of the last chunk's lines were delivered
            first = self._last
            start = self._after(raw[first], self._count - k)
        else:  # the rest starts where it started before that chunk
            first = 0
            start = self._after(raw[0], raw[0][2]) if self._settled else 0
        rest = b"".join([raw[first][0][start:], *[chunk for chunk, _, _ in raw[first + 1 :]]])
        self._reset(self._state_at(raw[first], start, first == 0 and not self._settled))
        return rest

    def _state_at(self, piece: _Chunk, start: int, initial: bool) -> State:
        """The decoder's state ``start`` bytes into ``piece``'s chunk; ``initial``: that
        is where the reader began."""
        if initial and start == 0:
            return self.start
        if self._exact:  # after a newline byte: nothing held, no mode to keep
            return fresh(self._encoding)
        chunk, state, _ = piece
        decoder = decoder_at(self._encoding, self._errors, state)
        decoder.decode(chunk[:start])  # (it decoded whole before, it does now)
        after: State = decoder.getstate()
        return after

    def _after(self, piece: _Chunk, n: int) -> int:
        """Where in ``piece``'s chunk its ``n``-th newline ends (0 for none)."""
        chunk, state, count = piece
        if self._exact:  # each 0x0A is one of its newlines: count from the nearer end
            if 2 * n <= count:
                pos = -1
                for _ in range(n):
                    pos = chunk.index(b"\n", pos + 1)
            else:
                pos = len(chunk)
                for _ in range(count - n + 1):
                    pos = chunk.rindex(b"\n", 0, pos)
            return pos + 1
        # A newline may take several bytes: the shortest prefix that decodes to n of them.
        assert state is not None  # kept for each chunk that completed lines
        low, high = 0, len(chunk)
        while low < high:
            mid = (low + high) // 2
            decoder = decoder_at(self._encoding, self._errors, state)
            if decoder.decode(chunk[:mid]).count("\n") >= n:
                high = mid
            else:
                low = mid + 1
        return low
