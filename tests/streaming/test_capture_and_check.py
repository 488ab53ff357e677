"""Bytes results, bounded capture (truncate/raise), and ``check=True`` / ``result.check()``."""

from __future__ import annotations

import os
import subprocess

import anyio
import pytest

from cuprum import (
    CaptureLimitExceeded,
    CommandFailedError,
    CuprumError,
    ExecutionContext,
    observe,
)

from .streaming_support import CAT, DEADLINE, Recorder, chain, data, py, text

pytestmark = pytest.mark.anyio

NON_TEXT = bytes(range(256)) * 4 + b"\xff\xfe\x00\r\n\x80"

WRITE_N = """
import os, sys
fd = 1 if sys.argv[1] == "out" else 2
os.write(fd, b"0123456789" * (int(sys.argv[2]) // 10))
"""
"""Writes ``argv[2]`` bytes (a multiple of 10) to stdout (``out``) or stderr."""

FLOOD = "import os\nwhile True: os.write(1, b'y' * 65536)"
"""Writes to stdout until killed."""


# -- bytes results ----------------------------------------------------------------


async def test_bytes_results_keep_non_text_data(anyio_backend: str) -> None:
    code = "import os, sys; os.write(1, sys.stdin.buffer.read()); os.write(2, b'\\xff\\x00')"
    result = await py(code).run(stdin=NON_TEXT, text=False)
    assert result.stdout == NON_TEXT
    assert result.stderr == b"\xff\x00"
    assert isinstance(result.stdout, bytes)


async def test_text_results_decode_with_the_context(anyio_backend: str) -> None:
    code = "import sys; sys.stdout.buffer.write(b'caf\\xe9 \\xff')"
    assert (await py(code).run()).stdout == "caf\ufffd \ufffd"  # utf-8, errors="replace"
    latin = ExecutionContext(encoding="latin-1")
    assert (await py(code).run(context=latin)).stdout == "café ÿ"
    with pytest.raises(UnicodeDecodeError):
        await py(code).run(context=ExecutionContext(errors="strict"))


async def test_pipeline_bytes_results(anyio_backend: str, stream_backend: str) -> None:
    result = await chain(py(CAT), py(CAT), py(CAT)).run(stdin=NON_TEXT, text=False)
    assert result.stdout == NON_TEXT
    assert all(stage.stderr == b"" for stage in result.stages)


# -- bounded capture --------------------------------------------------------------


async def test_capture_is_unlimited_by_default(anyio_backend: str) -> None:
    result = await py(WRITE_N, "out", "8000000").run(text=False)
    assert len(data(result.stdout)) == 8_000_000
    assert not result.stdout_truncated


@pytest.mark.parametrize("stream", ["out", "err"])
async def test_truncate_keeps_the_head(anyio_backend: str, stream: str) -> None:
    result = await py(WRITE_N, stream, "1000").run(capture_limit=25, text=False)
    kept = result.stdout if stream == "out" else result.stderr
    other = result.stderr if stream == "out" else result.stdout
    assert kept == b"0123456789012345678901234"
    assert other == b""
    assert (result.stdout_truncated, result.stderr_truncated) == (stream == "out", stream == "err")
    assert result.ok  # the program ran to the end: its output was drained, not blocked


async def test_limit_exactly_reached_is_not_truncation(anyio_backend: str) -> None:
    result = await py(WRITE_N, "out", "100").run(capture_limit=100)
    assert len(text(result.stdout)) == 100
    assert not result.stdout_truncated


async def test_limit_zero_keeps_nothing(anyio_backend: str) -> None:
    result = await py(WRITE_N, "out", "10").run(capture_limit=0)
    assert (result.stdout, result.stdout_truncated) == ("", True)
    empty = await py("pass").run(capture_limit=0)
    assert (empty.stdout, empty.stdout_truncated) == ("", False)


async def test_truncate_a_flooding_program_still_finishes(anyio_backend: str) -> None:
    code = "import os\nfor _ in range(256): os.write(1, b'y' * 65536)"  # 16 MiB
    result = await py(code).run(capture_limit=1000, text=False)
    assert result.stdout == b"y" * 1000
    assert result.stdout_truncated


@pytest.mark.parametrize("stream", ["out", "err"])
async def test_raise_names_the_program_and_stream(anyio_backend: str, stream: str) -> None:
    with pytest.raises(CaptureLimitExceeded) as caught:
        await py(WRITE_N, stream, "1000").run(capture_limit=15, on_limit="raise")
    error = caught.value
    assert isinstance(error, CuprumError)
    assert error.program == py("").program
    assert error.stream == ("stdout" if stream == "out" else "stderr")
    assert error.limit == 15
    assert error.captured == "012345678901234"
    assert str(error).startswith(f"{error.program}: {error.stream} exceeded")


