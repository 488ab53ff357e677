"""A run inside a scope that is already cancelled starts nothing (issue 10, #3).

Like anyio's and trio's ``run_process``: no process, and no before hook and no
event either (nothing was planned, so nothing has to be ended). The
cancellation is delivered at once, before anything is prepared.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import pytest
from core_support import recording, shell

from cuprum import ConcurrentConfig, SafeCmd, ScopeConfig, run_concurrent, scoped

pytestmark = pytest.mark.anyio


@contextmanager
def before_hook_calls() -> Iterator[list[str]]:
    """Record every before hook call of the block."""
    calls: list[str] = []
    with scoped(ScopeConfig(before_hooks=(lambda cmd: calls.append(cmd.program),))):
        yield calls


def touching(marker: Path) -> SafeCmd:
    return shell('touch "$1"', "sh", str(marker))


async def test_run_in_a_cancelled_scope_starts_nothing(anyio_backend: str, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    with before_hook_calls() as calls, recording() as rec:
        with anyio.move_on_after(0) as scope:
            await touching(marker).run()
            pytest.fail("the run was not cancelled")
    assert scope.cancelled_caught
    assert rec.events == []
    assert calls == []
    assert not marker.exists()


async def test_run_after_scope_cancel_starts_nothing(anyio_backend: str, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    with recording() as rec, anyio.CancelScope() as scope:
        scope.cancel()
        await touching(marker).run(stdin=b"input")
    assert rec.events == []
    assert not marker.exists()


async def test_stream_in_a_cancelled_scope_starts_nothing(
    anyio_backend: str, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    entered = False
    with before_hook_calls() as calls, recording() as rec:
        with anyio.move_on_after(0) as scope:
            async with touching(marker).stream() as handle:
                entered = True
                await handle.wait()
    assert scope.cancelled_caught
    assert not entered
    assert rec.events == []
    assert calls == []
    assert not marker.exists()


async def test_run_concurrent_in_a_cancelled_scope_starts_nothing(
    anyio_backend: str, tmp_path: Path
) -> None:
    markers = [tmp_path / f"ran-{i}" for i in range(3)]
    with before_hook_calls() as calls, recording() as rec:
        with anyio.move_on_after(0) as scope:
            await run_concurrent(*map(touching, markers), config=ConcurrentConfig(concurrency=2))
    assert scope.cancelled_caught
    assert rec.events == []
    assert calls == []
    assert not any(marker.exists() for marker in markers)


async def test_a_shielded_run_inside_a_cancelled_scope_still_runs(
    anyio_backend: str, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    with anyio.CancelScope() as outer:
        outer.cancel()
        with anyio.CancelScope(shield=True):
            result = await touching(marker).run()
    assert result.ok
    assert marker.exists()
