"""Run cgroups: detection, create/kill/remove, escapees, cycles, and a crashed host's leftovers."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import anyio
import pytest

from cuprum._runtime import cgroup, cgroupfs
from cuprum._runtime.cgroup import CgroupHost, CgroupSupport

from .containment_support import (
    PY,
    is_dead,
    read_pids,
    session_of,
    spawn_into,
    wait_until_dead,
)

pytestmark = pytest.mark.anyio


def test_the_v2_mount_comes_from_mountinfo(tmp_path: os.PathLike[str]) -> None:
    info = os.path.join(tmp_path, "mountinfo")
    with open(info, "w") as f:
        f.write(
            "31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n"
            "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
            "41 31 0:38 / /odd\\040place rw shared:9 - cgroup2 cgroup2 rw\n"
        )
    assert cgroupfs.cgroup2_mount(info) == "/odd place"
    assert cgroupfs.v1_controller("memory", info) == "/sys/fs/cgroup/memory"
    assert cgroupfs.v1_controller("pids", info) is None
    assert cgroup.probe(mountinfo=info).reason is not None  # nothing at /odd place


def test_without_a_v2_mount_the_reason_says_so(tmp_path: os.PathLike[str]) -> None:
    info = os.path.join(tmp_path, "mountinfo")
    with open(info, "w") as f:
        f.write("31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n")
    found = cgroup.probe(mountinfo=info)
    assert not found.available
    assert found.reason is not None and "no cgroup v2" in found.reason


def test_a_base_that_does_not_exist_is_refused(support: CgroupSupport) -> None:
    found = cgroup.probe("/cuprum-no-such-base")
    assert found.reason is not None and "does not exist" in found.reason


def test_the_base_can_be_named_by_the_environment(
    support: CgroupSupport, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert support.mount is not None and support.base is not None
    relative = "/" + os.path.relpath(support.base, support.mount)
    monkeypatch.setenv(cgroup.ENV_BASE, relative)
    assert cgroup.probe().base == os.path.normpath(support.base)


async def test_a_run_cgroup_is_created_under_the_host_and_removed(host: CgroupHost) -> None:
    run = host.new_run()
    assert os.path.dirname(run.path) == host.path
    assert os.path.basename(host.path) == f"cuprum-{os.getpid()}.{cgroup._start_time(os.getpid())}"
    assert not run.populated()
    assert await run.destroy()
    assert not os.path.exists(run.path)


ESCAPEES = textwrap.dedent(
    """
    out=$1
    setsid sh -c 'echo $$ >> "$0"; exec sleep 100' "$out" &
    sh -c 'sh -c "echo \\$\\$ >> \\"$0\\"; exec sleep 100" "$0" &' "$out"
    exit 0
    """
)


async def test_setsid_and_double_forked_escapees_die_with_the_run(
    host: CgroupHost, how: str, tmp_path: os.PathLike[str]
) -> None:
    out = os.path.join(tmp_path, "pids")
    run = host.new_run()
    leader = spawn_into(how, run, ["/bin/sh", "-c", ESCAPEES, "sh", out])
    os.waitpid(leader, 0)  # the leader is gone: only the escapees are left
    escapees = read_pids(out, 2)
    assert any(session_of(pid) != os.getsid(0) for pid in escapees)  # setsid left our session
    assert sorted(run.procs()) == sorted(escapees)
    run.kill()
    assert await run.wait_empty(10)
    assert wait_until_dead(escapees) == []
    assert await run.destroy()


async def test_the_freeze_and_kill_fallback_also_empties_the_run(
    host: CgroupHost, tmp_path: os.PathLike[str]
) -> None:
    out = os.path.join(tmp_path, "pids")
    run = host.new_run()
    leader = spawn_into("pure", run, ["/bin/sh", "-c", ESCAPEES, "sh", out])
    os.waitpid(leader, 0)
    escapees = read_pids(out, 2)
    cgroupfs.kill_members(run.path)  # what kill() does where cgroup.kill is missing
    assert await run.wait_empty(10)
    assert all(is_dead(pid) for pid in escapees)
    assert await run.destroy()


async def test_wait_empty_times_out_while_something_lives(host: CgroupHost) -> None:
    run = host.new_run()
    pid = spawn_into("pure", run, ["sleep", "100"])
    assert not await run.wait_empty(0.05)
    assert not cgroupfs.wait_empty_blocking(run.path, 0.05)
    run.kill()
    assert await run.wait_empty(10)
    os.waitpid(pid, 0)
    assert await run.destroy()


async def test_a_populated_run_refuses_a_plain_remove(host: CgroupHost) -> None:
    run = host.new_run()
    pid = spawn_into("pure", run, ["sleep", "100"])
    with pytest.raises(OSError):
        run.remove()
    assert await run.destroy()
    os.waitpid(pid, 0)


async def test_two_hundred_runs_leave_no_cgroup_behind(host: CgroupHost, how: str) -> None:
    for _ in range(200):
        run = host.new_run()
        pid = spawn_into(how, run, ["sleep", "100"])
        run.kill()
        assert await run.destroy()
        os.waitpid(pid, 0)
    assert [entry for entry in os.listdir(host.path) if entry.startswith("run-")] == []


CRASHING_HOST = textwrap.dedent(
    """
    import os, subprocess, sys
    import anyio
    from cuprum._runtime import cgroup, placement
    host = anyio.run(cgroup.host, cgroup.probe())
    run = host.new_run()
    started = []
    placement.spawn_into(run, lambda: started.append(subprocess.Popen(
        ["sleep", "100"], process_group=0, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )))
    print(run.path, started[0].pid, flush=True)
    os._exit(0)  # a crash: no cleanup of any kind
    """
)


async def test_the_next_first_use_sweeps_what_a_crashed_host_left(
    support: CgroupSupport, monkeypatch: pytest.MonkeyPatch
) -> None:
    crashed = subprocess.run([PY, "-c", CRASHING_HOST], capture_output=True, text=True, check=True)
    path, pid = crashed.stdout.split()
    assert os.path.isdir(path) and not is_dead(int(pid))
    monkeypatch.setattr(cgroup, "_hosts", {})  # as in a process that has not used cgroups yet
    await cgroup.host(support)
    assert not os.path.exists(os.path.dirname(path))
    assert wait_until_dead([int(pid)]) == []


async def test_a_forked_host_gets_a_directory_of_its_own(host: CgroupHost) -> None:
    script = textwrap.dedent(
        """
        import os, sys, anyio
        from cuprum._runtime import cgroup
        parent = anyio.run(cgroup.host, cgroup.probe())
        pid = os.fork()
        if pid == 0:
            child = anyio.run(cgroup.host, cgroup.probe())
            ok = child.path != parent.path and os.path.isdir(child.path)
            anyio.run(child.close)
            os._exit(0 if ok and not os.path.exists(child.path) else 1)
        _, status = os.waitpid(pid, 0)
        sys.exit(os.waitstatus_to_exitcode(status))
        """
    )
    assert subprocess.run([sys.executable, "-c", script], check=False).returncode == 0


async def test_waiting_does_not_block_the_event_loop(host: CgroupHost) -> None:
    run = host.new_run()
    pid = spawn_into("pure", run, ["sleep", "100"])
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await anyio.sleep(0.005)

    async with anyio.create_task_group() as tg:
        tg.start_soon(tick)
        assert not await run.wait_empty(0.2)
        tg.cancel_scope.cancel()
    assert ticks >= 5
    assert await run.destroy()
    os.waitpid(pid, 0)
