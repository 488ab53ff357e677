"""Live streaming: ``async with cmd.stream() as handle`` for commands and pipelines."""

from __future__ import annotations

import hashlib
import os
import signal

import anyio
import pytest

from cuprum import (
    PIPE,
    STDOUT,
    CaptureLimitExceeded,
    CommandResult,
    ExecutionContext,
    PipelineResult,
    Program,
    ProgramNotFoundError,
    SafeCmd,
    StreamHandle,
    TimeoutExpired,
    observe,
)

from .streaming_support import (
    CAT,
    CATALOGUE,
    DEADLINE,
    ECHO_BYTES,
    PY,
    Recorder,
    assert_dead,
    is_dead,
    open_fds,
    py,
    text,
)

pytestmark = pytest.mark.anyio

COUNT_LINES = "import sys\nfor i in range(int(sys.argv[1])): print(f'line {i}', flush=True)"

FOREVER = """
import os, subprocess, sys, time
if len(sys.argv) > 1:  # ignore SIGTERM, so only the SIGKILL after the grace ends us
    import signal
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
print(os.getpid(), grandchild.pid, flush=True)
i = 0
while True:
    print(i, flush=True)
    i += 1
    time.sleep(0.001)
"""
"""Prints its pid and a grandchild's (same process group), then counts forever."""

FAST = ExecutionContext(cancel_grace=0.2)


# -- reading --------------------------------------------------------------------


async def test_lines_arrive_and_wait_returns_the_result(
    anyio_backend: str, stream_backend: str
) -> None:
    async with py(COUNT_LINES, "500").stream() as handle:
        assert isinstance(handle, StreamHandle)
        (pid,) = handle.pids
        lines = [line async for line in handle.stdout_lines()]
        result = await handle.wait()
    assert lines == [f"line {i}" for i in range(500)]
    assert isinstance(result, CommandResult)
    assert result.ok
    assert result.pid == pid
    assert result.stdout == ""  # everything was read through the handle
    assert result.stderr == ""


async def test_wait_alone_behaves_like_run(anyio_backend: str, stream_backend: str) -> None:
    cmd = py(COUNT_LINES, "3")
    async with cmd.stream() as handle:
        streamed = await handle.wait()
    ran = await cmd.run()
    assert streamed.stdout == ran.stdout == "line 0\nline 1\nline 2\n"
    assert (streamed.exit_code, streamed.stderr) == (ran.exit_code, ran.stderr)


async def test_pipeline_stream(anyio_backend: str, stream_backend: str) -> None:
    upper = "import sys\nfor line in sys.stdin: print(line.strip().upper(), flush=True)"
    async with (py(COUNT_LINES, "200") | py(CAT) | py(upper)).stream() as handle:
        assert len(handle.pids) == 3
        lines = [line async for line in handle.stdout_lines()]
        result = await handle.wait()
    assert lines == [f"LINE {i}" for i in range(200)]
    assert isinstance(result, PipelineResult)
    assert result.ok
    assert [stage.exit_code for stage in result.stages] == [0, 0, 0]


async def test_stdout_batches_and_chunks(anyio_backend: str, stream_backend: str) -> None:
    payload = "".join(f"row {i}\n" for i in range(5000)) + "no newline"
    code = "import sys; sys.stdout.write(sys.argv[1])"
    async with (py(code, payload) | py(CAT)).stream() as handle:
        batches = [batch async for batch in handle.stdout_batches()]
    assert all(batches)  # no empty batch is yielded
    assert [line for batch in batches for line in batch] == payload.split("\n")
    async with (py(code, payload) | py(CAT)).stream(text=False) as handle:
        chunks = [chunk async for chunk in handle.stdout_chunks()]
        result = await handle.wait()
    assert all(chunks)
    assert b"".join(chunks) == payload.encode()
    assert result.stdout == b""


async def test_switching_readers_loses_nothing(anyio_backend: str, stream_backend: str) -> None:
    code = "import sys; sys.stdout.write('a\\nb\\nc\\nd\\ne\\nf\\ng\\nhalf'); sys.stdout.flush()"
    async with py(code).stream() as handle:
        # Often the whole output arrives in one read: the rest must stay with the handle.
        assert await anext(handle.stdout_lines()) == "a"
        assert await anext(handle.stdout_lines()) == "b"
        async for line in handle.stdout_lines():
            assert line == "c"
            break
        assert await anext(handle.stdout_batches()) == ["d", "e", "f", "g"]
        result = await handle.wait()
    assert result.stdout == "half"


