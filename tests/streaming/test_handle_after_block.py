"""A stream handle once its ``async with`` block has exited: ``wait()`` returns (or
raises) what the run ended with, every read and send is a ``StreamClosedError``."""

from __future__ import annotations

import os
import signal
from typing import Any

import anyio
import pytest

from cuprum import (
    PIPE,
    CommandFailedError,
    CommandResult,
    ExecutionContext,
    PipelineResult,
    StreamClosedError,
    TimeoutExpired,
    after,
    observe,
)

from .streaming_support import CAT, DEADLINE, PY, Recorder, py, wait_until

pytestmark = pytest.mark.anyio

FAST = ExecutionContext(cancel_grace=0.2)

FOREVER = "import itertools\nfor i in itertools.count(): print(i, flush=True)"
"""Counts on stdout until stopped."""

THREE_LINES_THEN_EXIT = "import os, sys; os.write(1, b'first\\nsecond\\nthird\\n'); sys.exit(3)"
"""One write of three lines (the handle usually reads them at once), then exit 3."""


def stopped_signals() -> tuple[int, int]:
    return (-signal.SIGTERM, -signal.SIGKILL)


@pytest.mark.parametrize("shape", ["command", "pipeline"])
async def test_wait_after_leaving_early_returns_the_stopped_run(
    anyio_backend: str, stream_backend: str, shape: str
) -> None:
    cmd = py(FOREVER) if shape == "command" else py(FOREVER) | py(CAT)
    with anyio.fail_after(DEADLINE):
        async with cmd.stream(context=FAST) as handle:
            assert await anext(handle.stdout_lines()) == "0"
            pids = handle.pids
            # leave with the program running: the block stops it
        result: Any = await handle.wait()
    assert handle.pids == pids
    assert not result.ok
    assert result.outcome == "cancelled"
    if shape == "command":
        assert isinstance(result, CommandResult)
        assert result.pid == pids[0]
        assert result.exit_code in stopped_signals()
    else:
        assert isinstance(result, PipelineResult)
        assert [stage.pid for stage in result.stages] == list(pids)
        assert {stage.outcome for stage in result.stages} == {"cancelled"}
        assert result.stages[0].exit_code in stopped_signals()
        with pytest.raises(CommandFailedError) as caught:
            result.check()  # stopped, so not ok: check() says which stage it stopped
        assert caught.value.stage_index == 0
    # what the pipe held when the block ended is the stdout the block left unread
    # (the last line may be cut where the teardown stopped the writer)
    unread = result.stdout.splitlines()
    assert unread[:-1] == [str(i) for i in range(1, len(unread))]
    assert await handle.wait() is result  # settled once


async def test_wait_after_the_block_with_check_raises_for_a_stopped_run(
    anyio_backend: str, stream_backend: str
) -> None:
    with anyio.fail_after(DEADLINE):
        async with py(FOREVER).stream(context=FAST, check=True) as handle:
            assert await anext(handle.stdout_lines()) == "0"
        with pytest.raises(CommandFailedError) as caught:
            await handle.wait()
    assert caught.value.returncode in stopped_signals()


async def test_wait_after_the_block_returns_the_completed_run_with_its_unread_stdout(
    anyio_backend: str, stream_backend: str
) -> None:
    finished = anyio.Event()
    with after(lambda cmd, result: finished.set()), anyio.fail_after(DEADLINE):
        async with py(THREE_LINES_THEN_EXIT).stream() as handle:
            assert await anext(handle.stdout_lines()) == "first"
            await finished.wait()  # the run has ended (its after hooks ran) ...
            await anyio.wait_all_tasks_blocked()  # ... and its task has returned
        result = await handle.wait()
    assert isinstance(result, CommandResult)
    assert result.outcome == "exited"
    assert result.exit_code == 3
    assert result.pid == handle.pids[0]
    assert result.stdout == "second\nthird\n"  # read by the handle but never delivered
    assert await handle.wait() is result


async def test_wait_in_the_block_then_after_it_returns_the_same_result(
    anyio_backend: str, stream_backend: str
) -> None:
    code = "import os; os.write(1, b'first\\nsecond\\n')"
    async with (py(code) | py(CAT)).stream() as handle:
        first = await handle.wait()
        assert await handle.wait() is first  # not a second result with empty stdout
    assert await handle.wait() is first
    assert first.stdout == "first\nsecond\n"
    assert first.ok


async def test_wait_after_the_block_raises_the_runs_error_again(
    anyio_backend: str, stream_backend: str
) -> None:
    code = "import os, time; os.write(1, b'hello\\nworld\\n'); time.sleep(30)"
    recorder = Recorder()
    handle: Any = None

    async def body() -> None:
        nonlocal handle
        async with py(code).stream(timeout=0.5, context=FAST) as handle:
            assert await anext(handle.stdout_lines()) == "hello"
            await wait_until(lambda: bool(recorder.of("error")), "the timeout")
            await anyio.wait_all_tasks_blocked()  # the run has ended in its error

    with observe(recorder), anyio.fail_after(DEADLINE):
        with pytest.raises(TimeoutExpired) as at_exit:
            await body()
        with pytest.raises(TimeoutExpired) as caught:
            await handle.wait()
        with pytest.raises(TimeoutExpired) as again:
            await handle.wait()
    assert caught.value is at_exit.value is again.value
    assert caught.value.output == "world\n"  # the stdout not read through the handle


# -- everything else after the block -------------------------------------------------


async def _lines(handle: Any) -> None:
    await anext(handle.stdout_lines())


async def _batches(handle: Any) -> None:
    await anext(handle.stdout_batches())


