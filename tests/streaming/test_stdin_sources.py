"""stdin for a command and for the first stage of a pipeline: every kind of source."""

from __future__ import annotations

import array
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest

import cuprum
from cuprum import DEVNULL, INHERIT, PIPE, ExecutionContext, InvalidArgumentError, observe

from .streaming_support import (
    CAT,
    COPY_TO_BOTH,
    DEADLINE,
    READ_THEN_CLOSE,
    SLOW_READER,
    Recorder,
    chain,
    dropped_bytes,
    py,
    text,
    wait_until,
)

pytestmark = pytest.mark.anyio

KIB = 1024
MIB = 1024 * KIB

REPORT_STDIN = """
import os, stat, sys
info = os.fstat(0)
kind = "file" if stat.S_ISREG(info.st_mode) else "fifo" if stat.S_ISFIFO(info.st_mode) else "chr"
data = sys.stdin.buffer.read()
print(kind, info.st_dev, info.st_ino, data.hex())
"""
"""Prints what fd 0 is, its identity, and everything read from it (hex)."""


# -- the default, and INHERIT -----------------------------------------------------


async def test_default_stdin_is_dev_null_not_the_terminal(anyio_backend: str) -> None:
    result = await py(REPORT_STDIN).run()
    kind, dev, ino, data = text(result.stdout).split(" ")
    null = os.stat("/dev/null")
    assert (kind, int(dev), int(ino), data.strip()) == ("chr", null.st_dev, null.st_ino, "")


async def test_devnull_stdin_is_empty(anyio_backend: str) -> None:
    result = await py(REPORT_STDIN).run(stdin=DEVNULL)
    assert text(result.stdout).split(" ")[0] == "chr"
    assert text(result.stdout).split(" ")[3].strip() == ""


async def test_inherit_hands_over_the_parents_fd0(anyio_backend: str) -> None:
    try:
        mine = os.fstat(0)
    except OSError:
        pytest.skip("the test process has no fd 0")
    code = "import os; i = os.fstat(0); print(i.st_dev, i.st_ino)"  # never reads it
    result = await py(code).run(stdin=INHERIT)
    assert text(result.stdout).split() == [str(mine.st_dev), str(mine.st_ino)]


async def test_pipe_stdin_is_only_for_streaming(anyio_backend: str) -> None:
    recorder = Recorder()
    with observe(recorder), pytest.raises(ValueError, match="stream"):
        await py(CAT).run(stdin=PIPE)
    assert recorder.events == []  # refused up front: nothing planned, nothing "cancelled"


async def test_unsupported_stdin_type_is_refused(anyio_backend: str) -> None:
    with pytest.raises(InvalidArgumentError, match="stdin must be bytes"):
        await py(CAT).run(stdin=42)  # type: ignore[call-overload]


# -- bytes and str ----------------------------------------------------------------


async def test_bytes_and_str_stdin(anyio_backend: str) -> None:
    assert (await py(CAT).run(stdin=b"\x00\xffraw", text=False)).stdout == b"\x00\xffraw"
    assert (await py(CAT).run(stdin="héllo\n")).stdout == "héllo\n"


async def test_str_stdin_is_encoded_with_the_context_encoding(anyio_backend: str) -> None:
    code = "import sys; print(sys.stdin.buffer.read().hex())"
    result = await py(code).run(stdin="é€", context=ExecutionContext(encoding="cp1252"))
    assert text(result.stdout).strip() == "é€".encode("cp1252").hex() == "e980"


async def test_256k_random_bytes_echoed_to_stdout_and_stderr(anyio_backend: str) -> None:
    data = os.urandom(256 * KIB)
    result = await py(COPY_TO_BOTH).run(stdin=data, text=False, check=True)
    assert result.stdout == data
    assert result.stderr == data


