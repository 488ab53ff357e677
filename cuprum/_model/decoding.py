"""The incremental decoder ``ExecutionContext.encoding`` names: whatever the chunks, the
text ``bytes.decode`` gives for the whole stream.

Every reader that decodes output as it arrives (line events, echo, the stream handle's
lines and ``expect()``, a pipeline hop's lines) takes its decoder from here, and a
result is decoded with ``bytes.decode``: so they agree. The standard library's
incremental UTF-16 and UTF-32 decoders do not: a stream without a byte order mark makes
them raise a bare ``UnicodeError`` (not a ``UnicodeDecodeError``, whatever the error
handler), where ``bytes.decode`` reads it in the platform's byte order. The ones here
read it as ``bytes.decode`` does, with the standard decoders' states (``getstate()``).
"""

from __future__ import annotations

import codecs
import functools
import sys
from collections.abc import Callable
from encodings import utf_16, utf_32
from typing import TYPE_CHECKING

__all__ = ["incremental_decoder"]

if TYPE_CHECKING:
    from typing_extensions import Buffer

    _Decode = Callable[[Buffer, str, bool], tuple[str, int]]
    _Sniff = Callable[[Buffer, str, int, bool], tuple[str, int, int]]


def _sniffed(  # noqa: PLR0917 - the codec's arguments, then the variant's
    decoder: codecs.BufferedIncrementalDecoder,
    data: Buffer,
    final: bool,
    sniff: _Sniff,
    orders: tuple[_Decode, _Decode],
    unit: int,
) -> tuple[str, int]:
    """The standard decoder's ``_buffer_decode``, except that once ``unit`` bytes came
    without a byte order mark, the stream is in the platform's order (``orders``: the
    little-endian decode, the big-endian one), where the standard one raises."""
    chosen: _Decode | None = decoder.decoder  # type: ignore[attr-defined]
    if chosen is not None:
        return chosen(data, decoder.errors, final)
    output, consumed, order = sniff(data, decoder.errors, 0, final)
    little, big = orders
    if order:  # the mark's (-1: little-endian, 1: big-endian)
        decoder.decoder = little if order < 0 else big  # type: ignore[attr-defined]
    elif consumed >= unit:  # no mark: read in the platform's order, as it was
        decoder.decoder = big if sys.byteorder == "big" else little  # type: ignore[attr-defined]
    return output, consumed


class _Utf16(utf_16.IncrementalDecoder):
    def _buffer_decode(self, input: Buffer, errors: str, final: bool) -> tuple[str, int]:
        orders = (codecs.utf_16_le_decode, codecs.utf_16_be_decode)
        return _sniffed(self, input, final, codecs.utf_16_ex_decode, orders, 2)


class _Utf32(utf_32.IncrementalDecoder):
    def _buffer_decode(self, input: Buffer, errors: str, final: bool) -> tuple[str, int]:
        orders = (codecs.utf_32_le_decode, codecs.utf_32_be_decode)
        return _sniffed(self, input, final, codecs.utf_32_ex_decode, orders, 4)


_SNIFFING: dict[str, Callable[[str], codecs.IncrementalDecoder]] = {
    "utf-16": _Utf16,
    "utf-32": _Utf32,
}


@functools.lru_cache(maxsize=64)
def _decoder_class(encoding: str) -> Callable[[str], codecs.IncrementalDecoder]:
    name = codecs.lookup(encoding).name
    return _SNIFFING.get(name) or codecs.getincrementaldecoder(encoding)


def incremental_decoder(encoding: str, errors: str) -> codecs.IncrementalDecoder:
    """A fresh incremental decoder for ``encoding``, with the handler ``errors``."""
    return _decoder_class(encoding)(errors)
