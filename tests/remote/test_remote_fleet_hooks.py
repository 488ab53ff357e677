"""Hooks of several fleet commands raising together: ``run_fleet`` raises the first
hook's exception, as itself (it raised an ``ExceptionGroup`` of them), on asyncio and
trio, as ``run_concurrent`` does (tests/concurrent/test_concurrent_hooks_together.py).

Each command prints its line once every one has started (its ``start`` event). The
hook of the first line to arrive holds the loop until each has printed (on its host),
then raises. The others' lines reach us
through their own ssh, so their readers may not all be ready yet when the loop goes
on: a run counts when every hook raised, and each run is checked in full.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from cuprum import ExecEvent, observe
from cuprum.remote import FleetConfig, RemoteCmd, run_fleet

from .far_end import drop_dir
from .remote_support import make_host, shell
from .sshd_daemon import Daemon

pytestmark = pytest.mark.anyio

DEADLINE = 10.0
COMMANDS = 3
ATTEMPTS = 5


class HookError(Exception):
    """What the hooks raise."""


def _waits_for(go: Path, written: Path) -> str:
    """sh: once ``go`` exists, a line; then say so, and wait."""
    loop = "do n=$((n+1)); [ $n -gt 2000 ] && exit 99; sleep 0.005; done"
    return (
        f"n=0; until [ -e {str(go)!r} ]; {loop}; echo line; touch {str(written)!r}; exec sleep 300"
    )


class Together:
    def __init__(self, tmp: Path) -> None:
        self.go = tmp / "go"
        self.written = [tmp / f"written{i}" for i in range(COMMANDS)]
        self.raised: list[HookError] = []
        self.events: list[ExecEvent] = []

    def commands(self, daemon: Daemon) -> list[RemoteCmd]:
        return [
            make_host(daemon, name=f"hooks{i}").cmd(shell("-c", _waits_for(self.go, written)))
            for i, written in enumerate(self.written)
        ]

    def __call__(self, event: ExecEvent) -> None:
        self.events.append(event)
        if sum(e.phase == "start" for e in self.events) == COMMANDS:
            self.go.touch()
        if event.phase != "stdout":
            return
        if not self.raised:
            end = time.monotonic() + DEADLINE
            while not all(p.exists() for p in self.written):
                assert time.monotonic() < end, "gave up waiting for every line"
                time.sleep(0.001)
        error = HookError(f"refused line {len(self.raised)}")
        self.raised.append(error)
        raise error


def _attempts(tmp: Path) -> Iterator[Together]:
    for attempt in range(ATTEMPTS):
        folder = tmp / str(attempt)
        folder.mkdir()
        folder.chmod(0o777)
        hooks = Together(folder)
        yield hooks
        if len(hooks.raised) == COMMANDS:
            return
    raise AssertionError(f"the hooks never all raised together in {ATTEMPTS} runs")


@pytest.mark.parametrize("fail_fast", [False, True], ids=["collect", "fail_fast"])
async def test_hooks_of_several_fleet_commands_failing_together_give_the_first_error(
    daemon: Daemon, fail_fast: bool
) -> None:
    with drop_dir() as drop:  # (the test users can write there)
        await _run_attempts(daemon, drop.path, fail_fast=fail_fast)


async def _run_attempts(daemon: Daemon, tmp: Path, *, fail_fast: bool) -> None:
    for hooks in _attempts(tmp):
        config = FleetConfig(fail_fast=fail_fast, timeout=4 * DEADLINE)
        with observe(hooks), pytest.raises(HookError) as info:
            with anyio.fail_after(2 * DEADLINE):
                await run_fleet(*hooks.commands(daemon), config=config)
        assert info.value is hooks.raised[0]
        terminal = [e for e in hooks.events if e.is_terminal]
        assert len(terminal) == COMMANDS
        assert {e.phase for e in terminal} == {"error"}
