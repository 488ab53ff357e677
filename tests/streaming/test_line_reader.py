"""``LineReader``: whatever the bytes, the chunking, the error handler and where the
reader stops, the bytes it hands back are exactly the ones after the lines it
delivered (the stream handle's switch from lines to chunks or ``wait()``)."""

from __future__ import annotations

import itertools

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
