"""Switching readers on a stream handle is seamless in every encoding: each reader that
decodes goes on from where the stream's decoding stood, so a UTF-16 or UTF-32 byte
order mark read by one reader holds for the next, and a character that raw chunks
split is completed by the text reader after them.

The program writes its output in segments, pausing after each until the handle says
it has read it (a line on stdin), so every switch happens at a chosen point of the
stream; its stdout goes through ``cat`` on every stream strategy.
"""

from __future__ import annotations

import codecs
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from cuprum import PIPE, ExecutionContext
from cuprum._model.decoding import incremental_decoder
from cuprum._runtime.decoder_state import State, advanced, fresh

from .streaming_support import CAT, DEADLINE, chain, py

pytestmark = pytest.mark.anyio


@pytest.fixture
def warm(stream_backend: str) -> None:
    """Run the strategy once first: its relay's first import, deep in hypothesis's
    and the event loop's stack, trips CPython 3.11.7's "AST constructor recursion
    depth mismatch" when pytest rewrites it (see test_decoding_property)."""
    chain(py("pass"), py(CAT)).run_sync(timeout=DEADLINE)


SEGMENTS = """
import os, sys
data = bytes.fromhex(sys.argv[1])
start = 0
for end in map(int, filter(None, sys.argv[2].split(","))):
    os.write(1, data[start:end])
    start = end
    sys.stdin.buffer.readline()  # the handle has read this segment: go on
os.write(1, data[start:])
"""
"""Writes ``argv[1]`` (hex) in segments ending at ``argv[2]`` (comma separated), waiting
for a line on stdin after each."""

ENCODINGS = ["utf-8", "utf-16", "utf-16-le", "utf-32", "latin-1"]
WIDE = "a\n\u00e9\u20ac\U0001d11e\u4e2d"  # 1 to 4 bytes in UTF-8; a surrogate pair in UTF-16
NARROW = "a\nb\u00e9\u00ff"


def encoded(text: str, encoding: str, order: str) -> bytes:
    """``text`` as the program writes it: UTF-16 and UTF-32 with a BOM of either order."""
    if encoding in ("utf-16", "utf-32"):
        return f"\ufeff{text}".encode(f"{encoding}-{order}")
    return text.encode(encoding)


class Stream:
    """What the handle should deliver: the text, and how much of it ``n`` bytes make."""

    def __init__(self, payload: bytes, encoding: str) -> None:
        self.payload = payload
        self.encoding = encoding
        self.text = payload.decode(encoding)

    def chars(self, size: int) -> int:
        """Characters that the first ``size`` bytes decode to (a decoder holds the rest)."""
        decoder = codecs.getincrementaldecoder(self.encoding)("strict")
        return len(decoder.decode(self.payload[:size]))

    def end_of(self, chars: int) -> int:
        """The byte where the first ``chars`` characters end (0 for none)."""
        return next(n for n in range(len(self.payload) + 1) if self.chars(n) >= chars)


def lines_of(text: str) -> list[str]:
    """The lines a line reader delivers for ``text`` (a last partial one included)."""
    lines = text.split("\n")
    return lines[:-1] if lines[-1] == "" else lines


async def take(iterator: AsyncIterator[Any], count: int) -> list[Any]:
    items = [await anext(iterator) for _ in range(count)]
    await iterator.aclose()  # type: ignore[attr-defined]
    return items


