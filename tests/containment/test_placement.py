"""The pure placement: the host visits the run around Popen, always comes home, never mixes runs."""

from __future__ import annotations

import functools
import os
import subprocess
import threading

import pytest

from cuprum._runtime import cgroupfs, placement, reap
from cuprum._runtime.cgroup import CgroupHost, CgroupSupport

pytestmark = pytest.mark.anyio


def cgroup_of(pid: int | str) -> str:
    """The v2 cgroup path of ``pid`` from ``/proc``."""
    with open(f"/proc/{pid}/cgroup", encoding="ascii") as f:
        return next(line[3:] for line in f.read().splitlines() if line.startswith("0::"))


def relative(support: CgroupSupport, path: str) -> str:
    assert support.mount is not None
    return path[len(support.mount) :] or "/"


async def test_a_child_started_inside_lands_in_the_run_and_the_host_goes_home(
    host: CgroupHost, support: CgroupSupport
) -> None:
    home = cgroup_of("self")
    run = host.new_run()
    started: list[subprocess.Popen[bytes]] = []
    inside: list[str] = []

    def start() -> None:
        inside.append(cgroup_of("self"))
        started.append(subprocess.Popen(["sleep", "100"], process_group=0))

    placement.spawn_into(run, start)
    popen = started[0]
    assert inside == [relative(support, run.path)]
    assert cgroup_of("self") == home
    assert cgroup_of(popen.pid) == relative(support, run.path)
    run.kill()
    assert await run.destroy()
    reap.reap_popen(popen)


def test_the_host_goes_home_when_the_spawn_fails(host: CgroupHost) -> None:
    home = cgroup_of("self")
    run = host.new_run()
    with pytest.raises(FileNotFoundError):
        placement.spawn_into(run, lambda: subprocess.Popen(["/cuprum/no/such/program"]))
    assert cgroup_of("self") == home
    run.remove()


def _start_sleep(started: list[subprocess.Popen[bytes]]) -> None:
    started.append(subprocess.Popen(["sleep", "100"], process_group=0))


def test_threads_spawning_into_different_runs_never_mix(
    host: CgroupHost, support: CgroupSupport
) -> None:
    home = cgroup_of("self")
    errors: list[str] = []

    def worker() -> None:
        for _ in range(15):
            run = host.new_run()
            started: list[subprocess.Popen[bytes]] = []
            placement.spawn_into(run, functools.partial(_start_sleep, started))
            popen = started[0]
            where = cgroup_of(popen.pid)
            if where != relative(support, run.path):
                errors.append(f"{popen.pid} in {where}, not {run.path}")
            run.kill()
            cgroupfs.wait_empty_blocking(run.path, 10)
            reap.reap_popen(popen)
            run.remove()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert cgroup_of("self") == home


async def test_placing_after_the_spawn_moves_only_what_is_still_there(
    host: CgroupHost, support: CgroupSupport
) -> None:
    run = host.new_run()
    popen = subprocess.Popen(["sleep", "100"], process_group=0)
    assert placement.place_after_spawn(run, popen.pid)
    assert cgroup_of(popen.pid) == relative(support, run.path)
    gone = subprocess.Popen(["true"])
    reap.reap_popen(gone)
    assert not placement.place_after_spawn(run, gone.pid)
    run.kill()
    assert await run.destroy()
    reap.reap_popen(popen)
    assert os.path.exists(host.path)