async def test_256k_echoed_through_pipelines(anyio_backend: str, stream_backend: str) -> None:
    data = os.urandom(256 * KIB)
    # the copying stage first, fed by cuprum; then last, fed through a hop
    first = await (py(COPY_TO_BOTH) | py(CAT)).run(stdin=data, text=False, check=True)
    assert first.stdout == data
    assert first.stages[0].stderr == data
    last = await (py(CAT) | py(COPY_TO_BOTH)).run(stdin=data, text=False, check=True)
    assert last.stdout == data
    assert last.stages[1].stderr == data
    assert last.stages[0].stdout is None  # only the final stdout is captured


# -- files: handed over as the child's fd -------------------------------------------


async def test_path_stdin_is_the_file_itself(anyio_backend: str, tmp_path: Path) -> None:
    source = tmp_path / "input.bin"
    source.write_bytes(b"from a file\n")
    result = await py(REPORT_STDIN).run(stdin=source)
    kind, dev, ino, data = text(result.stdout).split(" ")
    info = source.stat()
    assert (kind, int(dev), int(ino)) == ("file", info.st_dev, info.st_ino)  # no copying
    assert bytes.fromhex(data) == b"from a file\n"


async def test_open_binary_file_stdin(anyio_backend: str, tmp_path: Path) -> None:
    source = tmp_path / "input.bin"
    source.write_bytes(b"0123456789")
    with source.open("rb") as f:
        f.seek(4)  # the child shares the open file: it starts where we are
        result = await py(REPORT_STDIN).run(stdin=f)
    kind, _, _, data = text(result.stdout).split(" ")
    assert kind == "file"
    assert bytes.fromhex(data) == b"456789"


async def test_file_stdin_into_a_three_stage_pipeline(
    anyio_backend: str, stream_backend: str, tmp_path: Path
) -> None:
    words = [f"word-{i:05d}" for i in range(20000)]
    source = tmp_path / "words.txt"
    source.write_text("\n".join(reversed(words)) + "\n")
    upper = "import sys\nfor line in sys.stdin: sys.stdout.write(line.upper())"
    ordered = "import sys; sys.stdout.writelines(sorted(sys.stdin))"
    pipeline = chain(py(CAT), py(upper), py(ordered))
    result = await pipeline.run(stdin=source, check=True)
    assert text(result.stdout).splitlines() == [word.upper() for word in words]
    assert [stage.exit_code for stage in result.stages] == [0, 0, 0]
    # the same through an open binary file
    with source.open("rb") as f:
        again = await pipeline.run(stdin=f, check=True)
    assert again.stdout == result.stdout


async def test_bytes_stdin_into_a_pipeline(anyio_backend: str, stream_backend: str) -> None:
    result = await (py(CAT) | py(CAT) | py(CAT)).run(stdin=b"a\nb\n")
    assert result.stdout == "a\nb\n"
    assert result.ok


# -- async iterables: fed with backpressure -----------------------------------------


async def chunks_of(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]
        await anyio.lowlevel.checkpoint()


async def test_async_iterable_stdin(anyio_backend: str) -> None:
    data = os.urandom(3 * MIB + 17)
    result = await py(CAT).run(stdin=chunks_of(data, 64 * KIB), text=False)
    assert result.stdout == data


async def test_async_iterable_into_a_pipeline(anyio_backend: str, stream_backend: str) -> None:
    data = os.urandom(MIB + 3)
    result = await (py(CAT) | py(CAT)).run(stdin=chunks_of(data, 4096), text=False)
    assert result.stdout == data


class Producer:
    """An async iterable of ``count`` chunks that counts how many it has handed out."""

    def __init__(self, chunk: bytes, count: int) -> None:
        self.chunk = chunk
        self.count = count
        self.produced = 0
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            for _ in range(self.count):
                self.produced += 1
                yield self.chunk
        finally:
            self.closed = True


