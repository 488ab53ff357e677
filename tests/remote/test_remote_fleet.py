"""Fleets: many hosts, a global and a per-host limit, fail-fast across hosts, ordered results."""

from __future__ import annotations

from collections import defaultdict

import pytest

from cuprum import ExecEvent, InvalidArgumentError, TimeoutExpired, observe, run_concurrent
from cuprum.remote import FleetConfig, RemoteCmd, SshHost, run_fleet

from .remote_support import echo, false, make_host, sleep
from .sshd_daemon import Daemon

pytestmark = pytest.mark.anyio


def _hosts(daemon: Daemon, count: int) -> list[SshHost]:
    return [make_host(daemon, name=f"alias{i}") for i in range(count)]


class _Peak:
    """The most commands running at once, overall and per host, seen from events."""

    def __init__(self) -> None:
        self.running: dict[str, int] = defaultdict(int)
        self.peak: dict[str, int] = defaultdict(int)
        self.total = self.total_peak = 0

    def __call__(self, event: ExecEvent) -> None:
        host = str(event.tags.get("host"))
        if event.phase == "start":
            self.running[host] += 1
            self.total += 1
            self.peak[host] = max(self.peak[host], self.running[host])
            self.total_peak = max(self.total_peak, self.total)
        elif event.phase in ("exit", "error"):
            self.running[host] -= 1
            self.total -= 1


async def test_results_per_host_in_submission_order_under_both_limits(daemon: Daemon) -> None:
    hosts = _hosts(daemon, 5)
    commands = [hosts[i % 5].cmd(echo(str(i))) for i in range(30)]
    peak = _Peak()
    with observe(peak):
        result = await run_fleet(*commands, config=FleetConfig(concurrency=4, per_host=2))
    assert result.ok
    assert [r.stdout for r in result.results] == [f"{i}\n" for i in range(30)]
    grouped = result.by_host()
    assert list(grouped) == [h.label for h in hosts]
    assert [r.stdout for r in grouped["alias1"]] == [f"{i}\n" for i in range(1, 30, 5)]
    assert peak.total_peak <= 4
    assert max(peak.peak.values()) <= 2


async def test_fail_fast_across_hosts(daemon: Daemon) -> None:
    hosts = _hosts(daemon, 3)
    commands: list[RemoteCmd] = [hosts[0].cmd(false())]
    commands += [h.cmd(sleep("300")) for h in hosts[1:]]
    commands += [hosts[1].cmd(echo("late")) for _ in range(3)]
    config = FleetConfig(concurrency=3, per_host=1, fail_fast=True)
    result = await run_fleet(*commands, config=config)
    assert result.results[0].exit_code == 1
    assert {r.outcome for r in result.results[1:3]} == {"cancelled"}
    assert {r.outcome for r in result.results[3:]} <= {"cancelled", "not_started"}


async def test_a_timeout_is_that_commands_failure(daemon: Daemon) -> None:
    hosts = _hosts(daemon, 2)
    commands = [hosts[0].cmd(sleep("300")), hosts[1].cmd(echo("fine"))]
    result = await run_fleet(*commands, config=FleetConfig(timeout=3))
    assert [r.outcome for r in result.results] == ["timed_out", "exited"]
    assert result.results[1].stdout == "fine\n"
    assert not result.ok
    assert list(result.timeouts) == [0]
    assert isinstance(result.timeouts[0], TimeoutExpired)


async def test_run_concurrent_takes_remote_commands(daemon: Daemon) -> None:
    hosts = _hosts(daemon, 3)
    result = await run_concurrent(*(h.cmd(echo(h.label)) for h in hosts))
    assert [r.stdout for r in result.results] == [f"{h.label}\n" for h in hosts]


async def test_run_fleet_refuses_local_commands() -> None:
    with pytest.raises(InvalidArgumentError, match="RemoteCmd"):
        await run_fleet(echo("x"))  # type: ignore[arg-type]
