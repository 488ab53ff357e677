"""What ``write()`` (``send()``, ``sendline()``) says when it cannot write: stdin closed
(``StreamClosedError``, also for a write waiting when another task closes it), a value
that is no bytes-like object or text (``InvalidArgumentError``), text the encoding
cannot encode (``StdinEncodeError``); each naming the program and the method."""

from __future__ import annotations

import array
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from cuprum import (
    PIPE,
    ExecutionContext,
    InvalidArgumentError,
    Secret,
    StdinEncodeError,
    StreamClosedError,
)

from .streaming_support import CAT, DEADLINE, PY, SLOW_READER, py, text, wait_until

if TYPE_CHECKING:
    from typing_extensions import Buffer

pytestmark = pytest.mark.anyio

HEX_OF_STDIN = "import sys; print(sys.stdin.buffer.read().hex())"


async def test_write_after_close_stdin_says_stdin_is_closed(
    anyio_backend: str, stream_backend: str
) -> None:
    async with (py(CAT) | py(CAT)).stream(stdin=PIPE) as handle:
        await handle.write(b"kept\n")
        await handle.close_stdin()
        await handle.close_stdin()  # again: nothing to do
        for method in ("write", "send", "sendline"):
            with pytest.raises(StreamClosedError) as caught:
                await getattr(handle, method)(b"x")
            assert str(caught.value) == f"{PY}: {method}(): stdin is closed (by close_stdin())"
        result = await handle.wait()
    assert result.stdout == "kept\n"


async def test_write_after_wait_says_wait_closed_stdin(
    anyio_backend: str, stream_backend: str
) -> None:
    async with py(CAT).stream(stdin=PIPE) as handle:
        await handle.write("a line\n")
        assert (await handle.wait()).stdout == "a line\n"
        with pytest.raises(StreamClosedError) as caught:
            await handle.write(b"late")
    assert str(caught.value) == f"{PY}: write(): stdin is closed (by wait())"
    assert caught.value.program == PY
    assert isinstance(caught.value, RuntimeError)  # as before, and as asyncio's closed transports


async def test_write_without_a_pipe_still_says_it_needs_one(anyio_backend: str) -> None:
    async with py("pass").stream() as handle:
        with pytest.raises(RuntimeError, match="needs the stream started with stdin=PIPE") as e:
            await handle.write(b"x")
        assert not isinstance(e.value, StreamClosedError)
        assert str(e.value).startswith(f"{PY}: write()")
        await handle.wait()


@pytest.mark.parametrize("closer", ["close_stdin", "wait"])
async def test_a_write_waiting_for_room_when_another_task_closes_stdin(
    anyio_backend: str, stream_backend: str, tmp_path: Path, closer: str
) -> None:
    """The program reads 64 KiB and stops: a big write waits for room. Closing stdin
    from another task (``close_stdin()``, or ``wait()``, which closes it) wakes that
    write with ``StreamClosedError`` instead of leaving it waiting on a closed fd."""
    flag = tmp_path / "flag"
    failed = anyio.Event()
    errors: list[StreamClosedError] = []

    async def big_write(handle: Any) -> None:
        try:
            await handle.write(b"x" * (16 << 20))  # far more than the pipe holds
        except StreamClosedError as exc:
            errors.append(exc)
            failed.set()

    result: Any = None
    with anyio.fail_after(DEADLINE):
        async with py(SLOW_READER, str(flag)).stream(stdin=PIPE) as handle:
            lines = handle.stdout_lines()
            async with anyio.create_task_group() as tg:
                tg.start_soon(big_write, handle)
                assert (await anext(lines)).startswith("paused ")
                await wait_until(flag.with_suffix(".ready").exists, "the reader to pause")
                await anyio.wait_all_tasks_blocked()  # the write waits for room
                if closer == "close_stdin":
                    await handle.close_stdin()
                    await failed.wait()
                    flag.with_suffix(".go").touch()
                    result = await handle.wait()
                else:

                    async def wait() -> None:
                        nonlocal result
                        result = await handle.wait()

                    tg.start_soon(wait)
                    await failed.wait()
                    flag.with_suffix(".go").touch()  # the reader drains what the pipe held
    assert str(errors[0]) == f"{PY}: write(): stdin is closed (by {closer}())"
    assert result.ok
    assert text(result.stdout).startswith("total ")


