"""A ``stdin`` source (an async generator) whose cleanup raises as the run's own
timeout stops it: the timeout ended the run, so it raises ``TimeoutExpired`` with
the output so far and every stage's ``error`` event says ``timeout`` (the cleanup's
error won, ``stdin_failed``), on asyncio and trio. The cleanup raises either where
the deadline's cancellation reached the source (idle in a pull) or in its
``aclose`` (suspended at a ``yield`` while its chunk waited for the pipe)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest

from cuprum import TimeoutExpired, observe

from .pipeline_support import DEADLINE, Recorder, relay_command


class CleanupError(Exception):
    """What the sources' cleanup raises."""


async def idle_source() -> AsyncIterator[bytes]:
    """One line, then idle; its finally raises."""
    try:
        yield b"line\n"
        await anyio.sleep_forever()  # the deadline's cancellation arrives here
    finally:
        raise CleanupError("the cleanup broke")


async def flooding_source() -> AsyncIterator[bytes]:
    """One line, then more than the pipe holds: suspended at a yield as the
    deadline passes (its chunk waits for the pipe), closed by ``aclose``."""
    try:
        yield b"line\n"
        while True:
            yield b"x" * 65536
    finally:
        raise CleanupError("the cleanup broke")


STAGES = pytest.mark.parametrize("stages", [1, 2], ids=["single", "pipeline"])
SOURCES = pytest.mark.parametrize("kind", ["idle", "flooding"])


@STAGES
@SOURCES
@pytest.mark.anyio
async def test_a_source_whose_cleanup_raises_as_the_timeout_stops_the_run(
    anyio_backend: str, stages: int, kind: str
) -> None:
    rec = Recorder()
    source = idle_source() if kind == "idle" else flooding_source()
    with observe(rec), anyio.fail_after(DEADLINE), pytest.raises(TimeoutExpired) as info:
        await relay_command(stages).run(stdin=source, timeout=1.0)
    assert info.value.output == "line\n"  # the output so far is kept
    assert any(e.phase == "stdout" and e.line == "line" for e in rec.events)
    assert rec.error_kinds() == ["timeout"] * stages
    rec.assert_dead(stages)


@STAGES
@pytest.mark.anyio
async def test_a_source_whose_cleanup_raises_after_the_run_ended_normally(
    anyio_backend: str, stages: int
) -> None:
    # The child exits (the reader went): the pending pull is abandoned, and its
    # cleanup's error is still the source's (stdin_failed), not a timeout.
    rec = Recorder()
    first = "import sys\nprint(sys.stdin.readline(), end='', flush=True)"
    cmd = relay_command(stages, first)
    with observe(rec), anyio.fail_after(DEADLINE), pytest.raises(CleanupError):
        await cmd.run(stdin=idle_source(), timeout=DEADLINE)
    assert rec.error_kinds() == ["stdin_failed"] * stages


@STAGES
def test_a_source_whose_cleanup_raises_as_the_timeout_stops_run_sync(stages: int) -> None:
    # run_sync with an async iterable runs on a loop of its own (never direct).
    rec = Recorder()
    with observe(rec), pytest.raises(TimeoutExpired) as info:
        relay_command(stages).run_sync(stdin=idle_source(), timeout=1.0)
    assert info.value.output == "line\n"
    assert rec.error_kinds() == ["timeout"] * stages
    rec.assert_dead(stages)
