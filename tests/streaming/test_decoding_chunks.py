"""Every decoder cuprum runs as output arrives gives ``bytes.decode`` of the whole
stream, whatever the chunking (differential, against ``bytes.decode``).

The readers: the incremental decoder itself (its state carried from one decoder to
the next, as the stream handle's readers carry it), a capture (:class:`Capture`),
the handle's :class:`LineReader`, a stream's line events (:class:`StreamCollector`),
a pipeline hop's lines (:class:`HopLines`) and a text ``expect()``'s
:class:`TextPieces`. The bytes are mostly UTF-16 and UTF-32 with and without a byte
order mark, odd byte counts, lone surrogates and code units past U+10FFFF (which
``surrogateescape`` escapes byte by byte where it can). A decode that fails is a
``UnicodeDecodeError``, never a bare ``UnicodeError``; readers that must never fail
(line events, hops, ``expect()``) give what ``replace`` gives for ``strict``.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cuprum._compose.expect_text import TextPieces
from cuprum._model.decoding import incremental_decoder
from cuprum._runtime.capture import Capture
from cuprum._runtime.decoder_state import advanced, decoder_at
from cuprum._runtime.streams import LineReader, StreamCollector
from cuprum._transport.lines import HopLines, python_marks

WIDE = ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"]
ENCODINGS = [*WIDE, "utf-8"]
HANDLERS = ["strict", "replace", "surrogateescape", "surrogatepass", "ignore", "backslashreplace"]
#: Handlers that never fail in these codecs: a reader that must not fail gives their text.
NEVER_FAIL = {"replace", "ignore", "backslashreplace"}

PIECES = [
    b"\xff\xfe",  # byte order marks: UTF-16 LE, BE; UTF-32 LE, BE
    b"\xfe\xff",
    b"\xff\xfe\x00\x00",
    b"\x00\x00\xfe\xff",
    b"\n",
    b"\n\x00",  # a newline in UTF-16 LE ...
    b"\x00\n",  # ... and BE
    b"\n\x00\x00\x00",  # in UTF-32 LE
    b"\x00\x00\x00\n",  # ... and BE
    b"a\x00",
    b"\x00a",
    b"a\x00\x00\x00",
    b"\x00\xd8",  # a lone high surrogate (LE)
    b"\x3d\xd8\x00\xde",  # a surrogate pair (LE)
    b"\x80\x80\x80\x80",  # a UTF-32 unit past U+10FFFF, every byte escapable
    b"\x00\x00\x11\x00",  # past U+10FFFF in LE, bytes surrogateescape cannot escape
    b"\xff\xff\xff\xff",
    b"\xc3\xa9",  # UTF-8
    b"\xe2\x82",
]
streams = st.lists(st.one_of(st.sampled_from(PIECES), st.binary(max_size=3)), max_size=12).map(
    b"".join
)
cuts = st.lists(st.integers(0, 60), max_size=6)


def _chunks(data: bytes, points: list[int]) -> list[bytes]:
    """``data`` cut at ``points`` (any order, repeats and past-the-end ignored)."""
    bounds = [0, *sorted({p for p in points if 0 < p < len(data)}), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def _whole(data: bytes, encoding: str, errors: str) -> str | None:
    """``bytes.decode`` of the whole stream, or ``None`` where it raises."""
    try:
        return data.decode(encoding, errors)
    except UnicodeDecodeError:
        return None


def _never_failing(data: bytes, encoding: str, errors: str) -> str | None:
    """What a reader that must not fail decodes: ``replace`` for ``strict``; ``None``
    where the handler itself fails (then the reader gives way to ``replace`` midway)."""
    if errors == "strict":
        return data.decode(encoding, "replace")
    return _whole(data, encoding, errors)


def _lines(text: str) -> list[str]:
    """The lines a reader delivers for ``text``: a last unterminated one if not empty."""
    lines = text.split("\n")
    return lines[:-1] if lines[-1] == "" else lines


PROPERTY = settings(max_examples=400, deadline=None)
the_streams = given(
    data=streams,
    encoding=st.sampled_from(ENCODINGS),
    errors=st.sampled_from(HANDLERS),
    points=cuts,
)


@PROPERTY
@the_streams
def test_the_incremental_decoder_is_the_decode_of_the_whole(
    data: bytes, encoding: str, errors: str, points: list[int]
) -> None:
    want = _whole(data, encoding, errors)
    state = None
    text = ""
    try:
        for chunk in _chunks(data, points):
            decoder = decoder_at(encoding, errors, state)  # a reader after another
            text += decoder.decode(chunk)
            state = decoder.getstate()
        text += decoder_at(encoding, errors, state).decode(b"", final=True)
    except UnicodeDecodeError:
        assert want is None
        return
    assert text == want


@PROPERTY
@the_streams
def test_a_capture_is_the_decode_of_the_whole(
    data: bytes, encoding: str, errors: str, points: list[int]
) -> None:
    want = _whole(data, encoding, errors)
    capture = Capture(encoding, errors, text=True)
    for chunk in _chunks(data, points):
        capture.add(chunk)
    if want is None:
        with pytest.raises(UnicodeDecodeError):
            capture.text(cut=False)
    else:
        assert capture.text(cut=False) == want
    assert capture.raw() == data


@PROPERTY
@given(
    data=streams,
    encoding=st.sampled_from(ENCODINGS),
    errors=st.sampled_from(HANDLERS),
    cut=st.integers(0, 60),
)
def test_raw_bytes_then_a_capture_is_the_decode_of_the_whole(
    data: bytes, encoding: str, errors: str, cut: int
) -> None:
    # The stream handle's chunks, then wait(): the capture goes on from their state.
    want = _whole(data, encoding, errors)
    head, tail = data[:cut], data[cut:]
    try:
        first = incremental_decoder(encoding, errors).decode(head)
        rest = Capture(encoding, errors, text=True, state=advanced(encoding, errors, None, head))
        rest.add(tail)
        text = first + rest.text(cut=False)
    except UnicodeDecodeError:
        assert want is None
        return
    assert text == want


@PROPERTY
@the_streams
def test_the_line_reader_is_the_decode_of_the_whole(
    data: bytes, encoding: str, errors: str, points: list[int]
) -> None:
    want = _whole(data, encoding, errors)
    reader = LineReader(encoding, errors)
    lines: list[str] = []
    try:
        for chunk in [*_chunks(data, points), b""]:
            lines += reader.split(chunk)
    except UnicodeDecodeError:
        assert want is None
        return
    if reader.stuck:  # strict, ending inside a character: wait() decides, and raises
        assert want is None
        return
    assert "".join(line + "\n" for line in lines) + reader.take_partial() == want


@PROPERTY
@given(
    data=streams,
    encoding=st.sampled_from(ENCODINGS),
    errors=st.sampled_from(HANDLERS),
    points=cuts,
    draw=st.data(),
)
def test_lines_then_the_rest_as_wait_reads_it_is_the_decode_of_the_whole(
    data: bytes, encoding: str, errors: str, points: list[int], draw: st.DataObject
) -> None:
    # The handle's lines, some left undelivered, then wait(): its capture decodes the
    # bytes the reader gives back from where the reader's decoding began.
    want = _whole(data, encoding, errors)
    chunks = _chunks(data, points)
    stop = draw.draw(st.integers(0, len(chunks)), label="chunks read as lines")
    reader = LineReader(encoding, errors)
    delivered: list[str] = []
    lines: list[str] = []
    try:
        for chunk in chunks[:stop]:
            delivered += lines
            lines = reader.split(chunk)
    except UnicodeDecodeError:
        assert want is None
        return
    keep = draw.draw(st.integers(0, len(lines)), label="lines undelivered")
    delivered += lines[: len(lines) - keep]
    given_back = reader.take_rest(lines[len(lines) - keep :])
    rest = Capture(encoding, errors, text=True, state=reader.start)  # where they begin
    rest.add(given_back)
    for chunk in chunks[stop:]:
        rest.add(chunk)
    try:
        text = rest.text(cut=False)
    except UnicodeDecodeError:
        assert want is None
        return
    assert "".join(line + "\n" for line in delivered) + text == want


@PROPERTY
@the_streams
def test_line_events_are_the_lines_of_the_whole(
    data: bytes, encoding: str, errors: str, points: list[int]
) -> None:
    events: list[str] = []
    collector = StreamCollector(
        program="prog", name="stdout", capture=True, encoding=encoding, errors=errors,
        on_line=events.append,
    )  # fmt: skip
    for chunk in _chunks(data, points):
        collector.feed(chunk)  # never raises
    collector.close()
    want = _never_failing(data, encoding, errors)
    if want is not None:
        assert events == _lines(want)
    whole = _whole(data, encoding, errors)
    if whole is None:
        with pytest.raises(UnicodeDecodeError) as info:
            collector.value(text=True)
        # (Python 3.12+ may add its own "decoding with ... failed" note first)
        assert info.value.__notes__[-1:] == [f"prog: its stdout is not valid {encoding}"]
    else:
        assert collector.value(text=True) == whole


@PROPERTY
@the_streams
def test_a_hops_lines_are_the_lines_of_the_whole(
    data: bytes, encoding: str, errors: str, points: list[int]
) -> None:
    hop = HopLines(encoding, errors, python_marks)
    batches = [hop.feed(chunk) for chunk in _chunks(data, points)]
    batches.append(hop.close())
    lines = [line for batch in batches if batch is not None for line in batch.text()]
    want = _never_failing(data, encoding, errors)
    if want is not None:
        assert lines == _lines(want)


@PROPERTY
@the_streams
def test_a_text_expect_reads_the_decode_of_the_whole(
    data: bytes, encoding: str, errors: str, points: list[int]
) -> None:
    pieces = TextPieces(encoding, errors, terminal=False)
    text = "".join(pieces.decode(chunk) for chunk in _chunks(data, points))
    text += pieces.decode(b"", final=True)  # never raises
    want = _never_failing(data, encoding, errors)
    if want is not None:
        assert text == want


@PROPERTY
@given(
    data=streams,
    encoding=st.sampled_from(ENCODINGS),
    errors=st.sampled_from(sorted(NEVER_FAIL)),
    points=cuts,
    position=st.integers(0, 60),
)
def test_what_a_text_expect_gives_back_decodes_to_the_rest_of_the_text(
    data: bytes, encoding: str, errors: str, points: list[int], position: int
) -> None:
    pieces = TextPieces(encoding, errors, terminal=False)
    text = "".join(pieces.decode(chunk) for chunk in _chunks(data, points))
    position = min(position, len(text))
    rest, state = pieces.rest(text, position), pieces.state_at(text, position)
    assert data.endswith(rest)
    # Where a cut exists whose two sides decode to the text each side (a lossy handler
    # may leave none), the next reader reads the rest of the text from what it is given.
    whole = data.decode(encoding, errors)
    if _a_cut_exists(data, encoding, errors, text[:position], whole[position:]):
        after = decoder_at(encoding, errors, state).decode(rest, final=True)
        assert text[:position] + after == whole


def _a_cut_exists(data: bytes, encoding: str, errors: str, before: str, after: str) -> bool:
    for cut in range(len(data) + 1):
        decoder = decoder_at(encoding, errors, None)
        left = decoder.decode(data[:cut], final=True)
        if left == before and decoder.decode(data[cut:], final=True) == after:
            return True
    return False


# -- the cases, spelled out ---------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32"])
def test_a_stream_without_a_byte_order_mark_is_in_the_platforms_order(encoding: str) -> None:
    data = "one\ntwo\n".encode(f"{encoding}-le")  # (the tests run on little-endian hosts)
    reader = LineReader(encoding, "strict")
    assert [line for byte in data for line in reader.split(bytes([byte]))] == ["one", "two"]
    # was: UnicodeError("UTF-16 stream does not start with BOM")


@pytest.mark.parametrize("encoding", ["utf-32", "utf-32-le"])
def test_surrogateescape_escapes_a_unit_past_the_last_code_point(encoding: str) -> None:
    data = b"\x80\x80\x80\x80\n\x00\x00\x00"
    want = "\udc80\udc80\udc80\udc80\n"
    assert data.decode(encoding, "surrogateescape") == want
    for chunk in _chunks(data, [1, 2, 5]), [data]:
        reader = LineReader(encoding, "surrogateescape")
        assert [line for piece in chunk for line in reader.split(piece)] == [want[:-1]]
    events: list[str] = []
    collector = StreamCollector(
        program="prog", name="stdout", capture=True, encoding=encoding,
        errors="surrogateescape", on_line=events.append,
    )  # fmt: skip
    collector.feed(data[:2])
    collector.feed(data[2:])
    collector.close()
    assert (events, collector.value(text=True)) == ([want[:-1]], want)
