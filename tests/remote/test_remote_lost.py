"""A lost connection is a RemoteError naming the host, never ssh's 255 as an exit code,
and the remote program is stopped through a fresh connection.

Each loss is real: the master is killed, the local ssh is killed, or the daemon's
process serving the connection is killed. A remote ``exit 255`` stays an exit code.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import anyio
import pytest

from cuprum import ExecEvent, observe
from cuprum.remote import FleetConfig, RemoteConnectError, SshHost, run_fleet
from cuprum.remote.master import POOL
from cuprum.remote.options import control_argv

from .far_end import Drop, all_gone, drop_dir, record_tokens, survivors
from .remote_support import cat, make_host, shell
from .sshd_daemon import Daemon, start_sshd

pytestmark = pytest.mark.anyio


def _master_pid(host: SshHost) -> int:
    probe = subprocess.run(
        control_argv(host, POOL.control_path(host), "check"),
        capture_output=True,
        text=True,
        check=False,
    )
    return int(probe.stderr.split("pid=")[1].split(")")[0])


def _ppid(pid: int) -> int:
    with open(f"/proc/{pid}/stat", "rb") as f:
        return int(f.read().rsplit(b")", 1)[1].split()[1])


def _kill_master(host: SshHost, drop: Drop) -> None:
    os.kill(_master_pid(host), signal.SIGKILL)


def _kill_session(host: SshHost, drop: Drop) -> None:
    """The daemon's process for the connection: the parent of the remote wrapper."""
    wrapper = _ppid(drop.pid("far"))
    os.kill(_ppid(wrapper), signal.SIGKILL)


Loss = Callable[[SshHost, Drop], None]
LOSSES: dict[str, Loss] = {"master": _kill_master, "session": _kill_session}


@pytest.fixture
def fresh(daemon: Daemon, request: pytest.FixtureRequest) -> Iterator[SshHost]:
    """A host of its own (its own master), connected, labelled after the test."""
    host = make_host(daemon, name=f"lost-{abs(hash(request.node.name)) % 10**8}")
    yield host
    POOL.close_blocking(host)


async def _lose_while_running(
    host: SshHost, drop: Drop, lose: Loss, run: Callable[[], Awaitable[object]]
) -> None:
    """``await run()``; once the remote program runs, ``lose`` its connection."""
    failure: list[BaseException] = []

    async def running() -> None:
        try:
            await run()
        except Exception as exc:
            failure.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(running)
        await drop.token("far")
        lose(host, drop)
    if failure:
        raise failure[0]


@pytest.mark.parametrize("loss", sorted(LOSSES))
async def test_a_lost_connection_raises_and_the_remote_program_is_stopped(
    fresh: SshHost, loss: str
) -> None:
    events: list[ExecEvent] = []
    with drop_dir() as drop, observe(events.append):
        cmd = fresh(shell("-c", drop.script("far")))
        with pytest.raises(RemoteConnectError, match=rf"^{fresh.label}: the connection was lost"):
            await _lose_while_running(fresh, drop, LOSSES[loss], cmd.run)
        assert survivors(await drop.token("far")) == []
        assert (await fresh(shell("-c", "exit 7")).run()).exit_code == 7  # a new master
    assert [ev.error for ev in events if ev.phase == "error"] == ["remote_failed"]


async def test_a_killed_ssh_client_raises_and_the_remote_program_is_stopped(
    fresh: SshHost,
) -> None:
    pids: list[int] = []

    def started(event: ExecEvent) -> None:
        if event.phase == "start" and event.pid is not None:
            pids.append(event.pid)

    def kill_client(host: SshHost, drop: Drop) -> None:
        os.kill(pids[0], signal.SIGKILL)

    with drop_dir() as drop, observe(started):
        cmd = fresh(shell("-c", drop.script("far")))
        with pytest.raises(RemoteConnectError, match="killed by signal 9"):
            await _lose_while_running(fresh, drop, kill_client, cmd.run)
        assert survivors(await drop.token("far")) == []


@pytest.mark.parametrize("loss", sorted(LOSSES))
async def test_a_lost_pipeline_stage_raises(fresh: SshHost, loss: str, stream_backend: str) -> None:
    with drop_dir() as drop:
        pipeline = fresh(shell("-c", drop.script("far"))) | cat()
        with pytest.raises(RemoteConnectError, match=fresh.label):
            await _lose_while_running(fresh, drop, LOSSES[loss], pipeline.run)
        assert survivors(await drop.token("far")) == []


async def test_a_lost_fleet_command_raises_once_the_other_hosts_are_done(
    fresh: SshHost, daemon: Daemon
) -> None:
    other = make_host(daemon, name=f"{fresh.label}-other")
    with drop_dir() as drop:
        done = drop.path / "done"
        rest = f"while [ ! -e {drop.path}/far ]; do sleep 0.01; done; sleep 1; touch {done}"
        commands = [fresh.cmd(shell("-c", drop.script("far"))), other.cmd(shell("-c", rest))]

        async def fleet() -> None:
            await run_fleet(*commands, config=FleetConfig(concurrency=2))

        with pytest.raises(RemoteConnectError, match=fresh.label):
            await _lose_while_running(fresh, drop, _kill_master, fleet)
        assert done.exists()  # not cancelled: without fail_fast the other host went on
        assert survivors(await drop.token("far")) == []


async def test_remote_exit_255_stays_an_exit_code_everywhere(
    host: SshHost, daemon: Daemon, stream_backend: str
) -> None:
    code = shell("-c", "echo oops >&2; exit 255")
    single = await host(code).run()
    assert (single.exit_code, single.stderr) == (255, "oops\n")
    piped = await (host(code) | cat()).run()
    assert piped.stages[0].exit_code == 255
    fleet = await run_fleet(host.cmd(code), make_host(daemon, name="e255").cmd(code))
    assert [r.exit_code for r in fleet.results] == [255, 255]


async def test_a_remote_signal_death_is_an_exit_status(host: SshHost) -> None:
    """Killed by a signal remotely: the shell's 128+N, not a lost connection."""
    result = await host(shell("-c", "kill -9 $$")).run()
    assert result.exit_code == 128 + 9


async def test_when_the_host_cannot_be_reached_again_the_error_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = record_tokens(monkeypatch)
    with start_sshd(tmp_path / "sshd") as own, drop_dir() as drop:
        host = make_host(own, name="unreachable")

        def lose_for_good(host: SshHost, drop: Drop) -> None:
            own.process.kill()  # no new connections from now on
            own.process.wait()
            _kill_session(host, drop)

        cmd = host(shell("-c", drop.script("far")))
        try:
            with pytest.raises(RemoteConnectError, match="could not reach the host again") as info:
                await _lose_while_running(host, drop, lose_for_good, cmd.run)
            token = await drop.token("far")
            assert f"CUPRUM_RUN={token}" in str(info.value)
            assert survivors(token, timeout=0) != []  # as the message says: still running
        finally:
            for pid in (pid for token in tokens for pid in survivors(token, timeout=0)):
                os.kill(pid, signal.SIGKILL)
            assert all_gone(tokens) == []