async def read_segment(
    handle: Any, stream: Stream, mode: str, at: tuple[int, int], size: int, *, pick: int
) -> tuple[int, int]:
    """Read with ``mode`` what the first ``size`` bytes written make available, from
    ``at`` (characters, bytes delivered so far); returns where the stream then is.
    ``pick`` (drawn before the run) chooses how many lines, or characters, to read."""
    chars, start = at
    ready = stream.chars(size)
    if mode == "chunks":
        raw = b""
        chunks = handle.stdout_chunks()
        while len(raw) < size - start:
            raw += await anext(chunks)
        await chunks.aclose()
        assert raw == stream.payload[start:size]
        return ready, size
    if mode in ("lines", "batches"):
        newlines = stream.text[chars:ready].count("\n")
        count = pick % (newlines + 1)
        if count == 0:
            return chars, start
        got: list[str] = []
        if mode == "lines":
            got = await take(handle.stdout_lines(), count)
        else:
            batches = handle.stdout_batches()
            while len(got) < count:  # a batch holds every line of its read
                got += await anext(batches)
            await batches.aclose()
        want = stream.text[chars:].split("\n")[: len(got)]
        assert got == want
        chars += sum(len(line) + 1 for line in want)
        return chars, stream.end_of(chars)
    assert mode == "expect"
    if ready == chars:
        return chars, start
    until = chars + 1 + pick % (ready - chars)
    match = await handle.expect(stream.text[chars:until])
    assert (match.before, match.matched) == ("", stream.text[chars:until])
    return until, stream.end_of(until)


async def read_the_rest(handle: Any, stream: Stream, mode: str, at: tuple[int, int]) -> None:
    chars, start = at
    rest = stream.text[chars:]
    if mode == "chunks":
        assert b"".join([chunk async for chunk in handle.stdout_chunks()]) == stream.payload[start:]
    elif mode == "lines":
        assert [line async for line in handle.stdout_lines()] == lines_of(rest)
    elif mode == "batches":
        got = [line async for batch in handle.stdout_batches() for line in batch]
        assert got == lines_of(rest)
    elif mode == "expect" and rest:
        assert (await handle.expect(rest)).before == ""
    result = await handle.wait()
    assert result.stdout == (rest if mode == "wait" else "")  # what no reader took


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    phases=[
        Phase.explicit,
        Phase.reuse,
        Phase.generate,
        Phase.shrink,
    ],  # (see test_decoding_property)
)
@given(
    encoding=st.sampled_from(ENCODINGS),
    order=st.sampled_from(["le", "be"]),
    data=st.data(),
)
async def test_switching_readers_anywhere_loses_and_misdecodes_nothing(
    anyio_backend: str,
    stream_backend: str,
    warm: None,
    *,
    encoding: str,
    order: str,
    data: st.DataObject,
) -> None:
    alphabet = NARROW if encoding == "latin-1" else WIDE
    text = data.draw(st.text(st.sampled_from(alphabet), max_size=24), label="text")
    stream = Stream(encoded(text, encoding, order), encoding)
    size = len(stream.payload)
    ends = sorted(set(data.draw(st.lists(st.integers(0, size), max_size=3), label="switches")))
    first = st.sampled_from(["lines", "batches", "chunks", "expect"])
    modes = [data.draw(first, label="reader") for _ in ends]
    last = data.draw(
        st.sampled_from(["lines", "batches", "chunks", "expect", "wait"]), label="last"
    )
    # Everything is drawn before the run: a draw that stops the example inside the
    # stream's block would leave hypothesis's StopTest to the event loop.
    picks = data.draw(st.lists(st.integers(0, 1 << 16), min_size=len(ends), max_size=len(ends)))
    writer = py(SEGMENTS, stream.payload.hex(), ",".join(map(str, ends)))
    context = ExecutionContext(encoding=encoding)
    with anyio.fail_after(DEADLINE):
        async with chain(writer, py(CAT)).stream(stdin=PIPE, context=context) as handle:
            at = (0, 0)
            for mode, end, pick in zip(modes, ends, picks, strict=True):
                at = await read_segment(handle, stream, mode, at, end, pick=pick)
                await handle.write(b"\n")  # go on
            await read_the_rest(handle, stream, last, at)


# -- the cases the property found, spelled out ---------------------------------------


def _handle(payload: bytes, encoding: str, ends: list[int]) -> Any:
    writer = py(SEGMENTS, payload.hex(), ",".join(map(str, ends)))
    context = ExecutionContext(encoding=encoding)
    return chain(writer, py(CAT)).stream(stdin=PIPE, context=context, timeout=DEADLINE)


