"""The text a text ``expect()`` searches, and the exact bytes it leaves after a match.

A text ``expect()`` searches decoded output (from a terminal, ``\\r\\n`` as ``\\n``),
but what it leaves for the next reader must be the bytes the program sent, not
that text encoded again (a lone ``\\n`` would come back as ``\\r\\n``, an
undecodable byte as the bytes of ``U+FFFD``). So :class:`TextPieces` keeps the
raw pieces, and marks where the decoding stood clean after a piece (no partial
character, no ``\\r`` held to see whether ``\\n`` follows). :meth:`TextPieces.rest`
maps a position in the text back to a byte offset: from the last clean mark at or
before it, it finds the shortest prefix that decodes to that many characters (a
binary search, each probe one decode in C), then settles the cut among the few
bytes a held character spans: the first cut whose two sides decode to the text
before and after the position.
"""

from __future__ import annotations

import bisect
import functools

from cuprum._runtime.decoder_state import State, decoder_at
from cuprum._runtime.terminal import CrlfTranslator

__all__ = ["TextPieces"]


class TextPieces:
    """Decodes the pieces one text ``expect()`` reads; on a terminal ``\\r\\n`` is ``\\n``.

    Never raises for undecodable bytes (``strict`` matches with replacement
    characters, as line events do; a handler that fails, such as ``surrogatepass``,
    gives way to ``replace`` from there on). It decodes from ``state``, where the stream's
    decoding stood; :meth:`rest` gives back the bytes after a position of the text,
    exactly as they were read, and :meth:`state_at` says where the decoding stands there.
    """

    __slots__ = (
        "_at",
        "_cr_size",
        "_crlf",
        "_decoder",
        "_encoding",
        "_length",
        "_lengths",
        "_raw",
        "_size",
        "_sizes",
        "_states",
        "_terminal",
    )

    def __init__(
        self, encoding: str, errors: str, *, terminal: bool, state: State | None = None
    ) -> None:
        errors = "replace" if errors == "strict" else errors
        self._encoding = encoding
        self._at = functools.partial(decoder_at, encoding, errors)
        self._decoder = self._at(state)
        self._terminal = terminal
        self._crlf = CrlfTranslator()
        self._cr_size = len("\r".encode(encoding))
        self._raw: list[bytes] = []
        self._size = self._length = 0  # bytes read, characters decoded
        # The clean marks: bytes read, characters decoded and the decoder's state before
        # each; clean, as nothing is held there (the state keeps a BOM's byte order).
        self._sizes = [0]
        self._lengths = [0]
        self._states: list[State] = [self._decoder.getstate()]

    def decode(self, data: bytes, *, final: bool = False) -> str:
        """The text of ``data`` (``final``: the end, so nothing more is held back)."""
        try:
            text = self._decoder.decode(data, final)
        except UnicodeDecodeError:  # the handler failed: replace, from here on
            self._at = functools.partial(decoder_at, self._encoding, "replace")
            self._decoder = self._at(self._decoder.getstate())
            text = self._decoder.decode(data, final)
        if self._terminal:
            text = self._crlf(text, final=final)
        self._raw.append(data)
        self._size += len(data)
        self._length += len(text)
        state = self._decoder.getstate()
        if not state[0] and not self._crlf.held:
            self._sizes.append(self._size)
            self._lengths.append(self._length)
            self._states.append(state)
        return text

    def rest(self, text: str, position: int) -> bytes:
        """The bytes after the first ``position`` characters of ``text`` (all that
        :meth:`decode` returned), as they were read."""
        raw = b"".join(self._raw)
        return raw[self._offset(raw, text, position)[0] :]

    def state_at(self, text: str, position: int) -> State:
        """The decoder's state where :meth:`rest` begins."""
        return self._offset(b"".join(self._raw), text, position)[1]

    def _offset(self, raw: bytes, text: str, position: int) -> tuple[int, State]:
        """Where the first ``position`` characters end in ``raw``, and the state there."""
        if position <= 0:
            return 0, self._states[0]
        mark = bisect.bisect_right(self._lengths, position) - 1
        size, length = self._sizes[mark], self._lengths[mark]
        if length == position:
            return size, self._states[mark]
        cut, state = self._cut(self._states[mark], raw[size:], text[length:], position - length)
        return size + cut, state

    def _cut(self, state: State, data: bytes, text: str, count: int) -> tuple[int, State]:
        """Where in ``data`` (decoded from a clean mark at ``state`` to ``text``) its
        first ``count`` characters end, and the decoder's state there."""
        low, high = 0, len(data)  # the shortest prefix that gives ``count`` characters
        while low < high:
            middle = (low + high) // 2
            if len(self._decoded(state, data[:middle], final=False)[0]) >= count:
                high = middle
            else:
                low = middle + 1
        # The byte before it may have let go of characters held for a while (a
        # ``\r``, bytes found not to be a character): the cut is among those.
        held = self._decoded(state, data[: low - 1], final=False)[1] if low else 0
        # ``text`` lacks what is still held at its end: after the cut, that comes too.
        whole = self._decoded(state, data, final=True)[0]
        before, after = text[:count], text[count:] + whole[len(text) :]
        cuts = range(max(0, low - 1 - held), low + 1)
        # A clean cut first (nothing held before it: a whole code unit in UTF-16 and
        # UTF-32), else one where the bytes before it end the text before, flushed.
        for final in (False, True):
            for cut in cuts:
                left, kept, there = self._decoded(state, data[:cut], final=final)
                if left != before or kept:
                    continue
                if self._decoded(there, data[cut:], final=True)[0] == after:
                    return cut, there
        # (no cut gives both sides: undecodable bytes a lossy decoder split)
        return low, self._decoded(state, data[:low], final=False)[2]

    def _decoded(self, state: State, data: bytes, *, final: bool) -> tuple[str, int, State]:
        """``data`` decoded from ``state``, how many of its bytes are held back, and the
        decoder's state after it."""
        decoder = self._at(state)
        try:
            text = decoder.decode(data, final)
        except UnicodeDecodeError:  # a probe the handler fails on, as decode() would
            decoder = decoder_at(self._encoding, "replace", state)
            text = decoder.decode(data, final)
        after: State = decoder.getstate()
        held = len(after[0])
        if self._terminal:
            crlf = CrlfTranslator()
            text = crlf(text, final=final)
            held += self._cr_size if crlf.held else 0
        return text, held, after
