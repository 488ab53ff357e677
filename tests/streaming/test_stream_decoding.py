"""Decoding in ``cmd.stream()``: the handle never loses a byte, and a timeout or a
capture limit wins over ``errors="strict"``.

What the line iterators have read but not delivered goes back as the exact bytes
read, even where ``errors="replace"`` turned some into U+FFFD; a stream that ends
inside a character under ``strict`` leaves that last line with the handle instead
of raising in the iterator.
"""

from __future__ import annotations

import pytest

from cuprum import PIPE, CaptureLimitExceeded, ExecutionContext, SafeCmd, TimeoutExpired
from cuprum._api.command import Pipeline

from .streaming_support import CAT, DEADLINE, chain, py

pytestmark = pytest.mark.anyio

CUT = 1.0  # long enough for the writes below to be read, short for the test
SHAPES = ["command", "pipeline"]


def copier(shape: str) -> SafeCmd | Pipeline:
    return py(CAT) if shape == "command" else chain(py(CAT), py(CAT))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("errors", ["replace", "strict", "surrogateescape"])
async def test_switching_from_lines_to_chunks_hands_back_the_exact_bytes(
    anyio_backend: str, stream_backend: str, shape: str, errors: str
) -> None:
    first, rest = b"l1\n", b"l\xff2\nab\xc3" if errors != "strict" else b"l2\nab\xc3"
    context = ExecutionContext(errors=errors, timeout=DEADLINE)
    async with copier(shape).stream(stdin=PIPE, context=context, text=False) as handle:
        await handle.write(first + rest)
        async for line in handle.stdout_lines():
            assert line == "l1"
            break
        await handle.write(b"\xa9 end\n")
        await handle.close_stdin()
        chunks = [chunk async for chunk in handle.stdout_chunks()]
        result = await handle.wait()
    assert b"".join(chunks) == rest + b"\xa9 end\n"
    assert result.stdout == b""


@pytest.mark.parametrize("shape", SHAPES)
async def test_wait_after_lines_returns_the_exact_bytes_unread(
    anyio_backend: str, stream_backend: str, shape: str
) -> None:
    context = ExecutionContext(timeout=DEADLINE)
    async with copier(shape).stream(stdin=PIPE, context=context, text=False) as handle:
        await handle.write(b"one\ntw\xfeo\nthr\xe2\x82")
        async for line in handle.stdout_lines():
            assert line == "one"
            break
        result = await handle.wait()
    assert result.stdout == b"tw\xfeo\nthr\xe2\x82"


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(
    ("encoding", "first", "rest"),
    [
        # A Shift JIS lead byte and a byte it cannot decode: "?" if re-encoded.
        ("shift_jis", b"one\n", b"tw\x81\xffo\nthr\x81"),
        # UTF-16: two-byte newlines, and a re-encoded rest would gain a byte order mark.
        ("utf-16", b"\xff\xfeo\x00n\x00e\x00\n\x00", b"t\x00w\x00\n\x00x\x00\x00\xd8"),
    ],
)
async def test_wait_after_lines_returns_the_exact_bytes_in_any_encoding(
    anyio_backend: str, stream_backend: str, shape: str, *, encoding: str, first: bytes, rest: bytes
) -> None:
    context = ExecutionContext(encoding=encoding, timeout=DEADLINE)
    async with copier(shape).stream(stdin=PIPE, context=context, text=False) as handle:
        await handle.write(first + rest)
        async for line in handle.stdout_lines():
            assert line == "one"
            break
        result = await handle.wait()
    assert result.stdout == rest


@pytest.mark.parametrize("shape", SHAPES)
async def test_timeout_inside_a_character_under_strict_raises_timeout_expired(
    anyio_backend: str, stream_backend: str, shape: str
) -> None:
    context = ExecutionContext(errors="strict")
    lines: list[str] = []

    async def read_all_then_wait() -> None:
        async with copier(shape).stream(stdin=PIPE, context=context, timeout=CUT) as handle:
            await handle.write(b"line1\nab\xc3")
            lines.extend([line async for line in handle.stdout_lines()])  # until the teardown
            await handle.wait()

    with pytest.raises(TimeoutExpired) as info:
        await read_all_then_wait()
    assert lines == ["line1"]
    assert info.value.output == b"ab\xc3"  # what was not read through the handle


async def test_a_finished_stream_ending_inside_a_character_under_strict(
    anyio_backend: str,
) -> None:
    context = ExecutionContext(errors="strict", timeout=DEADLINE)
    async with py("import os; os.write(1, b'ok\\nab\\xc3')").stream(context=context) as handle:
        assert [line async for line in handle.stdout_lines()] == ["ok"]
        with pytest.raises(UnicodeDecodeError):
            await handle.wait()  # decoded like run(): the run ended normally


async def test_a_stream_limit_inside_a_character_under_strict(anyio_backend: str) -> None:
    context = ExecutionContext(errors="strict", timeout=DEADLINE)
    cmd = py("import os, time; os.write(1, 'é'.encode() * 10); time.sleep(300)")
    with pytest.raises(CaptureLimitExceeded) as info:
        async with cmd.stream(context=context, capture_limit=5, on_limit="raise") as handle:
            await handle.wait()
    assert info.value.captured == "\u00e9\u00e9"
