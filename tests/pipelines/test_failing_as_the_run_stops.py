"""Something of the user's failing just as a run stops (its timeout, a cancellation
from outside): the user gets one exception, as itself, never an exception group and
never a trio or anyio type, with one terminal event per stage, on asyncio and trio.

- A ``stdin`` source raising as the run's deadline passes is ``stdin_failed`` and
  its exception propagates, as a hook's would (on trio the feeder's task group held
  the deadline's cancellation with it, and the run ended ``internal_error``).
- A stream block raising as its scope is cancelled from outside raises its own
  exception (on trio it came in an ``ExceptionGroup``).
- A hook raising ``SystemExit`` on a line the teardown drains still leaves every
  stage its terminal event.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import anyio
import pytest

from cuprum import ExecEvent, SafeCmd, observe
from cuprum._api.command import Pipeline

from .pipeline_support import python, wait_until_dead

pytestmark = pytest.mark.anyio

DEADLINE = 10.0
"""Seconds any wait of these tests may take before it fails the test."""

READS_A_LINE = "import sys, time\nprint(sys.stdin.readline(), end='', flush=True)\ntime.sleep(30)"
"""A stage that passes one line on, then waits (stopped by the teardown)."""

LINES = "import sys\nfor line in sys.stdin:\n    print(line, end='', flush=True)"
"""A last stage that passes each line on as it comes."""


class SourceError(Exception):
    """What the stdin sources and the blocks raise."""


class Recorder:
    def __init__(self) -> None:
        self.events: list[ExecEvent] = []

    def __call__(self, event: ExecEvent) -> None:
        self.events.append(event)

    def kinds(self) -> list[str | None]:
        terminal = [e for e in self.events if e.is_terminal]
        assert {e.phase for e in terminal} == {"error"}, terminal
        return [e.error for e in terminal]

    def assert_dead(self, stages: int) -> None:
        pids = [e.pid for e in self.events if e.phase == "start" and e.pid is not None]
        assert len(pids) == stages
        assert wait_until_dead(pids) == []


def wait_until(done: Callable[[], bool], what: str) -> None:
    """Poll ``done`` (in the event loop's thread: the loop is held) under the deadline."""
    end = time.monotonic() + DEADLINE
    while not done():
        if time.monotonic() > end:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.001)


def deadline_passed() -> bool:
    """Whether the deadline of the run whose code asks (its cancel scope's) has passed."""
    return anyio.current_time() >= anyio.current_effective_deadline()


def command(stages: int, first: str = READS_A_LINE) -> SafeCmd | Pipeline:
    cmd = python("-c", first)
    return cmd if stages == 1 else cmd | python("-c", LINES)


STAGES = pytest.mark.parametrize("stages", [1, 2], ids=["single", "pipeline"])


@STAGES
async def test_a_stdin_source_raising_as_the_deadline_passes_is_stdin_failed(
    anyio_backend: str, stages: int
) -> None:
    async def source() -> AsyncIterator[bytes]:
        yield b"line\n"
        wait_until(deadline_passed, "the run's deadline")  # in the run's feeder task
        raise SourceError("the source broke")

    rec = Recorder()
    with observe(rec), pytest.raises(SourceError, match="the source broke"):
        with anyio.fail_after(DEADLINE):
            await command(stages).run(stdin=source(), timeout=1.0)
    assert rec.kinds() == ["stdin_failed"] * stages
    rec.assert_dead(stages)


@STAGES
async def test_a_stdin_source_raising_as_the_run_is_cancelled_from_outside(
    anyio_backend: str, stages: int
) -> None:
    rec = Recorder()
    with observe(rec), anyio.fail_after(DEADLINE), anyio.CancelScope() as scope:

        async def source() -> AsyncIterator[bytes]:
            yield b"line\n"
            scope.cancel()
            raise SourceError("the source broke")

        await command(stages).run(stdin=source())
    assert scope.cancelled_caught
    assert rec.kinds() == ["cancelled"] * stages
    rec.assert_dead(stages)


@STAGES
async def test_a_stream_block_raising_as_its_scope_is_cancelled_raises_its_own_error(
    anyio_backend: str, stages: int
) -> None:
    first = "import time\nprint('line', flush=True)\ntime.sleep(30)"

    async def block() -> None:
        with anyio.CancelScope() as scope:
            async with command(stages, first).stream() as handle:
                async for _ in handle.stdout_lines():
                    scope.cancel()
                    raise SourceError("the block broke")

    rec = Recorder()
    with observe(rec), anyio.fail_after(DEADLINE), pytest.raises(SourceError) as info:
        await block()
    assert type(info.value) is SourceError
    assert rec.kinds() == ["cancelled"] * stages
    rec.assert_dead(stages)


async def test_a_hook_raising_systemexit_on_a_drained_line_leaves_every_terminal_event(
    anyio_backend: str, tmp_path: Path
) -> None:
    # The first line's hook lets the second be written, then cancels the run: the
    # reader stops at its next checkpoint and the teardown drains the second line,
    # whose hook raises SystemExit.
    go, written = tmp_path / "go", tmp_path / "written"
    program = f"""
import os, sys, time
print("first", flush=True)
end = time.monotonic() + {DEADLINE}
while not os.path.exists({str(go)!r}):
    if time.monotonic() > end:
        sys.exit("gave up")
    time.sleep(0.001)
print("second", flush=True)
open({str(written)!r}, "w").close()
time.sleep(30)
"""
    rec = Recorder()
    with anyio.CancelScope() as scope:

        def hook(event: ExecEvent) -> None:
            rec(event)
            if event.line == "first":
                go.touch()
                wait_until(written.exists, "the second line")
                scope.cancel()
            elif event.line == "second":
                raise SystemExit("the hook exits")

        with observe(hook), pytest.raises(SystemExit, match="the hook exits"):
            with anyio.fail_after(DEADLINE):
                await python("-c", program).run()
    assert [e.line for e in rec.events if e.phase == "stdout"] == ["first", "second"]
    assert len(rec.kinds()) == 1
    rec.assert_dead(1)