async def test_raise_captured_is_bytes_for_bytes_results(anyio_backend: str) -> None:
    with pytest.raises(CaptureLimitExceeded) as caught:
        await py(WRITE_N, "out", "100").run(capture_limit=3, on_limit="raise", text=False)
    assert caught.value.captured == b"012"


async def test_raise_stops_a_flooding_program(anyio_backend: str) -> None:
    recorder = Recorder()
    with observe(recorder), anyio.fail_after(DEADLINE):
        with pytest.raises(CaptureLimitExceeded):
            await py(FLOOD).run(capture_limit=100_000, on_limit="raise")
    (start,) = recorder.of("start")
    assert start.pid is not None
    assert not os.path.exists(f"/proc/{start.pid}")  # torn down and reaped
    assert [event.phase for event in recorder.events if event.is_terminal] == ["error"]


async def test_limits_passed_together_raise_one_error(anyio_backend: str) -> None:
    """stdout and stderr passing their limits in the same loop step: still one error."""
    code = "import os\nfor _ in range(64):\n os.write(1, b'o' * 4096); os.write(2, b'e' * 4096)"
    for _ in range(15):  # the readers often wake together; once was enough to fail
        with pytest.raises(CaptureLimitExceeded) as caught:
            await py(code).run(capture_limit=1024, on_limit="raise")
        assert caught.value.stream in ("stdout", "stderr")


async def test_raise_is_not_reported_as_a_hook_failure(anyio_backend: str) -> None:
    recorder = Recorder()
    with observe(recorder), pytest.raises(CaptureLimitExceeded):
        await py(WRITE_N, "out", "100").run(capture_limit=3, on_limit="raise")
    (error,) = recorder.of("error")
    assert error.error == "capture_limit"


async def test_limit_in_a_pipeline_applies_per_stream(
    anyio_backend: str, stream_backend: str
) -> None:
    noisy = "import os, sys; os.write(2, b'e' * 500)\n" + CAT
    pipeline = chain(py(noisy), py(noisy), py(CAT))
    result = await pipeline.run(stdin=b"z" * 500, capture_limit=50)
    assert result.stdout == "z" * 50
    assert result.stages[-1].stdout_truncated
    assert [stage.stderr for stage in result.stages] == ["e" * 50, "e" * 50, ""]
    assert [stage.stderr_truncated for stage in result.stages] == [True, True, False]
    with pytest.raises(CaptureLimitExceeded):
        await pipeline.run(stdin=b"z" * 500, capture_limit=50, on_limit="raise")


async def test_a_pipeline_result_says_whether_its_stdout_was_truncated(
    anyio_backend: str, stream_backend: str
) -> None:
    # The final stage's stdout, as for a single command; stderr stays per stage.
    pipeline = chain(py("import os, sys; os.write(2, b'e' * 500)\n" + CAT), py(CAT))
    cut = await pipeline.run(stdin=b"z" * 500, capture_limit=50)
    assert (cut.stdout, cut.stdout_truncated) == ("z" * 50, True)
    assert cut.stdout_truncated == cut.stages[-1].stdout_truncated
    whole = await pipeline.run(stdin=b"z" * 50, capture_limit=50)
    assert (whole.stdout, whole.stdout_truncated) == ("z" * 50, False)
    assert whole.stages[0].stderr_truncated  # another stream's limit is not stdout's
    async with pipeline.stream(stdin=b"line\n" + b"z" * 500, capture_limit=50) as handle:
        assert await anext(handle.stdout_lines()) == "line"
        streamed = await handle.wait()
    assert (streamed.stdout, streamed.stdout_truncated) == ("z" * 50, True)


