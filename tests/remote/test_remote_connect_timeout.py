"""Opening the master is bounded by the run's own timeout too, not only connect_timeout.

The host is a socket that accepts connections and never speaks: ssh waits for a
banner that never comes, so only a timeout ends the attempt.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator

import anyio
import pytest
from processes import is_dead

from cuprum import ExecEvent, TimeoutExpired, observe
from cuprum.remote import RemoteTimeoutError, SshHost

from .remote_support import echo
from .sshd_daemon import Daemon

pytestmark = pytest.mark.anyio


@pytest.fixture
def silent_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield int(s.getsockname()[1])


def _host(daemon: Daemon, port: int, connect_timeout: float) -> SshHost:
    return SshHost(
        "127.0.0.1",
        port=port,
        known_hosts=daemon.known_hosts,
        connect_timeout=connect_timeout,
        name=f"silent-{connect_timeout:g}",
    )


async def test_the_run_timeout_bounds_the_connection(daemon: Daemon, silent_port: int) -> None:
    events: list[ExecEvent] = []
    host = _host(daemon, silent_port, connect_timeout=120)
    with observe(events.append), pytest.raises(TimeoutExpired) as info:
        await host(echo("x")).run(timeout=0.5)
    assert info.value.timeout == 0.5
    assert [(e.phase, e.error) for e in events] == [("plan", None), ("error", "timeout")]


async def test_connect_timeout_bounds_it_when_shorter(daemon: Daemon, silent_port: int) -> None:
    host = _host(daemon, silent_port, connect_timeout=1)
    with pytest.raises(RemoteTimeoutError, match="silent-1"):
        await host(echo("x")).run(timeout=60)


async def test_the_connection_time_counts_against_the_run_timeout(host: SshHost) -> None:
    """A cold host and a generous timeout: the run still completes."""
    await host.disconnect()
    assert (await host(echo("x")).run(timeout=30)).stdout == "x\n"


def _connecting_ssh(port: int) -> list[int]:
    """Live ``ssh`` processes of this test run dialling ``port``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        dialling = b"ControlMaster=yes" in argv and str(port).encode() in argv
        if argv[0].endswith(b"ssh") and dialling and not is_dead(int(entry)):
            found.append(int(entry))
    return found


async def test_a_run_cancelled_while_connecting_kills_the_connecting_ssh(
    daemon: Daemon, silent_port: int
) -> None:
    host = _host(daemon, silent_port, connect_timeout=120)
    started = anyio.Event()
    with anyio.CancelScope() as scope:

        async def cancel_once_dialling() -> None:
            deadline = anyio.current_time() + 10
            while not _connecting_ssh(silent_port) and anyio.current_time() < deadline:
                await anyio.sleep(0.01)
            started.set()
            scope.cancel()

        async with anyio.create_task_group() as tg:
            tg.start_soon(cancel_once_dialling)
            await host(echo("x")).run()
    assert started.is_set() and scope.cancelled_caught
    deadline = time.monotonic() + 10
    while _connecting_ssh(silent_port) and time.monotonic() < deadline:
        await anyio.sleep(0.01)
    assert _connecting_ssh(silent_port) == []