async def check_backpressure(producer: Producer, flag: Path) -> None:
    """Once the child has stopped reading, the producer stays within pipe capacity."""
    ready = flag.with_name(flag.name + ".ready")
    await wait_until(ready.exists, "the child to stop reading")
    capacity = int(ready.read_text())
    # Give an over-eager feeder every chance to run ahead: wait until every other
    # task is blocked (the feeder on the full pipe). A correct feeder cannot pass the
    # bound at any moment, so this can only make a broken one easier to catch.
    await anyio.wait_all_tasks_blocked()
    chunk = len(producer.chunk)
    assert producer.produced * chunk >= 64 * KIB  # the child did read 64 KiB
    bound = (64 * KIB + capacity) // chunk + 1  # what was read, what fits, one in flight
    assert producer.produced <= bound, (producer.produced, bound, capacity)
    flag.with_name(flag.name + ".go").touch()


async def test_async_iterable_backpressure_run(anyio_backend: str, tmp_path: Path) -> None:
    producer = Producer(b"x" * (4 * KIB), count=1024)  # 4 MiB if drained
    flag = tmp_path / "flag"
    async with anyio.create_task_group() as tg:
        tg.start_soon(check_backpressure, producer, flag)
        with anyio.fail_after(DEADLINE):
            result = await py(SLOW_READER, str(flag)).run(stdin=producer)
    assert text(result.stdout).splitlines()[-1] == f"total {4 * 1024 * KIB}"
    assert producer.produced == 1024
    assert producer.closed


async def test_async_iterable_backpressure_streamed_pipeline(
    anyio_backend: str, stream_backend: str, tmp_path: Path
) -> None:
    producer = Producer(b"y" * (16 * KIB), count=128)  # 2 MiB if drained
    flag = tmp_path / "flag"
    with anyio.fail_after(DEADLINE):
        async with (py(SLOW_READER, str(flag)) | py(CAT)).stream(stdin=producer) as handle:
            lines = handle.stdout_lines()
            assert (await anext(lines)).startswith("paused ")
            await check_backpressure(producer, flag)
            assert await anext(lines) == f"total {2 * 1024 * KIB}"
            result = await handle.wait()
    assert result.ok
    assert producer.produced == 128


async def test_producer_idle_after_the_child_exits_does_not_hang_the_run(
    anyio_backend: str,
) -> None:
    closed = anyio.Event()

    async def first_line_then_idle() -> AsyncIterator[bytes]:
        try:
            yield b"only line\n"
            await anyio.sleep_forever()  # e.g. waiting on a queue nobody fills any more
            yield b"never\n"
        finally:
            closed.set()

    reader = "import sys; print(sys.stdin.readline().strip().upper())"
    with anyio.fail_after(DEADLINE):
        result = await py(reader).run(stdin=first_line_then_idle())
    assert result.stdout == "ONLY LINE\n"
    assert result.ok
    assert closed.is_set()  # the generator was closed, not left suspended


async def test_producer_error_propagates_and_leaves_nothing(anyio_backend: str) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"a\n"
        raise RuntimeError("producer failed")

    with anyio.fail_after(DEADLINE), pytest.raises(RuntimeError, match="producer failed"):
        await py("import time, sys; sys.stdin.read(); time.sleep(30)").run(stdin=broken())


@pytest.mark.parametrize(
    ("bad", "shown"), [(None, "None (NoneType)"), ("text", "'text' (str)"), (5, "5 (int)")]
)
async def test_a_chunk_that_is_not_bytes_is_refused_not_taken_for_the_end(
    anyio_backend: str, bad: object, shown: str
) -> None:
    # None used to end the input silently (b"b" lost, ok=True); a str or an int
    # failed with memoryview's TypeError, naming neither the program nor stdin.
    async def chunks() -> AsyncIterator[Any]:
        yield b"a"
        yield bad
        yield b"b"

    message = f"stdin: the async iterable yielded {shown}; each chunk must be bytes"
    with anyio.fail_after(DEADLINE), pytest.raises(InvalidArgumentError, match=re.escape(message)):
        await py(CAT).run(stdin=chunks(), text=False)


