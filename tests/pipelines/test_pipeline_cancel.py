"""Cancelling a running pipeline from the caller's own task group."""

from __future__ import annotations

import os
import time

import anyio
import pytest

from cuprum import ExecEvent, TimeoutExpired, observe

from .pipeline_support import Recorder, cat, is_dead, shell, wait_until_dead

pytestmark = pytest.mark.anyio

STAGES = 3
#: Bounds the wait if cancellation were broken (a failure, never a hang).
GUARD = 20
#: Each stage starts a grandchild in its group, reports it on stderr, then relays
#: stdin to stdout and waits: nothing ends on its own.
STAGE = 'sleep 300 & echo "grandchild $!" >&2; cat; wait'


class BoomError(Exception):
    """The sibling task's failure."""


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


async def test_sibling_failure_cancels_the_pipeline(
    anyio_backend: str, stream_backend: str
) -> None:
    pipeline = shell("-c", STAGE) | shell("-c", STAGE) | shell("-c", STAGE)
    await (shell("-c", "echo warm-up") | cat()).run()  # what the loop keeps open is open now
    fds = open_fds()
    rec = Recorder()
    grandchildren: list[int] = []
    all_running = anyio.Event()
    outcome: list[str] = []

    def hook(event: ExecEvent) -> None:
        rec(event)
        if event.phase == "stderr" and (event.line or "").startswith("grandchild "):
            grandchildren.append(int((event.line or "").split()[1]))
            if len(grandchildren) == STAGES:
                all_running.set()

    async def run_pipeline() -> None:
        try:
            await pipeline.run(timeout=GUARD)
        except anyio.get_cancelled_exc_class():
            outcome.append("cancelled")
            raise
        outcome.append("returned")

    async def sibling() -> None:
        with anyio.fail_after(GUARD):
            await all_running.wait()
        raise BoomError

    started = time.monotonic()
    with observe(hook), pytest.RaisesGroup(BoomError):
        async with anyio.create_task_group() as tg:
            tg.start_soon(run_pipeline)
            tg.start_soon(sibling)
    assert time.monotonic() - started < 10
    assert outcome == ["cancelled"]
    pids = [e.pid for e in rec.of("start")]
    assert len(pids) == STAGES
    # The stages are reaped before the cancellation propagates...
    assert all(pid is not None and is_dead(pid) for pid in pids)
    # ...and their groups killed: the grandchildren die too (zombies count as dead).
    assert wait_until_dead(grandchildren) == []
    errors = rec.of("error")
    assert sorted(int(str(e.tags["pipeline_stage_index"])) for e in errors) == [0, 1, 2]
    assert {e.error for e in errors} == {"cancelled"}
    assert rec.of("exit") == []
    assert open_fds() == fds


async def test_cancel_scope_around_a_pipeline(anyio_backend: str, stream_backend: str) -> None:
    rec = Recorder()
    with anyio.CancelScope() as scope:

        def hook(event: ExecEvent) -> None:
            rec(event)
            if event.phase == "stdout" and event.line == "ready":
                scope.cancel()

        with observe(hook):
            await (shell("-c", "echo ready; exec sleep 300") | cat()).run(timeout=GUARD)
    assert scope.cancelled_caught
    pids = [e.pid for e in rec.of("start")]
    assert len(pids) == 2
    assert all(pid is not None and is_dead(pid) for pid in pids)


def zombie_children() -> list[int]:
    """Children of this process that exited and were never reaped."""
    me, zombies = os.getpid(), []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] == "Z" and int(fields[1]) == me:
            zombies.append(int(entry))
    return zombies


async def test_no_fd_or_zombie_leaks_on_any_ending(anyio_backend: str, stream_backend: str) -> None:
    await (shell("-c", "echo warm-up") | cat()).run()
    fds = open_fds()
    for _ in range(3):
        assert (await (shell("-c", "echo ok") | cat() | cat()).run()).ok
        assert (
            await (shell("-c", "exit 3") | shell("-c", "exec sleep 30")).run()
        ).failure_index == 0
        assert (await (shell("-c", "yes") | shell("-c", "head -n 1")).run()).ok
        with pytest.raises(TimeoutExpired):
            await (shell("-c", "exec sleep 30") | cat()).run(timeout=0.05)
    assert open_fds() == fds
    assert zombie_children() == []
