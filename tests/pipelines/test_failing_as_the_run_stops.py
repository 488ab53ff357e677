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

from cuprum import ExecEvent, observe

from .pipeline_support import DEADLINE, Recorder, python, relay_command

pytestmark = pytest.mark.anyio


class SourceError(Exception):
    """What the stdin sources and the blocks raise."""


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
            await relay_command(stages).run(stdin=source(), timeout=1.0)
    assert rec.error_kinds() == ["stdin_failed"] * stages
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

        await relay_command(stages).run(stdin=source())
    assert scope.cancelled_caught
    assert rec.error_kinds() == ["cancelled"] * stages
    rec.assert_dead(stages)


@STAGES
async def test_a_stream_block_raising_as_its_scope_is_cancelled_raises_its_own_error(
    anyio_backend: str, stages: int
) -> None:
    first = "import time\nprint('line', flush=True)\ntime.sleep(30)"

    async def block() -> None:
        with anyio.CancelScope() as scope:
            async with relay_command(stages, first).stream() as handle:
                async for _ in handle.stdout_lines():
                    scope.cancel()
                    raise SourceError("the block broke")

    rec = Recorder()
    with observe(rec), anyio.fail_after(DEADLINE), pytest.raises(SourceError) as info:
        await block()
    assert type(info.value) is SourceError
    assert rec.error_kinds() == ["cancelled"] * stages
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
    assert len(rec.error_kinds()) == 1
    rec.assert_dead(1)
