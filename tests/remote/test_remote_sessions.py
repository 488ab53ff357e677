"""Sessions per host: at most ``max_sessions`` at once across the process; more wait.

Against a second daemon allowing two sessions per connection (``MaxSessions 2``):
without the limit the third concurrent run is refused by the server.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from typing import Literal

import anyio
import pytest

from cuprum import ExecEvent, InvalidArgumentError, SafeCmd, TimeoutExpired, observe, run_concurrent
from cuprum.remote import FleetConfig, SshHost, run_fleet
from cuprum.remote.master import POOL, key_of
from cuprum.remote.sessions import SESSIONS

from .far_end import Drop, all_gone, drop_dir, record_tokens
from .remote_support import cat, make_host, shell, sleep
from .sshd_daemon import Daemon

pytestmark = pytest.mark.anyio


@pytest.fixture
def two(small_daemon: Daemon) -> Iterator[SshHost]:
    """The small daemon with ``max_sessions=2``, as its server allows."""
    host = dataclasses.replace(make_host(small_daemon, name="two"), max_sessions=2)
    yield host
    assert SESSIONS.in_use(key_of(host)) == 0


class _Peak:
    def __init__(self) -> None:
        self.now = self.peak = 0

    def __call__(self, event: ExecEvent) -> None:
        if event.phase == "start":
            self.now += 1
            self.peak = max(self.peak, self.now)
        elif event.phase in ("exit", "error"):
            self.now -= 1


def _timed(drop: Drop, seconds: str = "0.2") -> SafeCmd:
    """A remote program that records when it ran, under its run token."""
    where = f"{drop.path}/$CUPRUM_RUN"
    return shell("-c", f"date +%s%N > {where}.a; sleep {seconds}; date +%s%N > {where}.b")


def _most_at_once(drop: Drop) -> int:
    """The most remote programs that ran at the same time, from what they recorded."""
    edges = []
    for start in drop.path.glob("*.a"):
        edges.append((int(start.read_text()), 1))
        edges.append((int(start.with_suffix(".b").read_text()), -1))
    now = most = 0
    for _, step in sorted(edges, key=lambda edge: (edge[0], edge[1])):
        now += step
        most = max(most, now)
    return most


async def test_runs_beyond_max_sessions_wait_their_turn(two: SshHost) -> None:
    peak = _Peak()
    with drop_dir() as drop, observe(peak):
        result = await run_concurrent(*(two(_timed(drop)) for _ in range(6)))
        assert result.ok and peak.peak == 2
        assert _most_at_once(drop) == 2


async def test_without_the_limit_more_sessions_run_at_once(small_daemon: Daemon) -> None:
    """What the limit prevents: the server refuses the third session, and ssh quietly
    makes a full connection of its own for it instead."""
    loose = make_host(small_daemon, name="loose")  # max_sessions=10 > the server's 2
    with drop_dir() as drop:
        result = await run_concurrent(*(loose(_timed(drop, "2")) for _ in range(4)))
        assert result.ok and _most_at_once(drop) > 2
    POOL.close_blocking(loose)


async def test_a_fleet_per_host_is_clamped_to_max_sessions(two: SshHost) -> None:
    peak = _Peak()
    with observe(peak):
        fleet = await run_fleet(
            *(two.cmd(shell("-c", "sleep 0.1")) for _ in range(5)),
            config=FleetConfig(per_host=5),
        )
    assert fleet.ok and peak.peak == 2


async def test_a_waiting_run_can_be_cancelled_and_gives_nothing_back_twice(two: SshHost) -> None:
    async with anyio.create_task_group() as tg:
        for _ in range(2):
            tg.start_soon(two(sleep("30")).run)
        key = key_of(two)
        while SESSIONS.in_use(key) < 2:
            await anyio.sleep(0.01)
        with anyio.move_on_after(0.3) as waiting:
            await two(sleep("30")).run()
        assert waiting.cancelled_caught
        tg.cancel_scope.cancel()
    assert SESSIONS.in_use(key) == 0
    result = await run_concurrent(two(shell("-c", "exit 0")), two(shell("-c", "exit 0")))
    assert result.ok


async def test_waiting_for_a_session_counts_against_the_timeout(
    two: SshHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = record_tokens(monkeypatch)
    async with anyio.create_task_group() as tg:
        for _ in range(2):
            tg.start_soon(two(sleep("30")).run)
        while SESSIONS.in_use(key_of(two)) < 2:
            await anyio.sleep(0.01)
        with pytest.raises(TimeoutExpired):
            await two(sleep("30")).run(timeout=0.3)
        tg.cancel_scope.cancel()
    assert all_gone(tokens) == []


async def test_teardown_at_the_limit_still_stops_every_far_end(
    two: SshHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both sessions in use: the kill cannot have a third over the master, so it
    connects on its own."""
    tokens = record_tokens(monkeypatch)
    failures: list[BaseException] = []

    async def expire() -> None:
        try:
            await two(shell("-c", "sleep 300 & wait")).run(timeout=1)
        except TimeoutExpired as exc:
            failures.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(expire)
        tg.start_soon(expire)
    assert len(failures) == 2
    assert tokens and all_gone(tokens) == []


async def test_a_pipeline_needing_more_sessions_than_allowed_is_refused(two: SshHost) -> None:
    with pytest.raises(InvalidArgumentError, match="needs 3 sessions"):
        await two(cat() | cat() | cat()).run(stdin=b"x")


def test_the_limit_holds_across_threads_and_event_loops(two: SshHost) -> None:
    codes: list[int] = []
    with drop_dir() as drop:

        def worker(backend: Literal["asyncio", "trio"]) -> None:
            for _ in range(3):
                codes.append(two(_timed(drop)).run_sync(backend=backend).exit_code)

        backends: list[Literal["asyncio", "trio"]] = ["asyncio", "trio", "asyncio", "trio"]
        threads = [threading.Thread(target=worker, args=(b,)) for b in backends]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert codes == [0] * 12
        assert _most_at_once(drop) == 2
