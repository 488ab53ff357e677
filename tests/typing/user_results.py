"""User code under ``mypy --strict``: the type of each result follows from the call.

Checked by tests/test_typing.py (mypy, then run for real: the runtime values must
be what the types say). No cast, no ``assert x is not None``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import assert_type

import anyio

from cuprum import (
    DEVNULL,
    ECHO,
    STDOUT,
    CommandResult,
    ConcurrentConfig,
    ConcurrentResult,
    PipelineResult,
    Program,
    ProgramCatalogue,
    StreamHandle,
    run_concurrent,
    run_concurrent_sync,
    sh,
)

PYTHON = Program(sys.executable, display_name="python")
catalogue = ProgramCatalogue.of(ECHO, PYTHON)
echo = sh.make(ECHO, catalogue=catalogue)
python = sh.make(PYTHON, catalogue=catalogue)
BOTH = "import sys; print('out'); print('err', file=sys.stderr)"


def commands() -> None:
    result = echo("hello").run_sync()
    assert_type(result, CommandResult[str, str])
    assert_type(result, CommandResult[str])  # the same: stderr's type defaults to stdout's
    assert result.stdout.strip() == "hello"
    assert result.stderr.splitlines() == []

    raw = echo("hello").run_sync(text=False)
    assert_type(raw.stdout, bytes)
    assert raw.stdout.decode() == "hello\n"

    quiet = echo("hello").run_sync(capture=False)
    assert_type(quiet.stdout, None)
    assert quiet.stdout is None and quiet.stderr is None

    both = python("-c", BOTH)
    discarded = both.run_sync(stdout=DEVNULL)
    assert_type(discarded, CommandResult[None, str])
    assert discarded.stdout is None and discarded.stderr == "err\n"
    merged = both.run_sync(stderr=STDOUT)
    assert_type(merged, CommandResult[str, None])
    assert merged.stdout == "out\nerr\n" and merged.stderr is None
    merged_bytes = both.run_sync(stderr=STDOUT, text=False)
    assert_type(merged_bytes.stdout, bytes)
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp, "log")
        redirected = both.run_sync(stdout=log, stderr=DEVNULL, timeout=10)
        assert_type(redirected, CommandResult[None, None])
        assert log.read_text() == "out\n"
        to_path_string = both.run_sync(stdout=str(log), text=False)
        assert_type(to_path_string, CommandResult[None, bytes])
        assert to_path_string.stderr == b"err\n"

    checked = echo("x").run_sync(check=True, timeout=5)
    assert_type(checked.check().stdout, str)
    assert checked.ok


def when_capture_is_decided_at_run_time(verbose: bool) -> None:
    result = echo("x").run_sync(capture=not verbose)
    assert_type(result.stdout, str | None)
    if result.stdout is not None:  # only here is narrowing due: it may really be None
        assert result.stdout == "x\n"
    either = echo("x").run_sync(text=verbose)
    assert_type(either.stdout, str | bytes | None)


def pipelines() -> None:
    upper = echo("-n", "hello") | python(
        "-c", "import sys; sys.stdout.write(sys.stdin.read().upper())"
    )
    result = upper.run_sync()
    assert_type(result, PipelineResult[str, str])
    assert result.stdout.lower() == "hello"
    assert_type(result.exit_code, int)
    assert_type(result.duration_s, float)
    assert [stage.exit_code for stage in result.stages] == [0, 0]
    assert_type(result.stages[0].stdout, str | None)  # intermediate stages capture no stdout
    assert result.stages[0].stdout is None
    assert_type(upper.run_sync(text=False).stdout, bytes)
    assert_type(upper.run_sync(capture=False).stdout, None)
    failure = (echo("x") | python("-c", "raise SystemExit(3)")).run_sync().failure
    if failure is not None:
        assert_type(failure.stderr, str)
        assert failure.exit_code == 3


def concurrent() -> None:
    batch = run_concurrent_sync(echo("a"), echo("b"))
    assert_type(batch, ConcurrentResult[str, str])
    assert [r.stdout.strip() for r in batch.results] == ["a", "b"]
    limited = run_concurrent_sync(echo("a"), config=ConcurrentConfig(concurrency=2))
    assert_type(limited.results[0].stdout, str)
    as_bytes = run_concurrent_sync(echo("a"), config=ConcurrentConfig(text=False))
    assert_type(as_bytes.results[0].stdout, bytes)
    silent = run_concurrent_sync(echo("a"), config=ConcurrentConfig(capture=False))
    assert_type(silent.results[0].stdout, None)
    first = batch.first_failure
    assert first is None


async def drain(handle: StreamHandle) -> int:
    """A helper for any stream: a bare ``StreamHandle`` takes every shape of handle."""
    lines = [line async for line in handle.stdout_lines()]
    result = await handle.wait()
    assert_type(result, CommandResult | PipelineResult)
    return len(lines)


async def on_an_event_loop() -> None:
    result = await echo("async").run()
    assert_type(result.stdout, str)
    piped = await (echo("a") | python("-c", "print(input() * 2)")).run()
    assert_type(piped.stdout, str)
    assert piped.stdout == "aa\n"
    batch = await run_concurrent(echo("1"), echo("2"), config=ConcurrentConfig(fail_fast=True))
    assert_type(batch.results[1].stdout, str)
    async with python("-c", "print('a'); print('b')").stream() as handle:
        lines = [line async for line in handle.stdout_lines()]
        finished = await handle.wait()
    assert_type(finished, CommandResult[str, str])
    assert lines == ["a", "b"] and finished.stdout == ""
    async with python("-c", BOTH).stream(stderr=STDOUT, text=False) as handle:
        assert_type(await handle.wait(), CommandResult[bytes, None])
    async with (echo("a") | python("-c", "print(input())")).stream() as piped_handle:
        assert await drain(piped_handle) == 1


if __name__ == "__main__":
    commands()
    when_capture_is_decided_at_run_time(verbose=False)
    pipelines()
    concurrent()
    anyio.run(on_an_event_loop)
    anyio.run(on_an_event_loop, backend="trio")
