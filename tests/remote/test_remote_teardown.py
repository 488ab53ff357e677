"""A timeout or cancellation stops every remote process of the run, not only the local ssh.

The daemon is on loopback, so the remote pids are pids of this machine: each test
records them from the remote side and checks, with a deadline, that none survives.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from processes import wait_until_dead

from cuprum import TimeoutExpired
from cuprum.remote import SshHost

from .remote_support import shell

pytestmark = pytest.mark.anyio

NAMES = ("leader", "child", "escaped")


@pytest.fixture
def drop() -> Iterator[Path]:
    """A directory the remote test user can write its pids to."""
    path = Path(tempfile.mkdtemp(prefix="cuprum-remote-"))
    os.chmod(path, 0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _tree(drop: Path) -> list[str]:
    """A leader, a child in its group, and one that left the group with setsid."""
    script = (
        f"echo $$ > {drop}/leader.tmp; mv {drop}/leader.tmp {drop}/leader; "
        f"sleep 300 & echo $! > {drop}/child.tmp; mv {drop}/child.tmp {drop}/child; "
        f"setsid sleep 300 & echo $! > {drop}/escaped.tmp; mv {drop}/escaped.tmp {drop}/escaped; "
        "wait"
    )
    return ["-c", script]


async def _pids(drop: Path) -> list[int]:
    deadline = time.monotonic() + 20
    while not all((drop / name).exists() for name in NAMES):
        assert time.monotonic() < deadline, "the remote tree did not start"
        await anyio.sleep(0.01)
    return [int((drop / name).read_text()) for name in NAMES]


async def test_cancellation_stops_the_whole_remote_tree(host: SshHost, drop: Path) -> None:
    async with anyio.create_task_group() as tg:
        tg.start_soon(host(shell(*_tree(drop))).run)
        pids = await _pids(drop)
        tg.cancel_scope.cancel()
    assert wait_until_dead(pids) == []


async def test_timeout_stops_the_whole_remote_tree(host: SshHost, drop: Path) -> None:
    with pytest.raises(TimeoutExpired):
        await host(shell(*_tree(drop))).run(timeout=3)
    pids = await _pids(drop)
    assert wait_until_dead(pids) == []


async def test_leaving_a_stream_early_stops_the_remote_tree(host: SshHost, drop: Path) -> None:
    async with host(shell(*_tree(drop))).stream():
        pids = await _pids(drop)
    assert wait_until_dead(pids) == []


async def test_a_term_ignoring_program_is_killed_after_the_grace(host: SshHost, drop: Path) -> None:
    from cuprum import ExecutionContext

    script = f"trap '' TERM; echo $$ > {drop}/t; mv {drop}/t {drop}/leader; sleep 300 & wait; wait"
    ctx = ExecutionContext(cancel_grace=0.2)
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: host(shell("-c", script)).run(context=ctx))
        deadline = time.monotonic() + 20
        while not (drop / "leader").exists():
            assert time.monotonic() < deadline
            await anyio.sleep(0.01)
        tg.cancel_scope.cancel()
    assert wait_until_dead([int((drop / "leader").read_text())]) == []