BAD_DATA: list[Any] = [5, None, 1.5, ["a"], {"a": 1}, object()]


@pytest.mark.parametrize("data", BAD_DATA, ids=lambda value: type(value).__name__)
@pytest.mark.parametrize("method", ["write", "send", "sendline"])
async def test_data_that_is_neither_bytes_nor_text_is_refused_by_name(
    anyio_backend: str, stream_backend: str, method: str, data: Any
) -> None:
    async with py(HEX_OF_STDIN).stream(stdin=PIPE) as handle:
        with pytest.raises(InvalidArgumentError) as caught:
            await getattr(handle, method)(data)
        result = await handle.wait()
    message = str(caught.value)
    assert message.startswith(f"{PY}: {method}(): data must be bytes-like")
    assert f"({type(data).__name__})" in message
    assert result.stdout == "\n"  # nothing was written
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


async def test_bytes_like_objects_and_text_are_written(
    anyio_backend: str, stream_backend: str
) -> None:
    wide = array.array("H", [0x0102, 0x0304])  # written as its bytes, in memory order
    strided = memoryview(b"a-b-c")[::2]  # not contiguous: its items, in logical order
    sent: list[Buffer | str] = [b"<", bytearray(b"ba"), memoryview(b"mv"), wide, strided, "é", ">"]
    async with py(HEX_OF_STDIN).stream(stdin=PIPE, text=False) as handle:
        for data in sent:
            await handle.write(data)  # text is encoded, also for a text=False stream
        await handle.sendline(bytearray(b"!"))
        result = await handle.wait()
    expected = b"<bamv" + wide.tobytes() + b"abc" + "é".encode() + b">!\n"
    assert bytes.fromhex(result.stdout.decode().strip()) == expected


async def test_a_released_memoryview_is_refused_by_name(anyio_backend: str) -> None:
    view = memoryview(b"gone")
    view.release()
    async with py(HEX_OF_STDIN).stream(stdin=PIPE) as handle:
        with pytest.raises(InvalidArgumentError, match=r"write\(\): data: .*released"):
            await handle.write(view)
        await handle.wait()


async def test_text_the_encoding_cannot_encode_is_refused_by_name(
    anyio_backend: str, stream_backend: str
) -> None:
    context = ExecutionContext(encoding="latin-1")
    async with py(HEX_OF_STDIN).stream(stdin=PIPE, context=context) as handle:
        with pytest.raises(StdinEncodeError) as plain:
            await handle.write("price: €")
        with pytest.raises(StdinEncodeError) as hidden:
            await handle.sendline(Secret("p€ss"))
        await handle.write("é")
        result = await handle.wait()
    assert str(plain.value) == (
        f"{PY}: write(): the text cannot be encoded with 'latin-1': '€' at position 7"
        " (ordinal not in range(256))"
    )
    assert isinstance(plain.value, UnicodeEncodeError)
    assert str(hidden.value).startswith(f"{PY}: sendline(): the text cannot be encoded")
    assert "€" not in str(hidden.value)
    assert hidden.value.object == ""
    assert text(result.stdout).strip() == "e9"  # only what could be encoded was sent


async def test_a_large_write_is_still_whole(anyio_backend: str, stream_backend: str) -> None:
    data = bytearray(b"z" * (3 << 20))
    code = "import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())"
    async with py(code).stream(stdin=PIPE) as handle:
        await handle.write(data)
        result = await handle.wait()
    assert text(result.stdout).strip() == hashlib.sha256(data).hexdigest()
