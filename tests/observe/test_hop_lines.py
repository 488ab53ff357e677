"""The lines of an observed hop (``cuprum._transport.lines``): one definition.

However the bytes are cut into chunks, the batches give the same lines, and those
are the lines a captured stream's line events give (``StreamCollector``): split at
``\\n`` only (``\\r`` stays), the last line without its newline at EOF, decoding
errors as U+FFFD under ``strict``, and counts that need no decoding.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cuprum._runtime.streams import StreamCollector
from cuprum._transport.lines import HopLines, Lines, Marks, python_marks
from cuprum._transport.native import line_marks

NATIVE = line_marks()
#: Both ways of finding a chunk's newlines: they must give the same lines.
MARKS = pytest.mark.parametrize(
    "marks",
    [
        pytest.param(python_marks, id="python"),
        pytest.param(
            NATIVE,
            id="native",
            marks=pytest.mark.skipif(NATIVE is None, reason="native extension not installed"),
        ),
    ],
)


def pieces() -> st.SearchStrategy[bytes]:
    piece = st.one_of(
        st.text(alphabet="ab\r\n\u00e9\u20ac\U0001f600", max_size=8).map(str.encode),
        st.binary(min_size=1, max_size=3),
        st.sampled_from([b"\n", b"\r\n", b"\xe2\x82", b"\xed\xa0\x80", b"\xff"]),
    )
    return st.lists(piece, max_size=12).map(b"".join)


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(data)) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def hop_lines(
    chunks: list[bytes], encoding: str, errors: str, marks: Marks = python_marks
) -> tuple[list[str], int]:
    splitter = HopLines(encoding, errors, marks)
    batches: list[Lines] = [b for b in map(splitter.feed, chunks) if b is not None]
    last = splitter.close()
    if last is not None:
        batches.append(last)
    count = sum(b.count for b in batches)
    return [line for b in batches for line in b.text()], count


def collector_lines(chunks: list[bytes], encoding: str, errors: str) -> list[str]:
    """What a captured stream's line events carry for the same bytes."""
    lines: list[str] = []
    collector = StreamCollector(
        program="p", name="stdout", capture=False, encoding=encoding, errors=errors
    )
    collector.bind_lines(lines.append)
    for chunk in chunks:
        collector.feed(chunk)
    collector.close()
    return lines


@MARKS
@given(data=pieces(), cuts=st.lists(st.integers(0, 80), max_size=6))
def test_chunk_boundaries_do_not_change_the_lines(
    marks: Marks, data: bytes, cuts: list[int]
) -> None:
    whole, whole_count = hop_lines([data], "utf-8", "strict", marks)
    cut, cut_count = hop_lines(split_at(data, cuts), "utf-8", "strict", marks)
    assert cut == whole
    assert cut_count == whole_count == len(whole)


@MARKS
@given(
    data=pieces(),
    cuts=st.lists(st.integers(0, 80), max_size=6),
    errors=st.sampled_from(["strict", "replace", "backslashreplace", "surrogateescape", "ignore"]),
)
def test_the_lines_are_the_captured_streams_line_events(
    marks: Marks, data: bytes, cuts: list[int], errors: str
) -> None:
    chunks = split_at(data, cuts)
    lines = hop_lines(chunks, "utf-8", errors, marks)[0]
    assert lines == collector_lines(chunks, "utf-8", errors)


@MARKS
@given(data=pieces(), cuts=st.lists(st.integers(0, 80), max_size=6))
def test_the_reference_semantics(marks: Marks, data: bytes, cuts: list[int]) -> None:
    expected = data.decode("utf-8", "replace").split("\n")
    if expected[-1] == "":
        expected.pop()  # a stream that ends with a newline has no empty last line
    assert hop_lines(split_at(data, cuts), "utf-8", "strict", marks)[0] == expected


@given(
    text=st.text(alphabet="ab\r\n\u00e9\U0001f600", max_size=20),
    cuts=st.lists(st.integers(0, 80), max_size=6),
)
def test_encodings_where_newline_is_not_a_byte(text: str, cuts: list[int]) -> None:
    data = text.encode("utf-16-le")
    chunks = split_at(data, cuts)
    lines, count = hop_lines(chunks, "utf-16-le", "strict")
    assert lines == collector_lines(chunks, "utf-16-le", "strict")
    assert count == len(lines)


def test_carriage_returns_stay_and_the_last_line_comes_at_eof() -> None:
    assert hop_lines([b"a\r\nb", b"\r\n", b"tail"], "utf-8", "strict") == (
        ["a\r", "b\r", "tail"],
        3,
    )
    assert hop_lines([b""], "utf-8", "strict") == ([], 0)
    assert hop_lines([b"\n\n"], "utf-8", "strict") == (["", ""], 2)


@given(
    data=st.binary(max_size=600)
    | st.lists(st.sampled_from([b"\n", b"a", b"\xff"]), max_size=700).map(b"".join)
)
def test_the_native_marks_are_pythons(data: bytes) -> None:
    if NATIVE is None:
        pytest.skip("native extension not installed")
    assert NATIVE(data) == python_marks(data)


def test_a_count_needs_no_decoding() -> None:
    splitter = HopLines("utf-8", "strict")
    batch = splitter.feed(b"x\n" * 1000 + b"par")
    assert batch is not None and batch.count == 1000
    assert batch._text is None  # nothing decoded yet
    assert batch.text()[:2] == ["x", "x"] and len(batch.text()) == 1000
    assert splitter.feed(b"tial\n") is not None
    assert splitter.close() is None