async def test_chunks_after_lines_get_the_undelivered_bytes(anyio_backend: str) -> None:
    code = "import sys; sys.stdout.buffer.write('x\\ny\\nzé'.encode()[:-1]); sys.stdout.flush()"
    async with py(code).stream(text=False) as handle:
        assert await anext(handle.stdout_lines()) == "x"
        rest = b"".join([chunk async for chunk in handle.stdout_chunks()])
    assert rest == "y\nzé".encode()[:-1]  # including half a character, as raw bytes


async def test_stderr_is_captured_while_stdout_streams(anyio_backend: str) -> None:
    code = "import sys; print('out'); print('err', file=sys.stderr)"
    async with py(code).stream() as handle:
        assert [line async for line in handle.stdout_lines()] == ["out"]
        result = await handle.wait()
    assert result.stderr == "err\n"


async def test_stderr_merged_into_the_stream(anyio_backend: str, stream_backend: str) -> None:
    # one write(2) per line: the two streams interleave by whole writes, not by lines
    code = "import os\nfor i in range(3): os.write(1, b'o %d\\n' % i); os.write(2, b'e %d\\n' % i)"
    async with (py(code) | py(CAT)).stream(stderr=STDOUT) as handle:
        lines = [line async for line in handle.stdout_lines()]
        result = await handle.wait()
    assert sorted(lines) == sorted([f"o {i}" for i in range(3)] + [f"e {i}" for i in range(3)])
    assert lines.index("o 0") < lines.index("o 1") < lines.index("o 2")
    assert all(stage.stderr is None for stage in result.stages)


async def test_bytes_stream_result(anyio_backend: str) -> None:
    code = "import sys; sys.stdout.buffer.write(bytes(range(256)))"
    async with py(code).stream(text=False) as handle:
        result = await handle.wait()
    assert result.stdout == bytes(range(256))


async def test_line_events_still_flow_while_streaming(anyio_backend: str) -> None:
    recorder = Recorder()
    with observe(recorder):
        async with py(COUNT_LINES, "3").stream() as handle:
            lines = [line async for line in handle.stdout_lines()]
            await handle.wait()
    assert lines == [event.line for event in recorder.of("stdout")]
    assert [event.phase for event in recorder.events][-1] == "exit"


# -- writing: an interactive exchange ---------------------------------------------


async def test_interactive_exchange_partial_line_is_held(
    anyio_backend: str, stream_backend: str
) -> None:
    """A partial line is never delivered early.

    The child echoes each byte at once, then writes ``ack`` to stderr, which an
    observe hook sees live. After the acks for ``abc`` the child has echoed it;
    ``wait_all_tasks_blocked`` lets the reader task consume it. A correct handle
    still has no line, and the reader records that the newline had been sent when
    the line came: ordering facts, so the test cannot flake on timing.
    """
    recorder = Recorder(count="ack")
    newline_sent = False
    received: list[tuple[str, bool]] = []
    cmd = py(ECHO_BYTES) | py(CAT)  # the reply also crosses a hop
    with observe(recorder), anyio.fail_after(DEADLINE):
        async with cmd.stream(stdin=PIPE) as handle:
            lines = handle.stdout_lines()
            for request in ("hello", "how are you?"):
                await handle.write(f"{request}\n")
                assert await anext(lines) == request

            async def read_one() -> None:
                received.append((await anext(lines), newline_sent))

            async with anyio.create_task_group() as tg:
                tg.start_soon(read_one)
                await handle.write("abc")
                acks = len("hello\nhow are you?\nabc")
                while recorder.counted < acks:
                    await anyio.sleep(0.001)
                await anyio.wait_all_tasks_blocked()
                assert received == []  # "abc" was echoed, but it is not a line yet
                newline_sent = True
                await handle.write(b"\n")
            assert received == [("abc", True)]
            result = await handle.wait()  # closes stdin: the child sees EOF
    assert result.ok
    assert result.stdout == ""
    assert result.stages[0].stderr == "ack\n" * (acks + 1)


