"""When cuprum stops a remote stage because something else failed, its far end stops too.

Fail-fast in a pipeline, ``run_concurrent`` and ``run_fleet``, and Ctrl+C: each
remote program records its run token, and the test checks on the loopback host
that no process carrying it survives (SIGTERM, the grace, then SIGKILL).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import anyio
import pytest

from cuprum import ConcurrentConfig, ExecutionContext, run_concurrent
from cuprum.remote import FleetConfig, SshHost, run_fleet

from .far_end import all_gone, drop_dir, record_tokens, survivors
from .remote_support import false, make_host, shell, sleep
from .sshd_daemon import Daemon

pytestmark = pytest.mark.anyio


async def test_a_failing_local_stage_stops_the_remote_stage(
    host: SshHost, stream_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``false`` fails at once, maybe before the remote program has started."""
    tokens = record_tokens(monkeypatch)
    result = await (host(sleep("300")) | false()).run()
    assert result.failure is not None and result.failure.exit_code == 1
    assert result.stages[0].exit_code != 0
    assert tokens and all_gone(tokens) == []


async def test_a_failing_local_stage_stops_a_started_remote_tree(
    host: SshHost, stream_backend: str
) -> None:
    """The remote stage is running (its tree recorded) before the local one fails."""
    with drop_dir() as drop:
        wait_for_it = shell("-c", f"while [ ! -e {drop.path}/far ]; do sleep 0.01; done; exit 3")
        result = await (host(shell("-c", drop.script("far"))) | wait_for_it).run()
        assert result.stages[-1].exit_code == 3
        token = await drop.token("far")
        assert survivors(token) == []


async def test_a_failing_remote_stage_stops_the_other_remote_stage(
    host: SshHost, stream_backend: str
) -> None:
    with drop_dir() as drop:
        first = host(shell("-c", drop.script("far")))
        second = host(shell("-c", f"while [ ! -e {drop.path}/far ]; do sleep 0.01; done; exit 4"))
        result = await (first | second).run()
        assert result.stages[-1].exit_code == 4
        assert survivors(await drop.token("far")) == []


async def test_run_concurrent_fail_fast_stops_the_remote_others(host: SshHost) -> None:
    with drop_dir() as drop:
        waits = [host(shell("-c", drop.script(f"far{i}"))) for i in range(3)]
        failing = shell("-c", f"while [ ! -e {drop.path}/far2 ]; do sleep 0.01; done; exit 5")
        config = ConcurrentConfig(fail_fast=True)
        result = await run_concurrent(*waits, host(failing), config=config)
        assert result.results[-1].exit_code == 5
        for i in range(3):
            if (drop.path / f"far{i}").exists():
                assert survivors(await drop.token(f"far{i}")) == []


async def test_fleet_fail_fast_stops_every_other_host(daemon: Daemon) -> None:
    hosts = [make_host(daemon, name=f"ff{i}") for i in range(3)]
    with drop_dir() as drop:
        commands = [h.cmd(shell("-c", drop.script(h.label))) for h in hosts]
        ready = " && ".join(f"[ -e {drop.path}/{h.label} ]" for h in hosts)
        gate = f"until {ready}; do sleep 0.01; done; exit 6"
        commands.append(hosts[0].cmd(shell("-c", gate)))
        config = FleetConfig(concurrency=4, per_host=2, fail_fast=True)
        result = await run_fleet(*commands, config=config)
        assert result.results[-1].exit_code == 6
        assert {r.outcome for r in result.results[:3]} == {"cancelled"}
        for h in hosts:
            assert survivors(await drop.token(h.label)) == []


async def test_a_term_ignoring_remote_stage_is_killed_after_the_grace(host: SshHost) -> None:
    with drop_dir() as drop:
        stubborn = host(shell("-c", drop.script("far", "trap '' TERM; sleep 300 & wait; wait")))
        ctx = ExecutionContext(cancel_grace=0.2)
        gate = shell("-c", f"while [ ! -e {drop.path}/far ]; do sleep 0.01; done; exit 1")
        await (stubborn | gate).run(context=ctx)
        assert survivors(await drop.token("far")) == []


CTRL_C = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    from cuprum.remote import SshHost
    from remote.remote_support import shell
    host = SshHost("127.0.0.1", port={port}, user={user!r}, identity_file={identity!r},
                   known_hosts={known!r})
    host(shell("-c", {script!r})).run_sync(backend={backend!r})
    """
)


def test_ctrl_c_stops_the_remote_program(daemon: Daemon, anyio_backend: str) -> None:
    with drop_dir() as drop:
        code = CTRL_C.format(
            tests=str(Path(__file__).resolve().parent.parent),
            port=daemon.port,
            user=daemon.user,
            identity=str(daemon.identity),
            known=str(daemon.known_hosts),
            script=drop.script("far"),
            backend=anyio_backend,
        )
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        proc = subprocess.Popen([sys.executable, "-c", code], env=env, stderr=subprocess.PIPE)
        try:
            token = anyio.run(drop.token, "far")
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert b"KeyboardInterrupt" in err
        assert survivors(token) == []


def test_survivors_sees_a_live_token(host: SshHost) -> None:
    """The check itself: a run left alone is seen until it ends."""
    with drop_dir() as drop:

        async def main() -> list[int]:
            async with anyio.create_task_group() as tg:
                tg.start_soon(host(shell("-c", drop.script("far", "sleep 2"))).run)
                token = await drop.token("far")
                seen = survivors(token, timeout=0)
                tg.cancel_scope.cancel()
            return seen

        assert anyio.run(main) != []
