"""The lines of an observed hop: one definition for every relay.

A relayed hop's bytes reach :class:`HopLines` in chunks, however the relay
happened to read them (the ``python`` relay's reads, the ``rust`` relay's tap);
each chunk that completes lines gives one :class:`Lines` batch. The rules, the
same as for the line events of a captured stream:

- a line ends at ``\\n`` only (a ``\\r`` before it stays in the line); a chunk
  boundary is not a line boundary; the last line is delivered at EOF even
  without its newline (unless its text is empty: ``errors="ignore"`` may make
  it so); an empty stream has no lines;
- text is decoded with the run's ``errors``, except that ``"strict"`` (and a
  handler that fails) gives U+FFFD: observing never stops a run.

Counting needs no text: in encodings where byte ``0x0A`` is always a whole newline
(UTF-8, ASCII, Latin-*, ...) a batch counts its newlines (with the native
extension's ``line_marks`` when it is there: the one pass over every byte of the
hop) and decodes its lines only when asked (:meth:`Lines.text`), each batch on its
own, which gives the text an incremental decoder would. Other encodings (UTF-16,
...) are decoded as they come.
"""

from __future__ import annotations

import codecs
import functools
from collections.abc import Callable

from cuprum._model.decoding import incremental_decoder
from cuprum._transport.dispatch import pure_python
from cuprum._transport.native import line_marks

__all__ = ["HopLines", "Lines", "Marks", "newline_is_a_byte", "python_marks"]

Marks = Callable[[bytes], tuple[int, int, int]]
"""``(count, first, last)``: how many newlines a chunk holds, where the first and the
last are (``(0, -1, -1)`` without any)."""


def python_marks(data: bytes) -> tuple[int, int, int]:
    """:data:`Marks` in Python (the native ``line_marks`` counts about 20x faster)."""
    count = data.count(b"\n")
    if not count:
        return 0, -1, -1
    return count, data.find(b"\n"), data.rfind(b"\n")


@functools.cache
def _native_marks() -> Marks | None:
    return line_marks()


def chunk_marks() -> Marks:
    """The native counter, unless the run is asked to be pure Python (or there is none)."""
    native = None if pure_python() else _native_marks()
    return native if native is not None else python_marks


def newline_is_a_byte(encoding: str) -> bool:
    """Whether byte ``0x0A`` is always a whole newline in ``encoding`` (never part of a
    character, nor held back by a decoder): then lines map onto bytes exactly."""
    name = codecs.lookup(encoding).name
    return name in {"utf-8", "ascii"} or name.startswith(("iso8859-", "cp125", "koi8-"))


def _live_errors(errors: str) -> str:
    return "replace" if errors == "strict" else errors


def _decode(data: bytes | memoryview, encoding: str, errors: str) -> str:
    try:
        return str(data, encoding, errors)
    except UnicodeDecodeError:  # a handler that fails (surrogatepass, ...): never raise
        return str(data, encoding, "replace")


class Lines:
    """The ``count`` lines one chunk completed; :meth:`text` decodes them (once)."""

    __slots__ = ("_body", "_encoding", "_errors", "_head", "_text", "count")

    def __init__(  # noqa: PLR0917 - built in one place, per chunk
        self,
        count: int,
        head: bytes,
        body: memoryview | None,
        encoding: str,
        errors: str,
        text: list[str] | None = None,
    ) -> None:
        self.count = count
        self._head = head  # the first line's bytes (joined with what earlier chunks held)
        self._body = body  # the bytes of the other lines, newlines between them
        self._encoding = encoding
        self._errors = errors
        self._text = text

    def text(self) -> list[str]:
        """The lines, decoded, without their newlines."""
        if self._text is None:
            encoding, errors = self._encoding, self._errors
            lines = [_decode(self._head, encoding, errors)]
            if self._body is not None:
                lines += _decode(self._body, encoding, errors).split("\n")
            self._text = lines
            self._head, self._body = b"", None  # the chunk is no longer held
        return self._text


class HopLines:
    """Splits one hop's chunks into :class:`Lines` batches (see the module's rules)."""

    __slots__ = ("_decoder", "_encoding", "_errors", "_marks", "_pending")

    def __init__(self, encoding: str, errors: str, marks: Marks | None = None) -> None:
        self._marks = marks if marks is not None else chunk_marks()
        self._encoding = encoding
        self._errors = _live_errors(errors)
        self._pending: list[bytes] | list[str] = []  # the unterminated rest so far
        self._decoder: codecs.IncrementalDecoder | None = None
        if not newline_is_a_byte(encoding):
            self._decoder = incremental_decoder(encoding, self._errors)

    def feed(self, data: bytes) -> Lines | None:
        """The batch ``data`` completes, or ``None`` (no newline in it)."""
        if self._decoder is not None:
            return self._feed_text(self._decode_text(data, final=False))
        pending: list[bytes] = self._pending  # type: ignore[assignment]
        count, first, last = self._marks(data)
        if not count:
            if data:
                pending.append(data)
            return None
        head = data[:first]
        if pending:
            pending.append(head)
            head = b"".join(pending)
            pending.clear()
        if last + 1 < len(data):
            pending.append(data[last + 1 :])
        body = memoryview(data)[first + 1 : last] if count > 1 else None
        return Lines(count, head, body, self._encoding, self._errors)

    def close(self) -> Lines | None:
        """EOF: the unterminated last line as a batch of one, or ``None``."""
        if self._decoder is not None:
            lines = self._feed_text(self._decode_text(b"", final=True))
            rest = "".join(self._pending)  # type: ignore[arg-type]
            self._pending.clear()
            if rest:
                text = [*(lines.text() if lines is not None else ()), rest]
                return Lines(len(text), b"", None, self._encoding, self._errors, text)
            return lines
        if not self._pending:
            return None
        head = b"".join(self._pending)  # type: ignore[arg-type]
        self._pending.clear()
        last = _decode(head, self._encoding, self._errors)
        if not last:  # nothing left once decoded (errors="ignore"): no line
            return None
        return Lines(1, b"", None, self._encoding, self._errors, [last])

    def _decode_text(self, data: bytes, *, final: bool) -> str:
        assert self._decoder is not None
        try:
            return self._decoder.decode(data, final)
        except UnicodeDecodeError:  # a handler that fails gives way to replace
            state = self._decoder.getstate()
            self._decoder = incremental_decoder(self._encoding, "replace")
            self._decoder.setstate(state)
            return self._decoder.decode(data, final)

    def _feed_text(self, text: str) -> Lines | None:
        pending: list[str] = self._pending  # type: ignore[assignment]
        if "\n" not in text:
            if text:
                pending.append(text)
            return None
        lines = text.split("\n")
        if pending:
            pending.append(lines[0])
            lines[0] = "".join(pending)
            pending.clear()
        tail = lines.pop()
        if tail:
            pending.append(tail)
        return Lines(len(lines), b"", None, self._encoding, self._errors, lines)