async def test_a_pipeline_result_says_whether_its_stderr_was_truncated(
    anyio_backend: str, stream_backend: str
) -> None:
    # Mirrors stderr: the final stage's stderr_truncated; each stage's in stages.
    noisy = "import os, sys; os.write(2, b'e' * 500)\n" + CAT
    last_noisy = chain(py(CAT), py(noisy))
    cut = await last_noisy.run(stdin=b"z" * 10, capture_limit=50)
    assert (cut.stderr, cut.stderr_truncated) == ("e" * 50, True)
    assert [stage.stderr_truncated for stage in cut.stages] == [False, True]
    assert not cut.stdout_truncated  # another stream's limit is not stderr's
    first_noisy = chain(py(noisy), py(CAT))
    quiet_end = await first_noisy.run(stdin=b"z" * 10, capture_limit=50)
    assert (quiet_end.stderr, quiet_end.stderr_truncated) == ("", False)
    assert quiet_end.stages[0].stderr_truncated  # an earlier stage's is its own
    async with last_noisy.stream(stdin=b"line\n", capture_limit=50) as handle:
        assert await anext(handle.stdout_lines()) == "line"
        streamed = await handle.wait()
    assert (streamed.stderr, streamed.stderr_truncated) == ("e" * 50, True)


async def test_invalid_limit_arguments(anyio_backend: str) -> None:
    with pytest.raises(ValueError, match="capture_limit"):
        await py("pass").run(capture_limit=-1)
    with pytest.raises(ValueError, match="on_limit"):
        await py("pass").run(capture_limit=1, on_limit="drop")  # type: ignore[call-overload]


# -- check ------------------------------------------------------------------------

FAIL = "import sys; print('partial out'); print('bad thing happened', file=sys.stderr); sys.exit(4)"


async def test_check_raises_command_failed_error_with_everything(anyio_backend: str) -> None:
    with pytest.raises(CommandFailedError) as caught:
        await py(FAIL).run(check=True)
    error = caught.value
    assert isinstance(error, subprocess.CalledProcessError)
    assert isinstance(error, CuprumError)
    assert error.returncode == 4
    assert error.cmd == [py("").program, "-c", FAIL]
    assert error.stdout == error.output == "partial out\n"
    assert error.stderr == "bad thing happened\n"
    assert "exit status 4" in str(error)
    assert "bad thing happened" in str(error)
    assert str(error).startswith(f"{py('').program}: ")


async def test_check_is_caught_as_called_process_error(anyio_backend: str) -> None:
    with pytest.raises(subprocess.CalledProcessError) as caught:
        await py(FAIL).run(check=True, text=False)
    error = caught.value
    assert (error.returncode, error.stdout, error.stderr) == (
        4,
        b"partial out\n",
        b"bad thing happened\n",
    )


async def test_check_passes_successful_results_through(anyio_backend: str) -> None:
    result = await py("print('fine')").run(check=True)
    assert result.stdout == "fine\n"
    assert result.check() is result


async def test_result_check_method(anyio_backend: str) -> None:
    result = await py(FAIL).run()
    assert not result.ok
    with pytest.raises(CommandFailedError) as caught:
        result.check()
    assert (caught.value.returncode, caught.value.stderr) == (4, "bad thing happened\n")


async def test_check_reports_a_signal_as_a_negative_code(anyio_backend: str) -> None:
    code = "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"
    with pytest.raises(CommandFailedError) as caught:
        await py(code).run(check=True)
    assert caught.value.returncode == -15
    assert "signal" in str(caught.value)


async def test_check_with_capture_off_and_truncation(anyio_backend: str) -> None:
    with pytest.raises(CommandFailedError) as caught:
        await py(FAIL).run(check=True, capture=False)
    assert (caught.value.stdout, caught.value.stderr) == (None, None)
    with pytest.raises(CommandFailedError) as caught:
        await py(FAIL).run(check=True, capture_limit=4)
    assert (caught.value.stdout, caught.value.stderr) == ("part", "bad ")


async def test_pipeline_check_blames_the_failing_stage(
    anyio_backend: str, stream_backend: str
) -> None:
    failing = "import sys; sys.stdin.read(); print('stage 1 broke', file=sys.stderr); sys.exit(2)"
    pipeline = chain(py("print('data')"), py(failing), py(CAT))
    result = await pipeline.run()
    assert (result.ok, result.failure_index) == (False, 1)
    with pytest.raises(CommandFailedError) as caught:
        await pipeline.run(check=True)
    error = caught.value
    assert error.returncode == 2
    assert error.stderr == "stage 1 broke\n"
    assert error.stdout == ""  # the final stage's stdout
    assert error.cmd.count("|") == 2  # the whole pipeline, stage by stage
    with pytest.raises(CommandFailedError):
        result.check()
    ok = await chain(py("print('data')"), py(CAT), py(CAT)).run(check=True)
    assert ok.check() is ok


def test_run_sync_check(anyio_backend: str) -> None:
    with pytest.raises(CommandFailedError):
        py(FAIL).run_sync(check=True, backend="trio" if anyio_backend == "trio" else "asyncio")