async def test_a_big_endian_bom_holds_after_lines_for_wait(
    anyio_backend: str, stream_backend: str
) -> None:
    payload = "\ufeffone\ntwo\nthree\n".encode("utf-16-be")
    async with _handle(payload, "utf-16", []) as handle:
        assert await take(handle.stdout_lines(), 1) == ["one"]
        result = await handle.wait()
    assert result.stdout == "two\nthree\n"  # was: the rest read as little-endian


async def test_a_bom_holds_for_expect_after_lines_and_lines_after_expect(
    anyio_backend: str, stream_backend: str
) -> None:
    for encoding in ("utf-16", "utf-32"):
        payload = "one\ntwo\nthree\nfour\n".encode(encoding)
        async with _handle(payload, encoding, []) as handle:
            assert await take(handle.stdout_lines(), 1) == ["one"]
            # was: UnicodeError "UTF-16 stream does not start with BOM"
            assert (await handle.expect("two\n")).before == ""
            assert [line async for line in handle.stdout_lines()] == ["three", "four"]


async def test_a_character_split_by_raw_chunks_is_completed_by_the_next_reader(
    anyio_backend: str, stream_backend: str
) -> None:
    for encoding, mode in [("utf-8", "lines"), ("utf-16-le", "wait"), ("utf-32", "expect")]:
        payload = "ab\u20ac\U0001d11e cd\n".encode(encoding)
        split = len("ab".encode(encoding)) + 1  # inside the euro sign
        async with _handle(payload, encoding, [split]) as handle:
            chunks, got = handle.stdout_chunks(), b""
            while len(got) < split:
                got += await anext(chunks)
            await chunks.aclose()
            await handle.write(b"\n")
            if mode == "lines":
                assert [line async for line in handle.stdout_lines()] == ["\u20ac\U0001d11e cd"]
            elif mode == "expect":
                assert (await handle.expect("\u20ac")).before == ""
            result = await handle.wait()
        if mode == "wait":
            assert result.stdout == "\u20ac\U0001d11e cd\n"


# -- where the decoding stands after raw bytes: as decoding them all would say -----------


def _state_after(encoding: str, errors: str, state: State | None, data: bytes) -> State:
    """A decoder's state after ``data``, from ``state``: with ``errors``, or with
    ``replace`` where ``errors`` cannot decode it."""
    for handler in (errors, "replace"):
        decoder = incremental_decoder(encoding, handler)
        if state is not None:
            decoder.setstate(state)
        try:
            decoder.decode(data)
        except UnicodeDecodeError:
            continue
        after: State = decoder.getstate()
        return after
    raise AssertionError(f"{encoding}: even replace failed on {data!r}")


@given(
    encoding=st.sampled_from([*ENCODINGS, "utf-32-be", "cp1252", "shift_jis"]),
    errors=st.sampled_from(["replace", "surrogateescape", "strict"]),
    data=st.binary(max_size=40),
    cut=st.integers(0, 40),
)
@example(encoding="utf-32", errors="surrogateescape", data=b"\x80\x00\x00\x01\x01", cut=4)
def test_the_state_after_raw_bytes_is_that_of_decoding_them(
    encoding: str, errors: str, data: bytes, cut: int
) -> None:
    # (UTF-16 and UTF-32 without a BOM too: in the platform's order, as bytes.decode
    # reads them; surrogateescape may resume inside a unit it could not decode.)
    # Where a part cannot be decoded with ``errors`` (strict; surrogateescape on a
    # UTF-32 unit holding bytes below 0x80), the state is where replace resumes:
    # each part falls back on its own, from where the one before left the decoding.
    middle = _state_after(encoding, errors, None, data[:cut])
    want = _state_after(encoding, errors, middle, data[cut:])
    head = advanced(encoding, errors, None, data[:cut])
    if errors != "strict":  # (under strict each part falls back on its own)
        step = advanced(encoding, errors, head, data[cut:])
        assert (step or fresh(encoding)) == want
    assert (head or fresh(encoding)) == middle
