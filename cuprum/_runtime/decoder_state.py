"""Where the decoding of a stream stands, carried from one of the handle's readers to the next.

A stream handle's readers (lines, batches, chunks, ``expect()``, ``wait()``) each
decode the part of stdout they are given; the next one must go on from where the
stream's decoding stood, not from a fresh decoder: after a UTF-16 or UTF-32 byte
order mark there is no other, and raw chunks may end inside a character (or, in
UTF-16, between the two bytes of a unit). A :data:`State` is an incremental
decoder's ``getstate()``: the bytes it holds back and the codec's own mode (the
byte order a BOM chose). It is found with the stream's own error handler: most
resume after the bytes a codec could not decode, but ``surrogateescape`` stops at
the first byte below 0x80 of a UTF-16 or UTF-32 unit it cannot decode, and the
units after it are read from there, as ``bytes.decode`` reads them.
"""

from __future__ import annotations

import codecs
import functools

from cuprum._model.decoding import incremental_decoder

__all__ = ["State", "advanced", "decoder_at", "fresh"]

State = tuple[bytes, int]
"""An incremental decoder's state (``getstate()``); ``None`` where one is asked: a fresh one's."""


def decoder_at(encoding: str, errors: str, state: State | None) -> codecs.IncrementalDecoder:
    """A decoder for ``encoding`` that goes on from ``state`` (``None``: from the start)."""
    decoder = incremental_decoder(encoding, errors)
    if state is not None:
        decoder.setstate(state)
    return decoder


@functools.lru_cache(maxsize=64)
def fresh(encoding: str) -> State:
    """The state of a decoder that has read nothing."""
    state: State = incremental_decoder(encoding, "strict").getstate()
    return state


@functools.lru_cache(maxsize=64)
def _kind(encoding: str) -> str:
    """``stateless`` (one byte, one character: the state never changes), ``utf-8``
    (the state is the incomplete character at the end, at most 3 bytes) or ``other``."""
    name = codecs.lookup(encoding).name
    if name == "utf-8":
        return "utf-8"
    if name == "ascii" or name.startswith(("iso8859-", "cp125", "koi8-")):
        return "stateless"
    return "other"


def advanced(encoding: str, errors: str, state: State | None, data: bytes) -> State | None:
    """The state after ``data`` was handed out raw, from ``state`` (``None``: the start).

    Cheap where it can be: nothing to do for a single-byte codec; in UTF-8 only the
    last 3 bytes matter (an incomplete character is at most that long and starts
    with a lead byte, which no byte before it changes, and no handler makes UTF-8
    resume inside the bytes it could not decode). Otherwise ``data`` is decoded
    with ``errors`` (UTF-16 or UTF-32 without a BOM: in the platform's byte order
    from then on, as ``bytes.decode`` reads it; see :mod:`cuprum._model.decoding`);
    where that handler fails (``strict``), with ``replace``, which resumes where
    ``strict`` stops. A codec that fails even then keeps ``state``.
    """
    kind = _kind(encoding)
    if kind == "stateless" or not data:
        return state
    if kind == "utf-8" and len(data) >= 3:
        state, data = None, data[-3:]
    for handler in (errors, "replace"):
        decoder = decoder_at(encoding, handler, state)
        try:
            decoder.decode(data)
        except UnicodeError:
            continue
        after: State = decoder.getstate()
        return None if after == fresh(encoding) else after
    return state
