"""``Capture``: whatever the bytes, the chunking, the codec, the error handler and the
point where it starts decoding as it reads, its text (or error) is the one decode of
all the bytes would give, and its bytes are the exact bytes kept."""

from __future__ import annotations

import itertools
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cuprum._runtime import capture
from cuprum._runtime.capture import Capture, decode
from cuprum._runtime.streams import StreamCollector

ENCODINGS = ["utf-8", "ascii", "latin-1", "cp1252", "utf-16-le"]
HANDLERS = ["strict", "replace", "ignore", "backslashreplace", "surrogateescape", "surrogatepass"]
REVERSIBLE = {"strict", "surrogateescape", "surrogatepass"}

streams = st.lists(
    st.one_of(
        st.text(max_size=6).map(lambda t: t.encode("utf-8", "surrogatepass")),
        st.binary(max_size=4),
        st.just(b"\n"),
        st.just(b"\xe2\x82\xac"),  # a three-byte character, for the chunk bounds to split
    ),
    max_size=14,
).map(b"".join)


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *sorted(set(cuts)), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds) if b > a]


def _fill(data: bytes, draw: st.DataObject, encoding: str, errors: str, *, text: bool) -> Capture:
    """A capture of ``data`` in drawn chunks, switching to decoding at a drawn size."""
    cuts = draw.draw(st.lists(st.integers(0, len(data)), max_size=8))
    threshold = draw.draw(st.integers(0, len(data) + 1))
    with mock.patch.object(capture, "DECODE_AS_READ", threshold):
        kept = Capture(encoding, errors, text=text)
        for chunk in _chunks(data, cuts):
            kept.add(chunk)
    return kept


def _outcome(call: object) -> tuple[str, object]:
    try:
        return ("text", call())  # type: ignore[operator]
    except UnicodeDecodeError as exc:
        return ("error", (exc.encoding, exc.object, exc.start, exc.end, exc.reason))


@given(
    data=streams,
    encoding=st.sampled_from(ENCODINGS),
    errors=st.sampled_from(HANDLERS),
    draw=st.data(),
)
def test_text_and_error_are_those_of_one_decode(
    data: bytes, encoding: str, errors: str, draw: st.DataObject
) -> None:
    kept = _fill(data, draw, encoding, errors, text=True)
    want = _outcome(lambda: data.decode(encoding, errors))
    assert _outcome(lambda: kept.text(cut=False)) == want
    assert _outcome(lambda: kept.text(cut=False)) == want  # asked again: the same
    if errors in REVERSIBLE or want[0] == "error":
        assert kept.raw() == data


@given(
    data=streams,
    encoding=st.sampled_from(ENCODINGS),
    errors=st.sampled_from(HANDLERS),
    draw=st.data(),
)
def test_a_cut_stream_leaves_out_the_character_it_split(
    data: bytes, encoding: str, errors: str, draw: st.DataObject
) -> None:
    kept = _fill(data, draw, encoding, errors, text=True)
    want = _outcome(lambda: decode(data, encoding, errors, cut=True))
    got = _outcome(lambda: kept.text(cut=True))
    assert got[0] == want[0]
    if got[0] == "text":
        assert got == want
    if errors in REVERSIBLE:
        assert kept.raw() == data


@given(data=streams, errors=st.sampled_from(HANDLERS), draw=st.data())
def test_a_bytes_capture_keeps_the_bytes(data: bytes, errors: str, draw: st.DataObject) -> None:
    kept = _fill(data, draw, "utf-8", errors, text=False)
    assert kept.raw() == data
    assert _outcome(lambda: kept.text(cut=False)) == _outcome(lambda: data.decode("utf-8", errors))


@given(data=streams, more=streams, draw=st.data())
def test_chunks_after_the_text_was_taken_still_count(
    data: bytes, more: bytes, draw: st.DataObject
) -> None:
    kept = _fill(data, draw, "utf-8", "surrogateescape", text=True)
    first = kept.text(cut=False)
    kept.add(more)
    assert first == data.decode("utf-8", "surrogateescape")
    assert kept.text(cut=False) == (data + more).decode("utf-8", "surrogateescape")
    assert kept.raw() == data + more


@given(
    data=streams,
    limit=st.integers(0, 60),
    errors=st.sampled_from(HANDLERS),
    draw=st.data(),
)
def test_a_bounded_collector_decoding_as_it_reads_is_the_old_one(
    data: bytes, limit: int, errors: str, draw: st.DataObject
) -> None:
    cuts = draw.draw(st.lists(st.integers(0, len(data)), max_size=8))
    with mock.patch.object(capture, "DECODE_AS_READ", draw.draw(st.integers(0, 64))):
        collector = StreamCollector(
            program="p", name="stdout", capture=True, encoding="utf-8", errors=errors, limit=limit
        )
        for chunk in _chunks(data, cuts):
            collector.feed(chunk)
    kept, cut = data[:limit], len(data) > limit
    assert collector.truncated == cut
    want = _outcome(lambda: decode(kept, "utf-8", errors, cut=cut))
    got = _outcome(lambda: collector.value(text=True))
    assert got[0] == want[0]
    if got[0] == "text":
        assert got == want
        assert collector.salvage(text=True) == want[1]
    else:
        assert collector.salvage(text=True) == kept


def test_the_probe_finds_the_in_place_append_here() -> None:
    """On CPython without a tracer, ``text += piece`` grows the string in place;
    under a tracer (coverage on 3.11) the probe says no and captures stay bytes."""
    import sys

    if sys.gettrace() is not None or sys.implementation.name != "cpython":
        assert not capture._appends_in_place()
    else:
        assert capture._appends_in_place()


def test_without_the_in_place_append_large_text_stays_bytes() -> None:
    with (
        mock.patch.object(capture, "_in_place", False),
        mock.patch.object(capture, "DECODE_AS_READ", 4),
    ):
        kept = Capture("utf-8", "replace", text=True)
        kept.add(b"abc\xffdef")
        assert kept.raw() == b"abc\xffdef"  # still bytes: a lossy handler keeps them
        assert kept.text(cut=False) == "abc\ufffddef"


def test_a_lossy_capture_decoded_as_read_has_no_bytes() -> None:
    if not capture._appends_in_place():
        pytest.skip("this interpreter does not append in place (or a tracer runs)")
    with mock.patch.object(capture, "DECODE_AS_READ", 4):
        kept = Capture("utf-8", "replace", text=True)
        kept.add(b"abc\xffdef")
    assert kept.text(cut=False) == "abc\ufffddef"
    with pytest.raises(RuntimeError, match="keeps no bytes"):
        kept.raw()