async def test_write_str_uses_the_context_encoding(anyio_backend: str) -> None:
    code = "import sys; print(sys.stdin.buffer.read().hex())"
    context = ExecutionContext(encoding="latin-1")
    async with py(code).stream(stdin=PIPE, context=context) as handle:
        await handle.write("é")
        await handle.close_stdin()
        assert [line async for line in handle.stdout_lines()] == ["e9"]
        await handle.wait()


async def test_write_needs_stdin_pipe(anyio_backend: str) -> None:
    async with py("pass").stream() as handle:
        with pytest.raises(RuntimeError, match="stdin=PIPE"):
            await handle.write(b"x")
        await handle.close_stdin()  # a no-op without a pipe
        assert (await handle.wait()).ok


async def test_large_write_waits_for_a_slow_reader(anyio_backend: str) -> None:
    data = os.urandom(3 * 1024 * 1024)
    code = "import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())"
    async with py(code).stream(stdin=PIPE) as handle:
        await handle.write(data)
        result = await handle.wait()
    assert text(result.stdout).strip() == hashlib.sha256(data).hexdigest()


# -- leaving early, cancellation, errors --------------------------------------------


async def test_leaving_the_block_early_leaves_no_process(
    anyio_backend: str, stream_backend: str
) -> None:
    fds_before = open_fds()
    recorder = Recorder()
    with observe(recorder), anyio.fail_after(DEADLINE):
        async with (py(FOREVER) | py(CAT)).stream(context=FAST) as handle:
            pids = handle.pids
            lines = handle.stdout_lines()
            leader, grandchild = map(int, (await anext(lines)).split())
            assert await anext(lines) == "0"
            # leave with the pipeline running flat out
    assert leader == pids[0]
    for pid in pids:
        assert is_dead(pid)  # reaped before the block returned
    await assert_dead(grandchild)
    assert open_fds() == fds_before
    assert {event.error for event in recorder.of("error")} == {"cancelled"}


async def test_leaving_early_kills_a_child_that_ignores_sigterm(anyio_backend: str) -> None:
    with anyio.fail_after(DEADLINE):
        async with py(FOREVER, "ignore-term").stream(context=FAST) as handle:
            leader, grandchild = map(int, (await anext(handle.stdout_lines())).split())
    assert is_dead(leader)
    await assert_dead(grandchild)


async def test_cancelling_the_enclosing_scope_tears_down(
    anyio_backend: str, stream_backend: str
) -> None:
    seen: list[str] = []
    with anyio.CancelScope() as scope:
        async with (py(FOREVER) | py(CAT)).stream(context=FAST) as handle:
            pids = handle.pids
            async for line in handle.stdout_lines():
                seen.append(line)
                if len(seen) == 3:
                    scope.cancel()  # from inside, like a sibling task failing
            pytest.fail("the cancellation did not reach the loop")
    assert scope.cancelled_caught
    grandchild = int(seen[0].split()[1])
    for pid in pids:
        assert is_dead(pid)
    await assert_dead(grandchild)


async def test_cancellation_from_outside_while_waiting(anyio_backend: str) -> None:
    pids: tuple[int, ...] = ()
    with anyio.move_on_after(0.3) as scope:
        async with py(FOREVER).stream(context=FAST) as handle:
            pids = handle.pids
            await handle.wait()  # never ends by itself
    assert scope.cancelled_caught
    assert all(is_dead(pid) for pid in pids)


async def test_exception_in_the_block_propagates_unwrapped(
    anyio_backend: str, stream_backend: str
) -> None:
    pids: tuple[int, ...] = ()

    async def body() -> None:
        nonlocal pids
        async with (py(FOREVER) | py(CAT)).stream(context=FAST) as handle:
            pids = handle.pids
            raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        await body()  # the KeyError itself, not a group wrapping it
    assert pids
    assert all(is_dead(pid) for pid in pids)


async def test_timeout_raises_timeout_expired_from_wait(anyio_backend: str) -> None:
    async def body() -> None:
        cmd = py("import time; print('started', flush=True); time.sleep(30)")
        async with cmd.stream(timeout=0.5) as handle:
            assert await anext(handle.stdout_lines()) == "started"
            await handle.wait()

    with pytest.raises(TimeoutExpired) as caught:
        await body()
    assert caught.value.timeout == 0.5
    assert not caught.value.stderr  # nothing was written to stderr


