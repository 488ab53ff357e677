"""Line splitting in ``stdout_lines``/``stdout_batches`` at every chunk boundary (hypothesis).

Unit level: a handle whose reads return hypothesis-chosen pieces, so every boundary
(inside a multi-byte character, between ``\\r`` and ``\\n``, on a newline) is hit
exactly. Process level: a child writes hypothesis-chosen pieces, pausing between
them, through a pipeline under each stream strategy.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from itertools import pairwise

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cuprum import ExecutionContext, StreamHandle
from cuprum._runtime.request import build_request

from .streaming_support import CAT, py

ALPHABET = st.sampled_from(["a", "b", " ", "\n", "\r", "é", "€", "😀", "\x00", "\t"])
TEXTS = st.text(alphabet=ALPHABET, max_size=60)

# The fixtures a test takes (the event loop and stream strategy names) are constants
# for all of its examples, so sharing them across examples is what we want.
FIXED = [HealthCheck.function_scoped_fixture]
UNIT = settings(max_examples=150, deadline=None, suppress_health_check=FIXED)
PROCESS = settings(max_examples=12, deadline=None, suppress_health_check=FIXED)

PIECES_WRITER = """
import os, sys, time
for piece in sys.argv[1:]:
    os.write(1, bytes.fromhex(piece))
    time.sleep(0.002)
"""


def expected_lines(text: str) -> list[str]:
    """What reading ``text`` line by line must give: split on ``\\n``, no empty tail."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def cut(data: bytes, points: list[int]) -> list[bytes]:
    """``data`` split at the given offsets (duplicates and order do not matter)."""
    edges = [0, *sorted({p for p in points if 0 < p < len(data)}), len(data)]
    return [data[a:b] for a, b in pairwise(edges)]


class ScriptedHandle(StreamHandle):
    """A handle whose stdout "pipe" returns the given pieces, one per read."""

    def __init__(self, pieces: list[bytes], context: ExecutionContext | None = None) -> None:
        request = build_request(
            (py("pass"),), capture=True, echo=False, context=context, timeout=None
        )
        super().__init__(request, wrap=None)
        self._pieces = list(pieces)

    async def _read(self, size: int = 0) -> bytes:
        await anyio.lowlevel.checkpoint()
        return self._pieces.pop(0) if self._pieces else b""


def run_on(backend: str, check: Callable[[], Awaitable[None]]) -> None:
    """Run one hypothesis example's async check on a fresh event loop of ``backend``."""
    anyio.run(check, backend=backend)


@UNIT
@given(text=TEXTS, data=st.data())
def test_lines_at_any_chunk_boundary(
    anyio_backend: str, line_cursor: str, text: str, data: st.DataObject
) -> None:
    raw = text.encode()
    pieces = cut(raw, data.draw(st.lists(st.integers(0, len(raw)), max_size=12)))

    async def check() -> None:
        lines = [line async for line in ScriptedHandle(pieces).stdout_lines()]
        assert lines == expected_lines(text)
        batches = [batch async for batch in ScriptedHandle(pieces).stdout_batches()]
        assert all(batches)
        assert [line for batch in batches for line in batch] == expected_lines(text)

    run_on(anyio_backend, check)


@UNIT
@given(raw=st.binary(max_size=40), data=st.data())
def test_undecodable_bytes_split_like_a_one_shot_decode(
    anyio_backend: str, line_cursor: str, raw: bytes, data: st.DataObject
) -> None:
    pieces = cut(raw, data.draw(st.lists(st.integers(0, len(raw)), max_size=12)))
    whole = raw.decode("utf-8", "replace")

    async def check() -> None:
        lines = [line async for line in ScriptedHandle(pieces).stdout_lines()]
        assert lines == expected_lines(whole)

    run_on(anyio_backend, check)


@UNIT
@given(text=TEXTS, data=st.data())
def test_switching_readers_midway_loses_nothing(
    anyio_backend: str, line_cursor: str, text: str, data: st.DataObject
) -> None:
    """Take some lines, each from a fresh iterator, then the rest as raw chunks."""
    raw = text.encode()
    pieces = cut(raw, data.draw(st.lists(st.integers(0, len(raw)), max_size=12)))
    wanted = expected_lines(text)
    take = data.draw(st.integers(0, len(wanted)))
    use_batches = data.draw(st.booleans())

    async def check() -> None:
        handle = ScriptedHandle(pieces)
        taken: list[str] = []
        while len(taken) < take:
            if use_batches:
                taken += await anext(handle.stdout_batches())
            else:
                taken.append(await anext(handle.stdout_lines()))
        rest = b"".join([chunk async for chunk in handle.stdout_chunks()])
        consumed = "".join(f"{line}\n" for line in taken)
        if len(taken) == len(wanted) and not text.endswith("\n") and text:
            consumed = consumed[:-1]  # the last line had no newline of its own
        assert consumed.encode() + rest == raw

    run_on(anyio_backend, check)


def test_other_encodings_split_on_decoded_newlines(anyio_backend: str, line_cursor: str) -> None:
    text = "ligne é\nzweite ü\n€nd"
    raw = text.encode("utf-16-le")
    pieces = [raw[i : i + 3] for i in range(0, len(raw), 3)]  # odd cuts: mid code unit
    context = ExecutionContext(encoding="utf-16-le")

    async def check() -> None:
        lines = [line async for line in ScriptedHandle(pieces, context).stdout_lines()]
        assert lines == ["ligne é", "zweite ü", "€nd"]

    run_on(anyio_backend, check)


@PROCESS
@given(text=TEXTS, data=st.data())
def test_lines_from_a_child_writing_pieces(
    anyio_backend: str, stream_backend: str, text: str, data: st.DataObject
) -> None:
    raw = text.encode()
    pieces = cut(raw, data.draw(st.lists(st.integers(0, len(raw)), max_size=6)))

    async def check() -> None:
        with anyio.fail_after(20):
            async with (py(PIECES_WRITER, *[p.hex() for p in pieces]) | py(CAT)).stream() as h:
                lines = [line async for line in h.stdout_lines()]
                result = await h.wait()
        assert lines == expected_lines(text)
        assert result.ok

    run_on(anyio_backend, check)


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        ("", []),
        ("\n", [""]),
        ("\n\n", ["", ""]),
        ("a", ["a"]),
        ("a\n", ["a"]),
        ("a\r\nb", ["a\r", "b"]),  # only \n ends a line; \r is kept
        ("a\n\nb\n", ["a", "", "b"]),
    ],
)
def test_reference_cases(anyio_backend: str, line_cursor: str, text: str, lines: list[str]) -> None:
    async def check() -> None:
        got = [line async for line in ScriptedHandle([text.encode()]).stdout_lines()]
        assert got == lines == expected_lines(text)

    run_on(anyio_backend, check)
