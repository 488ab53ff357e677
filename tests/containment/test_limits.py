"""Limits: a fork bomb held by the run's process limit, a memory hog, and naming the limit hit."""

from __future__ import annotations

import os
import signal
import time

import pytest

from cuprum._core.errors import InvalidArgumentError
from cuprum._runtime import reap
from cuprum._runtime.cgroup import CgroupHost
from cuprum._runtime.cgroup_limits import (
    CgroupEvents,
    CgroupLimits,
    apply_limits,
    read_events,
)
from cuprum._runtime.limits import ResourceLimits, which_limit
from cuprum._runtime.reap import ResourceUsage

from .containment_support import PY, require, spawn_into

pytestmark = pytest.mark.anyio

FORK_BOMB = (
    'b() { if [ "$1" -gt 0 ]; then b $(($1 - 1)) & b $(($1 - 1)) & wait; else sleep 30; fi; }; b 7'
)


WAIT_FOR_RLIMIT = (
    "import resource, time\n"
    "deadline = time.monotonic() + 10\n"
    "while resource.getrlimit(resource.RLIMIT_AS)[0] == resource.RLIM_INFINITY:\n"
    "    assert time.monotonic() < deadline\n"
    "    time.sleep(0.001)\n"
)


@pytest.mark.parametrize("value", [-1, 1.5, "3", True])
def test_limits_must_be_non_negative_ints(value: object) -> None:
    with pytest.raises(InvalidArgumentError, match="open_files"):
        ResourceLimits(open_files=value)  # type: ignore[arg-type]


def test_rlimits_are_listed_with_a_grace_second_for_cpu() -> None:
    import resource

    limits = ResourceLimits(cpu_seconds=2, open_files=64)
    assert limits.rlimits() == [
        (resource.RLIMIT_CPU, 2, 3),
        (resource.RLIMIT_NOFILE, 64, 64),
    ]


def _wait_for(condition: object, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False


def _pids_current(run_path: str, linked: list[str]) -> int:
    for directory in [run_path, *linked]:
        try:
            with open(os.path.join(directory, "pids.current"), encoding="ascii") as f:
                return int(f.read())
        except OSError:
            continue
    raise AssertionError("no pids.current for the run")


async def test_a_fork_bomb_is_held_by_the_process_limit(host: CgroupHost, how: str) -> None:
    run = host.new_run()
    report = apply_limits(run, CgroupLimits(pids_max=16))
    require(report.unavailable.get("pids_max"))
    leader = spawn_into(how, run, ["/bin/sh", "-c", FORK_BOMB])
    try:
        assert _wait_for(lambda: (read_events(run).pids_max_hits or 0) > 0)
        assert _pids_current(run.path, run.linked) <= 16
        assert len(run.procs()) <= 16
    finally:
        run.kill()
        events = read_events(run)
        assert await run.destroy()
    reaped = reap.reap(leader)
    assert reaped is not None
    # The leader may have ended on its own (dash gives up when a fork fails) or by the kill.
    limit = which_limit(reaped.returncode, cgroup_limits=CgroupLimits(pids_max=16), events=events)
    assert limit == (None if reaped.returncode == 0 else "pids_max")
    assert which_limit(-signal.SIGKILL, cgroup_limits=CgroupLimits(pids_max=16), events=events)


async def test_a_limit_of_one_process_lets_the_program_start_but_not_fork(
    host: CgroupHost, how: str
) -> None:
    run = host.new_run()
    report = apply_limits(run, CgroupLimits(pids_max=1))
    require(report.unavailable.get("pids_max"))
    alone = reap.reap(spawn_into(how, run, ["true"]))
    forking = reap.reap(spawn_into(how, run, ["/bin/sh", "-c", "true & wait"]))
    assert alone is not None and alone.returncode == 0
    assert forking is not None and forking.returncode != 0
    assert _pids_max_of(run.path, run.linked) == 1  # the visit left the limit as it was
    assert await run.destroy()


def _pids_max_of(run_path: str, linked: list[str]) -> int:
    for directory in [run_path, *linked]:
        try:
            with open(os.path.join(directory, "pids.max"), encoding="ascii") as f:
                return int(f.read())
        except (OSError, ValueError):
            continue
    raise AssertionError("no numeric pids.max for the run")


async def test_a_memory_limit_stops_a_hog(host: CgroupHost, how: str) -> None:
    """The run's memory.max with the v2 memory controller, else the address-space rlimit."""
    run = host.new_run()
    report = apply_limits(run, CgroupLimits(memory_max=128 << 20))
    has_controller = os.path.exists(os.path.join(run.path, "memory.max"))
    assert ("memory_max" in report.applied) == has_controller
    assert ("memory_max" in report.unavailable) == (not has_controller)
    limits = None if has_controller else ResourceLimits(address_space=512 << 20)
    # The pure install sets rlimits just after the spawn: the hog waits until it sees them.
    wait = "" if limits is None else WAIT_FOR_RLIMIT
    hog = wait + "b = bytearray(1 << 30)\nb[::4096] = b'x' * len(b[::4096])"
    leader = spawn_into(how, run, [PY, "-c", hog], limits=limits)
    reaped = reap.reap(leader)
    assert reaped is not None and reaped.returncode != 0
    if has_controller:
        events = read_events(run)
        assert (
            which_limit(
                reaped.returncode, cgroup_limits=CgroupLimits(memory_max=128 << 20), events=events
            )
            == "memory_max"
        )
    assert await run.destroy()


def test_which_limit_answers_only_from_evidence() -> None:
    cpu = ResourceLimits(cpu_seconds=1)
    burnt = ResourceUsage(1.95, 0.02, 1 << 20)
    assert which_limit(0, limits=cpu) is None
    assert which_limit(-signal.SIGXCPU, limits=cpu) == "cpu_seconds"
    assert which_limit(-signal.SIGXCPU) is None  # no CPU limit was set
    assert which_limit(-signal.SIGKILL, limits=cpu, usage=burnt) == "cpu_seconds"
    assert which_limit(-signal.SIGKILL, limits=cpu, usage=ResourceUsage(0.1, 0, 0)) is None
    memory = CgroupLimits(memory_max=1 << 20)
    assert which_limit(-9, cgroup_limits=memory, events=CgroupEvents(oom_kills=1)) == "memory_max"
    assert which_limit(-9, cgroup_limits=memory, events=CgroupEvents(oom_kills=0)) is None
    assert which_limit(1, limits=ResourceLimits(address_space=1 << 20)) is None  # unknowable
    pids = CgroupLimits(pids_max=4)
    assert which_limit(2, cgroup_limits=pids, events=CgroupEvents(pids_max_hits=3)) == "pids_max"
    assert which_limit(None, limits=cpu) is None  # status unknown (SIGCHLD ignored)


def test_the_v1_pids_mirror_is_removed_with_its_run(host: CgroupHost) -> None:
    run = host.new_run()
    report = apply_limits(run, CgroupLimits(pids_max=8))
    require(report.unavailable.get("pids_max"))
    mirrors = list(run.linked)
    assert mirrors and all(os.path.isdir(path) for path in mirrors)
    run.remove()
    assert not any(os.path.exists(path) for path in [run.path, *mirrors])