STALLED = """
import os, sys, time
sys.stderr.write("warn\\n")
sys.stderr.flush()
os.write(1, b"hello\\nworld\\n")  # one write: the handle reads both lines at once
time.sleep(30)  # never reads its stdin
"""


@pytest.mark.parametrize("shape", ["command", "pipeline"])
async def test_a_write_blocked_when_the_timeout_expires_raises_timeout_expired(
    anyio_backend: str, stream_backend: str, shape: str
) -> None:
    # In the pipeline the first stage copies its input to the stalled one, and blocks.
    cmd = py(STALLED) if shape == "command" else py(CAT) | py(STALLED)
    with anyio.fail_after(DEADLINE):
        async with cmd.stream(stdin=PIPE, timeout=1.0, context=FAST) as handle:
            assert await anext(handle.stdout_lines()) == "hello"
            with pytest.raises(TimeoutExpired) as caught:
                await handle.write(b"x" * (16 << 20))  # far more than the pipes hold
            pids = handle.pids
        # ... raised once: leaving the block raises nothing more.
    assert caught.value.timeout == 1.0
    assert text(caught.value.output) == "world\n"  # the stdout not read through the handle
    assert text(caught.value.stderr) == "warn\n"
    await assert_dead(*pids)


async def test_a_child_closing_its_stdin_is_still_a_broken_pipe_under_a_timeout(
    anyio_backend: str,
) -> None:
    code = "import os; os.close(0); print('closed', flush=True); import time; time.sleep(30)"
    with anyio.fail_after(DEADLINE):
        async with py(code).stream(stdin=PIPE, timeout=DEADLINE, context=FAST) as handle:
            assert await anext(handle.stdout_lines()) == "closed"
            with pytest.raises(BrokenPipeError, match="closed its stdin"):
                await handle.write(b"anyone?")


async def test_timeout_raises_at_block_exit_without_wait(anyio_backend: str) -> None:
    with pytest.raises(TimeoutExpired):
        async with py("import time; time.sleep(30)").stream(timeout=0.2) as handle:
            assert [line async for line in handle.stdout_lines()] == []  # EOF at teardown


async def test_spawn_failure_is_raised_on_entry(anyio_backend: str) -> None:
    project = CATALOGUE.lookup(PY).project
    missing = SafeCmd(Program("/nonexistent/cuprum-test-binary"), (), project)
    with pytest.raises(ProgramNotFoundError):
        async with missing.stream():
            pytest.fail("the block must not run")


async def test_nonzero_exit_is_a_result_not_an_error(anyio_backend: str) -> None:
    async with py("import sys; print('bye'); sys.exit(3)").stream() as handle:
        assert [line async for line in handle.stdout_lines()] == ["bye"]
        result = await handle.wait()
    assert result.exit_code == 3
    assert not result.ok


async def test_killed_by_signal_reports_negative_code(anyio_backend: str) -> None:
    code = "import os, signal; print('x', flush=True); os.kill(os.getpid(), signal.SIGKILL)"
    async with py(code).stream() as handle:
        result = await handle.wait()
    assert result.exit_code == -signal.SIGKILL


# -- bounded capture of what wait() collects ----------------------------------------


async def test_capture_limit_applies_to_the_rest_collected_by_wait(anyio_backend: str) -> None:
    code = "print('x' * 100)"
    async with py(code).stream(capture_limit=10) as handle:
        result = await handle.wait()
    assert result.stdout == "x" * 10
    assert result.stdout_truncated
    with pytest.raises(CaptureLimitExceeded) as caught:
        async with py(code).stream(capture_limit=10, on_limit="raise", text=False) as handle:
            await handle.wait()
    assert caught.value.captured == b"x" * 10
    assert caught.value.stream == "stdout"


async def test_capture_limit_on_stderr_while_streaming(anyio_backend: str) -> None:
    code = "import sys; sys.stderr.write('e' * 50); print('done')"
    async with py(code).stream(capture_limit=8) as handle:
        assert [line async for line in handle.stdout_lines()] == ["done"]
        result = await handle.wait()
    assert (result.stderr, result.stderr_truncated) == ("e" * 8, True)
    assert not result.stdout_truncated
