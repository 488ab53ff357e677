"""The kept bytes of one output stream, in one buffer, and their decode (no join).

Bytes go into one growing ``bytearray`` and are decoded from it once, at the end:
never more than the bytes and the text at once (a list of chunks joined at the end
would add a third copy, and glibc keeps the freed chunks' heap). A large capture of
text goes further: past :data:`DECODE_AS_READ` bytes, in a codec whose decode is
exact to undo or cannot fail, each chunk is decoded as it arrives into one ``str``
that grows in place, and the bytes are let go, so the peak is the text and a chunk.
Where the error handler then fails (``strict``), the text so far is encoded back to
its exact bytes and the capture goes on as bytes: results and errors are those of
one decode of all the bytes at the end.
"""

from __future__ import annotations

import codecs
import sys
from collections.abc import Generator

from cuprum._model.decoding import incremental_decoder
from cuprum._runtime.decoder_state import State, decoder_at, fresh

__all__ = ["DECODE_AS_READ", "Capture", "decode"]

DECODE_AS_READ = 4 << 20
"""Bytes of text after which a capture decodes as it reads (when it can)."""

_CODECS = frozenset({"utf-8", "ascii", "iso8859-1"})
_NEVER_FAIL = frozenset({"replace", "ignore", "backslashreplace"})  # in these codecs
_REVERSIBLE = frozenset({"strict", "surrogateescape", "surrogatepass"})  # exact to encode back


def decode(
    data: bytes | bytearray,
    encoding: str,
    errors: str,
    *,
    cut: bool = False,
    state: State | None = None,
) -> str:
    """``data`` as text. ``cut``: cuprum cut the stream at a byte count, so where
    ``errors`` would fail (``"strict"``) an incomplete character at the end is left
    out rather than an error (invalid bytes before it still raise). ``state``: the
    bytes are the rest of a stream whose decoding stood there."""
    try:
        if state is None:
            return str(data, encoding, errors)
        return decoder_at(encoding, errors, state).decode(bytes(data), final=True)
    except UnicodeDecodeError:
        if not cut:
            raise
        return decoder_at(encoding, errors, state).decode(bytes(data), final=False)


def _grow(text: str) -> Generator[int, str, str]:
    """Appends each piece sent to ``text``; ``""`` ends it and returns the text.

    ``text`` is a local holding the only reference, so CPython's in-place add
    resizes it (``realloc``, ``mremap`` when large) instead of copying it. It
    yields the text's ``id``, which stays the same when a small append fits.
    """
    while piece := (yield id(text)):
        text += piece
    return text


def _ends(grow: Generator[int, str, str]) -> str:
    try:
        grow.send("")
    except StopIteration as stop:
        text: str = stop.value
        return text
    raise AssertionError("unreachable: an empty piece ends the generator")


_in_place: bool | None = None
_PROBE = 1000  # a name, not a literal: "x" * _PROBE is a fresh string, never a constant


def _appends_in_place() -> bool:
    """Whether :func:`_grow` appends in place here (probed once, warming it up): not
    on interpreters without the in-place add, nor under a tracer (3.11 then runs
    the generic, copying add)."""
    global _in_place
    if sys.gettrace() or sys.getprofile() or sys.implementation.name != "cpython":
        return False
    if _in_place is None:
        grow = _grow("x" * _PROBE)
        before = next(grow)
        kept = 0
        for step in range(64):  # the first ones warm the generator's code up
            after = grow.send("y")
            kept += step >= 32 and after == before
            before = after
        grow.close()
        _in_place = kept > 0
    return _in_place