async def test_buffer_chunks_are_written_as_their_bytes(anyio_backend: str) -> None:
    async def chunks() -> AsyncIterator[Any]:
        yield bytearray(b"ab")
        yield memoryview(b"cd")
        yield b""
        yield memoryview(array.array("H", [0x4645]))  # two bytes, not one item
        yield b"g"

    result = await py(CAT).run(stdin=chunks(), text=False)
    assert result.stdout == b"abcd" + array.array("H", [0x4645]).tobytes() + b"g"


# -- a child that closes stdin early ------------------------------------------------


async def test_child_closing_stdin_while_megabytes_are_written(anyio_backend: str) -> None:
    data = os.urandom(4 * MIB)  # more than the (at most 1 MiB) pipe can take
    recorder = Recorder()
    with observe(recorder), anyio.fail_after(DEADLINE):
        result = await py(READ_THEN_CLOSE).run(stdin=data)
    assert result.ok  # not an error for the caller
    assert text(result.stdout).startswith("closed after ")
    (event,) = recorder.of("stdin_closed")
    assert event.program == py(CAT).program
    assert event.pid == result.pid
    dropped = dropped_bytes([event])
    assert 3 * MIB - 10 <= dropped <= len(data)  # at least what the pipe could not hold
    assert recorder.events[-1].phase == "exit"


async def test_child_closing_stdin_while_streaming_bytes(
    anyio_backend: str, stream_backend: str
) -> None:
    data = b"z" * (4 * MIB)
    recorder = Recorder()
    with observe(recorder), anyio.fail_after(DEADLINE):
        async with (py(READ_THEN_CLOSE) | py(CAT)).stream(stdin=data) as handle:
            assert (await anext(handle.stdout_lines())).startswith("closed after ")
            result = await handle.wait()
    assert result.ok
    (event,) = recorder.of("stdin_closed")
    assert event.tags["pipeline_stage_index"] == 0
    assert dropped_bytes([event]) >= 3 * MIB - 10


async def test_child_closing_stdin_while_an_iterable_feeds_it(anyio_backend: str) -> None:
    producer = Producer(b"w" * (64 * KIB), count=64)
    recorder = Recorder()
    with observe(recorder), anyio.fail_after(DEADLINE):
        result = await py(READ_THEN_CLOSE).run(stdin=producer)
    assert result.ok
    events = recorder.of("stdin_closed")
    assert len(events) == 1
    assert 0 < dropped_bytes(events) <= 64 * KIB  # the chunk that hit the closed pipe
    assert producer.produced < 64  # the rest was never pulled
    assert producer.closed


async def test_handle_write_after_the_child_closed_stdin(anyio_backend: str) -> None:
    with anyio.fail_after(DEADLINE):
        async with py(READ_THEN_CLOSE).stream(stdin=PIPE) as handle:
            await handle.write(b"0123456789")
            assert (await anext(handle.stdout_lines())) == "closed after 10"
            with pytest.raises(BrokenPipeError, match="closed its stdin"):
                await handle.write(b"more")
            result = await handle.wait()
    assert result.ok


async def test_stdin_closed_event_has_exactly_one_terminal_after_it(anyio_backend: str) -> None:
    recorder = Recorder()
    with observe(recorder):
        await py(READ_THEN_CLOSE).run(stdin=b"q" * (2 * MIB))
    phases = [event.phase for event in recorder.events]
    assert phases[0:2] == ["plan", "start"]
    assert phases.count("stdin_closed") == 1
    assert [p for p in phases if p in ("exit", "error")] == ["exit"]


def test_io_markers_are_distinct_and_named() -> None:
    markers = [cuprum.DEVNULL, cuprum.INHERIT, cuprum.PIPE, cuprum.STDOUT]
    assert len(set(markers)) == 4
    assert [repr(marker) for marker in markers] == [
        "cuprum.DEVNULL",
        "cuprum.INHERIT",
        "cuprum.PIPE",
        "cuprum.STDOUT",
    ]