async def _chunks(handle: Any) -> None:
    await anext(handle.stdout_chunks())


async def _expect(handle: Any) -> None:
    await handle.expect("x", timeout=DEADLINE)


async def _write(handle: Any) -> None:
    await handle.write(b"x")


async def _send(handle: Any) -> None:
    await handle.send("x")


async def _sendline(handle: Any) -> None:
    await handle.sendline("x")


AFTER_THE_BLOCK = {
    "stdout_lines()": _lines,
    "stdout_batches()": _batches,
    "stdout_chunks()": _chunks,
    "expect()": _expect,
    "write()": _write,
    "send()": _send,
    "sendline()": _sendline,
}


@pytest.mark.parametrize("method", list(AFTER_THE_BLOCK))
async def test_reads_and_sends_after_the_block_raise_stream_closed(
    anyio_backend: str, stream_backend: str, method: str
) -> None:
    with anyio.fail_after(DEADLINE):
        async with (py(FOREVER) | py(CAT)).stream(stdin=PIPE, context=FAST) as handle:
            assert await anext(handle.stdout_lines()) == "0"
        with pytest.raises(StreamClosedError, match=r"async with. block has exited") as caught:
            await AFTER_THE_BLOCK[method](handle)
    assert caught.value.program == PY
    assert str(caught.value).startswith(f"{PY}: {method}: the stream is closed")
    assert isinstance(caught.value, RuntimeError)


async def test_close_stdin_after_the_block_does_nothing(
    anyio_backend: str, stream_backend: str
) -> None:
    async with py(FOREVER).stream(stdin=PIPE, context=FAST) as handle:
        assert await anext(handle.stdout_lines()) == "0"
    await handle.close_stdin()  # closing what is closed is no error
    await handle.send_eof()  # (with stdin=PIPE, the same)
    assert (await handle.wait()).outcome == "cancelled"


async def test_an_iterator_from_the_block_hands_out_nothing_after_it(
    anyio_backend: str, stream_backend: str, line_cursor: str
) -> None:
    async with py(THREE_LINES_THEN_EXIT).stream() as handle:
        lines = handle.stdout_lines()
        assert await anext(lines) == "first"  # "second" and "third" are held, unread
        chunks = handle.stdout_chunks()
    with pytest.raises(StreamClosedError, match="stdout"):
        await anext(lines)
    with pytest.raises(StreamClosedError, match="stdout"):
        await anext(chunks)
    assert (await handle.wait()).stdout == "second\nthird\n"  # kept for wait() instead


async def test_a_read_waiting_when_the_block_exits_raises_stream_closed(
    anyio_backend: str, stream_backend: str
) -> None:
    """A reader in a task outside the block, waiting on a pipe that a grandchild in a
    session of its own (so not stopped with the run) holds open, wakes when the block
    closes the pipe, rather than waiting on a closed fd for ever."""
    code = (
        "import subprocess, sys, time\n"
        "sleeper = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'],"
        " start_new_session=True)\n"
        "print(sleeper.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    failures: list[BaseException] = []

    async def read_on(lines: Any) -> None:
        try:
            await anext(lines)
        except StreamClosedError as exc:
            failures.append(exc)

    sleeper = 0
    try:
        with anyio.fail_after(DEADLINE):
            async with anyio.create_task_group() as tg:
                async with py(code).stream(context=FAST) as handle:
                    lines = handle.stdout_lines()
                    sleeper = int(await anext(lines))
                    tg.start_soon(read_on, lines)
                    await anyio.wait_all_tasks_blocked()
    finally:
        if sleeper:
            os.kill(sleeper, signal.SIGKILL)
    assert len(failures) == 1
    assert "block has exited" in str(failures[0])


@pytest.mark.parametrize("reader", ["lines", "chunks", "batches", "expect"])
async def test_every_reader_waiting_when_the_block_exits_raises_stream_closed(
    anyio_backend: str, stream_backend: str, reader: str
) -> None:
    """Whatever a task outside the block waits in, the block's teardown (the program
    killed, its pipe at EOF) is ``StreamClosedError`` to it, not the output's end."""
    outcomes: list[str] = []

    async def read_on(handle: Any) -> None:
        try:
            if reader == "expect":
                await handle.expect("never")
            else:
                form = {"lines": "stdout_lines", "chunks": "stdout_chunks"}
                async for _ in getattr(handle, form.get(reader, "stdout_batches"))():
                    pass
            outcomes.append("ended")
        except StreamClosedError:
            outcomes.append("closed")
        except Exception as exc:  # (reported by the assertion)
            outcomes.append(type(exc).__name__)

    with anyio.fail_after(DEADLINE):
        async with anyio.create_task_group() as tg:
            async with py("import time; time.sleep(60)").stream(context=FAST) as handle:
                tg.start_soon(read_on, handle)
                await anyio.wait_all_tasks_blocked()  # the reader waits on the pipe
    assert outcomes == ["closed"]


async def test_a_run_timeout_is_the_error_expect_raises_on_a_pipe(
    anyio_backend: str, stream_backend: str
) -> None:
    """The teardown's EOF on the pipe may come before the run task has its error:
    ``expect()`` still raises the run's ``TimeoutExpired``, not ``ExpectEOF``."""
    for _ in range(4):  # (the race went the wrong way about one time in five)
        with anyio.fail_after(DEADLINE), pytest.raises(TimeoutExpired):
            async with py("import time; print('hi', flush=True); time.sleep(60)").stream(
                context=FAST, timeout=0.2
            ) as handle:
                await handle.expect("never", timeout=DEADLINE)
