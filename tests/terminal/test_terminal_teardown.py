"""Teardown of a terminal run: hang-up first, then SIGTERM, grace, SIGKILL; nothing outlives it."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from cuprum import ExecutionContext, TimeoutExpired

from .terminal_support import (
    DEADLINE,
    STUBBORN,
    assert_dead,
    group_members,
    open_fds,
    our_threads,
    py,
    wait_until,
    zombie_children,
)

pytestmark = pytest.mark.anyio

FAST = ExecutionContext(cancel_grace=0.2)

RECORD_SIGNALS = """
import signal, sys
wanted = {signal.SIGHUP, signal.SIGTERM}
signal.pthread_sigmask(signal.SIG_BLOCK, wanted)
print("ready", flush=True)
with open(sys.argv[1], "a") as log:
    while True:
        info = signal.sigwaitinfo(wanted)
        log.write(signal.Signals(info.si_signo).name + "\\n")
        log.flush()
"""
"""Takes SIGHUP and SIGTERM one at a time, in the order they came (when both are
pending the kernel hands over the lower, SIGHUP), logging each to ``argv[1]``."""


def _pids(line: str) -> tuple[int, int]:
    _, child, grandchild = line.split()
    return int(child), int(grandchild)


async def test_leaving_the_block_ends_a_child_that_ignores_hup_and_term(
    anyio_backend: str,
) -> None:
    fds, threads = open_fds(), our_threads()
    async with py(STUBBORN).stream(tty=True, context=FAST) as handle:
        found = await handle.expect("\n", timeout=DEADLINE)
        child, grandchild = _pids(found.before)
    await assert_dead(child, grandchild)
    assert group_members([child]) == []
    assert open_fds() == fds
    assert our_threads() == threads
    assert zombie_children() == []


async def test_a_timeout_ends_a_stubborn_child(anyio_backend: str) -> None:
    fds = open_fds()
    async with py(STUBBORN).stream(tty=True, context=FAST, timeout=DEADLINE) as handle:
        found = await handle.expect("\n", timeout=DEADLINE)
        child, grandchild = _pids(found.before)
    await assert_dead(child, grandchild)
    with pytest.raises(TimeoutExpired):
        await py(STUBBORN).run(tty=True, context=FAST, timeout=0.5)
    assert open_fds() == fds
    assert zombie_children() == []


async def test_a_cancelled_scope_ends_the_session(anyio_backend: str) -> None:
    fds = open_fds()
    pids: list[int] = []
    with anyio.CancelScope() as scope:
        async with py(STUBBORN).stream(tty=True, context=FAST) as handle:
            found = await handle.expect("\n", timeout=DEADLINE)
            pids.extend(_pids(found.before))
            scope.cancel()
            await handle.wait()
    assert scope.cancelled_caught
    await assert_dead(*pids)
    assert open_fds() == fds


async def test_the_session_gets_sighup_before_sigterm(anyio_backend: str, tmp_path: Path) -> None:
    log = tmp_path / "signals"
    async with py(RECORD_SIGNALS, str(log)).stream(tty=True, context=FAST) as handle:
        # the whole line: a write still under way when the terminal hangs up fails (EIO)
        await handle.expect("ready\n", timeout=DEADLINE)
        (pid,) = handle.pids
    await assert_dead(pid)
    await wait_until(lambda: log.exists() and log.read_text().count("\n") >= 2, "the signal log")
    assert log.read_text().splitlines()[:2] == ["SIGHUP", "SIGTERM"]


async def test_a_program_ending_on_hangup_needs_no_sigterm(
    anyio_backend: str, tmp_path: Path
) -> None:
    # Python's default SIGHUP action ends it: closing the terminal is enough.
    async with py("import time; print('up', flush=True); time.sleep(300)").stream(
        tty=True, context=ExecutionContext(cancel_grace=DEADLINE)
    ) as handle:
        await handle.expect("up", timeout=DEADLINE)
        (pid,) = handle.pids
    await assert_dead(pid)
