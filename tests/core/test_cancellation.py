"""Cancellation: the child and everything in its process group are torn down."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import anyio
import pytest
from core_support import (
    DEADLINE,
    IGNORE_TERM,
    WITH_GRANDCHILD,
    Recorder,
    assert_dead,
    cancel_on_line,
    is_dead,
    process_state,
    recording,
    shell,
    wait_until,
)

from cuprum import DEVNULL, ExecEvent, ExecutionContext, sh

pytestmark = pytest.mark.anyio


def _grandchild(rec: Recorder) -> int:
    (line,) = rec.lines("stdout")
    return int(line)


@pytest.mark.parametrize("how", ["cancel", "deadline"])
async def test_cancel_scope_kills_child_and_grandchild(how: str) -> None:
    """``scope.cancel()`` and an expiring ``move_on_after`` both tear the group down."""
    with anyio.move_on_after(DEADLINE * 6) as scope:

        def stop(event: ExecEvent) -> None:
            if how == "cancel":
                scope.cancel()
            else:
                scope.deadline = anyio.current_time()  # the deadline passes now

        with recording(on_line=stop) as rec:
            await shell(WITH_GRANDCHILD).run()
        pytest.fail("the run was not cancelled")
    assert scope.cancelled_caught
    (terminal,) = rec.terminal
    assert (terminal.phase, terminal.error) == ("error", "cancelled")
    assert terminal.exit_code == -15
    assert_dead(rec.pid, _grandchild(rec))


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_asyncio_task_cancel_kills_child_and_grandchild() -> None:
    seen = asyncio.Event()
    with recording(on_line=lambda event: seen.set()) as rec:
        task = asyncio.create_task(shell(WITH_GRANDCHILD).run())
        await asyncio.wait_for(seen.wait(), DEADLINE)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, DEADLINE)
    assert task.cancelled()
    assert rec.terminal[-1].error == "cancelled"
    assert_dead(rec.pid, _grandchild(rec))


@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_trio_native_cancel_scope_kills_child_and_grandchild() -> None:
    import trio

    with trio.move_on_after(DEADLINE * 6) as scope:
        with recording(on_line=lambda event: scope.cancel()) as rec:
            await shell(WITH_GRANDCHILD).run()
    assert scope.cancelled_caught
    assert rec.terminal[-1].error == "cancelled"
    assert_dead(rec.pid, _grandchild(rec))


async def test_failing_sibling_task_cancels_the_command() -> None:
    running = anyio.Event()

    async def sibling() -> None:
        await running.wait()
        raise RuntimeError("sibling failed")

    with recording(on_line=lambda event: running.set()) as rec:
        with pytest.RaisesGroup(pytest.RaisesExc(RuntimeError, match="sibling failed")):
            with anyio.fail_after(DEADLINE):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(sibling)
                    await shell(WITH_GRANDCHILD).run()
    assert rec.terminal[-1].error == "cancelled"
    assert_dead(rec.pid, _grandchild(rec))


async def test_cancel_waits_the_grace_then_kills_a_term_ignoring_child() -> None:
    grace = 0.3
    ctx = ExecutionContext(cancel_grace=grace)
    with anyio.CancelScope() as scope:
        cancelled_at = 0.0

        def stop(event: ExecEvent) -> None:
            nonlocal cancelled_at
            cancelled_at = time.monotonic()
            scope.cancel()

        with recording(on_line=stop) as rec:
            await shell(IGNORE_TERM).run(context=ctx)
    elapsed = time.monotonic() - cancelled_at
    assert grace <= elapsed < DEADLINE
    (terminal,) = rec.terminal
    assert (terminal.error, terminal.exit_code) == ("cancelled", -9)
    assert_dead(rec.pid)


async def test_zero_grace_kills_at_once() -> None:
    ctx = ExecutionContext(cancel_grace=0)
    with anyio.CancelScope() as scope:
        with recording(on_line=cancel_on_line(scope, "ready")) as rec:
            await shell(IGNORE_TERM).run(context=ctx)
    assert rec.terminal[0].exit_code == -9
    assert is_dead(rec.pid)


async def test_cancel_right_after_start() -> None:
    with anyio.CancelScope() as scope:

        def on_start(event: ExecEvent) -> None:
            if event.phase == "start":
                scope.cancel()

        rec = Recorder()
        with sh.observe(on_start), sh.observe(rec):
            await shell(WITH_GRANDCHILD).run()
    assert scope.cancelled_caught
    assert rec.phases[:2] == ["plan", "start"]
    assert rec.terminal[-1].error == "cancelled"
    assert_dead(rec.pid)


def _until_exited(event: ExecEvent) -> None:
    """Hold the run at ``start`` until the child has exited: its pipes are at EOF
    before cuprum reads them, so the run could finish without ever waiting."""
    if event.phase == "start" and event.pid is not None:
        pid = event.pid
        wait_until(lambda: process_state(pid) == "Z", what=f"pid {pid} to exit")


#: The shapes of a single-command run's work: reading its output pipes; nothing
#: at all (every stream redirected); only feeding its stdin.
RUN_SHAPES: dict[str, dict[str, Any]] = {
    "output reader": {},
    "no job": {"stdout": DEVNULL, "stderr": DEVNULL},
    "stdin only": {"stdout": DEVNULL, "stderr": DEVNULL, "stdin": b"x"},
}


@pytest.mark.parametrize("shape", list(RUN_SHAPES))
async def test_a_run_is_a_checkpoint_even_when_the_child_is_done_at_once(shape: str) -> None:
    # Cancelled once the child has exited (a scope cancelled before the run starts
    # nothing at all: see test_cancelled_scope.py): the run must still notice.
    with anyio.CancelScope() as scope:

        def cancel_at_start(event: ExecEvent) -> None:
            if event.phase == "start":
                scope.cancel()

        with sh.observe(_until_exited), sh.observe(cancel_at_start), recording() as rec:
            await shell("exit 0").run(**RUN_SHAPES[shape])
            pytest.fail("run() did not notice the cancellation")
    assert scope.cancelled_caught
    assert rec.terminal[-1].error == "cancelled"


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.parametrize("shape", list(RUN_SHAPES))
async def test_a_run_lets_other_tasks_in_even_when_the_child_is_done_at_once(
    shape: str,
) -> None:
    # A task started once the child is running gets its turn before run() returns.
    # asyncio only: its FIFO scheduling makes that a guarantee; trio may resume the
    # run first after the checkpoint (the cancellation test above covers trio).
    ran = anyio.Event()

    async def sibling() -> None:
        ran.set()

    async with anyio.create_task_group() as tg:

        def start_sibling(event: ExecEvent) -> None:
            if event.phase == "start":
                tg.start_soon(sibling)

        with sh.observe(_until_exited), sh.observe(start_sibling):
            result = await shell("exit 0").run(**RUN_SHAPES[shape])
        assert result.ok
        assert ran.is_set(), "the sibling task never ran during run()"