class Capture:
    """The kept bytes of one stream (the collector decides how many) and their value.

    :meth:`add` each chunk; :meth:`text` and :meth:`raw` give the value. Decoding as
    it reads, it keeps the text only: :meth:`raw` encodes it back, which is exact
    unless the error handler is a lossy one (``replace``), where only the text can
    be had.
    """

    __slots__ = (
        "_buffer",
        "_decoder",
        "_ended",
        "_grow",
        "_state",
        "_stays_bytes",
        "_text",
        "encoding",
        "errors",
    )

    def __init__(
        self, encoding: str, errors: str, *, text: bool, state: State | None = None
    ) -> None:
        self.encoding = encoding
        self.errors = errors
        # Where the decoding starts (the rest of a stream): None, the start, as a fresh
        # decoder's state; then the bytes are decoded in one call, and as read if large.
        self._state = None if state is None or state == fresh(encoding) else state
        self._buffer = bytearray()
        self._decoder: codecs.IncrementalDecoder | None = None  # set: decoding as read
        self._grow: Generator[int, str, str] | None = None  # the text, growing ...
        self._text = ""  # ... or, while no generator holds it, here
        self._ended: tuple[int, tuple[bytes, int]] | None = None  # text() flushed a rest
        # or, found at the threshold, a codec that cannot (or the rest of a stream)
        self._stays_bytes = not text or self._state is not None

    def add(self, data: bytes) -> None:
        """Keep ``data``."""
        if self._decoder is not None:
            self._decode(data)
            return
        buffer = self._buffer
        buffer += data
        if len(buffer) >= DECODE_AS_READ and not self._stays_bytes:
            self._start_decoding()

    def _start_decoding(self) -> None:
        self._stays_bytes = True  # at most one try
        if not _decodes_as_read(self.encoding, self.errors) or not _appends_in_place():
            return
        decoder = incremental_decoder(self.encoding, self.errors)
        try:
            first = decoder.decode(self._buffer)
        except UnicodeDecodeError:  # strict: stays bytes, the end decides
            return
        self._buffer = bytearray()
        self._decoder = decoder
        if first:
            self._growing().send(first)

    def _growing(self) -> Generator[int, str, str]:
        grow = self._grow
        if grow is None:
            text, self._text = self._text, ""
            grow = self._grow = _grow(text)
            del text  # the generator holds the only reference
            next(grow)
        return grow

    def _decode(self, data: bytes) -> None:
        assert self._decoder is not None
        if self._ended is not None:
            self._resume()
        try:
            piece = self._decoder.decode(data)
        except UnicodeDecodeError:  # a reversible handler failed: back to bytes
            self._to_bytes(data)
            return
        if piece:
            self._growing().send(piece)

    def _take_text(self) -> str:
        grow, self._grow = self._grow, None
        if grow is not None:
            self._text = _ends(grow)
        return self._text

    def _to_bytes(self, data: bytes = b"") -> None:
        """Go on as bytes: the text so far encoded back (exact), undecoded bytes, ``data``."""
        self._buffer = self._encoded()
        self._buffer += data
        self._decoder, self._text = None, ""

    def _encoded(self) -> bytearray:
        assert self._decoder is not None
        if self.errors not in _REVERSIBLE:
            raise RuntimeError(f"a capture decoded with errors={self.errors!r} keeps no bytes")
        buffer = bytearray(self._take_text(), self.encoding, self.errors)
        buffer += self._decoder.getstate()[0]
        return buffer

    def _resume(self) -> None:
        """More bytes after :meth:`text` flushed an unfinished character: undo that."""
        assert self._ended is not None and self._decoder is not None
        (chars, state), self._ended = self._ended, None
        text = self._take_text()
        self._text = text[: len(text) - chars]
        del text
        self._decoder.setstate(state)

    def text(self, *, cut: bool) -> str:
        """The text (``UnicodeDecodeError`` as one decode of all the bytes would raise
        it); ``cut``: the stream was cut at a byte count (see :func:`decode`)."""
        decoder = self._decoder
        if decoder is None:
            return decode(self._buffer, self.encoding, self.errors, cut=cut, state=self._state)
        state = decoder.getstate()
        try:
            tail = decoder.decode(b"", final=True)
        except UnicodeDecodeError:  # it ends inside a character
            if not cut:
                self._to_bytes()
                return decode(self._buffer, self.encoding, self.errors)
            tail = ""  # the character the cut split stays undecoded
        if tail:
            self._growing().send(tail)
        if state[0] and decoder.getstate()[0] != state[0]:  # flushed: more would resume
            self._ended = (len(tail), state)
        return self._take_text()

    def raw(self) -> bytes:
        """The exact bytes kept."""
        if self._decoder is None:
            return bytes(self._buffer)
        if self._ended is not None:
            self._resume()
        return bytes(self._encoded())


def _decodes_as_read(encoding: str, errors: str) -> bool:
    """Whether a decode chunk by chunk is the decode of the whole, and where it
    fails, the text so far encodes back to the exact bytes it came from."""
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        return False
    return name in _CODECS and (errors in _NEVER_FAIL or errors in _REVERSIBLE)
