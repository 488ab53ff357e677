"""``LineReader``: whatever the bytes, the chunking, the error handler and where the
reader stops, the bytes it hands back are exactly the ones after the lines it
delivered (the stream handle's switch from lines to chunks or ``wait()``)."""

from __future__ import annotations

import codecs
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cuprum._runtime.streams import LineReader


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *sorted(set(cuts)), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds) if b > a]


streams = st.lists(
    st.one_of(st.text(max_size=5).map(str.encode), st.binary(max_size=3), st.just(b"\n")),
    max_size=12,
).map(b"".join)


@given(
    data=streams,
    errors=st.sampled_from(["replace", "surrogateescape", "strict", "backslashreplace"]),
    encoding=st.sampled_from(["utf-8", "latin-1"]),
    draw=st.data(),
)
def test_take_rest_is_exactly_what_was_not_delivered(
    data: bytes, errors: str, encoding: str, draw: st.DataObject
) -> None:
    if errors == "strict":  # strict raises in split for invalid bytes: only valid text
        data = data.decode(encoding, "replace").encode(encoding, "replace")
    chunks = _chunks(data, draw.draw(st.lists(st.integers(0, len(data)), max_size=6)))
    stop = draw.draw(st.integers(0, len(chunks)))  # chunks split before stopping
    reader = LineReader(encoding, errors)
    fed = b""
    delivered = 0  # lines handed out
    undelivered: list[str] = []
    for index, chunk in enumerate(chunks[:stop]):
        lines = reader.split(chunk)
        fed += chunk
        keep = draw.draw(st.integers(0, len(lines))) if index == stop - 1 else 0
        delivered += len(lines) - keep
        undelivered = lines[len(lines) - keep :]
    start = 0
    for _ in range(delivered):
        start = fed.index(b"\n", start) + 1
    assert reader.take_rest(undelivered) == fed[start:]
    # ... and the reader starts afresh: the rest of the stream reads as new.
    assert reader.split(b"x\n") == ["x"]


@given(data=streams)
def test_a_stream_ending_inside_a_character_under_strict_keeps_its_last_line(
    data: bytes,
) -> None:
    valid = data.decode("utf-8", "replace").encode()
    reader = LineReader("utf-8", "strict")
    lines = reader.split(valid + b"tail \xe2\x82")
    assert lines == valid.decode().split("\n")[:-1]
    assert reader.split(b"") == []
    assert reader.stuck
    assert reader.take_partial() == ""
    last = valid.rsplit(b"\n", 1)[-1] if b"\n" in valid else valid
    assert reader.take_rest([]) == last + b"tail \xe2\x82"


#: Encodings where byte 0x0A is not always a newline (or the decoder does not give
#: back the bytes it read): the reader finds line ends by decoding again.
#: ``utf-16`` streams start with their byte order mark (the codec refuses one without).
MULTIBYTE = ["utf-16", "utf-16-le", "utf-32-be", "shift_jis", "gb18030", "euc-jp"]
PIECE_CODEC = {"utf-16": "utf-16-le"}


def _encoded_streams(encoding: str) -> st.SearchStrategy[bytes]:
    codec = PIECE_CODEC.get(encoding, encoding)
    newline = "\n".encode(codec)
    piece = st.one_of(
        st.text(max_size=4).map(lambda text: text.encode(codec, "replace")),
        st.binary(max_size=3),
        st.just(newline),
    )
    bom = b"\xff\xfe" if encoding == "utf-16" else b""
    return st.lists(piece, max_size=12).map(lambda pieces: bom + b"".join(pieces))


def _rest_after_lines(data: bytes, encoding: str, errors: str, lines: int) -> bytes:
    """What follows the first ``lines`` newlines of ``data``, decoded as one stream."""
    for end in range(len(data) + 1):
        decoder = codecs.getincrementaldecoder(encoding)(errors)
        if decoder.decode(data[:end]).count("\n") >= lines:
            return data[end:]
    raise AssertionError("fewer lines than delivered")


@given(
    encoding=st.sampled_from(["utf-8", "latin-1", *MULTIBYTE]),
    errors=st.sampled_from(["replace", "surrogateescape", "strict", "backslashreplace"]),
    draw=st.data(),
)
def test_take_rest_is_byte_exact_whatever_the_encoding_and_bytes(
    encoding: str, errors: str, draw: st.DataObject
) -> None:
    # Any bytes, valid or not: under strict a read that cannot be decoded raises,
    # and its bytes (and the rest of a line before them) are still given back.
    data = draw.draw(_encoded_streams(encoding) if encoding in MULTIBYTE else streams)
    chunks = _chunks(data, draw.draw(st.lists(st.integers(0, len(data)), max_size=6)))
    stop = draw.draw(st.integers(0, len(chunks)))
    reader = LineReader(encoding, errors)
    fed = b""
    delivered = 0
    undelivered: list[str] = []
    for index, chunk in enumerate(chunks[:stop]):
        fed += chunk
        try:
            lines = reader.split(chunk)
        except UnicodeDecodeError:
            if errors != "strict":  # a handler the codec cannot apply to these bytes
                # (surrogateescape cannot escape the bytes below 0x80 of a UTF-32 code
                # point past U+10FFFF): the decode of all of them fails as well
                with pytest.raises(UnicodeDecodeError):
                    codecs.getincrementaldecoder(encoding)(errors).decode(fed)
            undelivered = []  # the lines split before were all handed out
            break
        keep = draw.draw(st.integers(0, len(lines))) if index == stop - 1 else 0
        delivered += len(lines) - keep
        undelivered = lines[len(lines) - keep :]
    expected = _rest_after_lines(fed, encoding, errors, delivered)
    assert reader.take_rest(undelivered) == expected


@pytest.mark.parametrize(
    ("encoding", "data", "rest"),
    [
        # Shift JIS: an undecodable lead byte would re-encode as "?".
        ("shift_jis", [b"one\n\x81", b"\xff two"], b"\x81\xff two"),
        # UTF-16: the newline is two bytes, the partial line gained a BOM re-encoded.
        ("utf-16", [b"\xff\xfea\x00\n\x00b\x00\x00\xd8"], b"b\x00\x00\xd8"),
        # EUC-JP: an undecodable byte, then the rest of the line in another read.
        ("euc-jp", [b"x\n\xff", b" y"], b"\xff y"),
    ],
)
def test_a_partial_line_comes_back_as_its_bytes(
    encoding: str, data: list[bytes], rest: bytes
) -> None:
    reader = LineReader(encoding, "replace")
    for chunk in data:
        reader.split(chunk)
    assert reader.take_rest([]) == rest
