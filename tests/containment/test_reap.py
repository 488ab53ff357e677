"""Accounting: CPU and peak RSS from the reap itself, and the whole tree's CPU from the cgroup."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from cuprum._runtime import reap
from cuprum._runtime.cgroup import CgroupHost
from cuprum._runtime.cgroup_limits import read_usage

from .containment_support import PY, spawn_into

pytestmark = pytest.mark.anyio

BURN = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.35: pass"


def test_a_child_burning_cpu_reports_it_from_wait4(how: str) -> None:
    pid = spawn_into(how, None, [PY, "-c", BURN])
    reaped = reap.reap(pid)
    assert reaped is not None and reaped.returncode == 0 and reaped.usage is not None
    assert reaped.usage.user_cpu_seconds + reaped.usage.system_cpu_seconds >= 0.3
    assert reaped.usage.max_rss > 1 << 20  # bytes, not KiB


def test_a_popen_child_is_reaped_with_usage_and_popen_agrees() -> None:
    popen = subprocess.Popen([PY, "-c", BURN + "\nraise SystemExit(3)"])
    reaped = reap.reap_popen(popen)
    assert reaped.returncode == 3 == popen.returncode == popen.wait()
    assert reaped.usage is not None
    assert reaped.usage.user_cpu_seconds + reaped.usage.system_cpu_seconds >= 0.3


def test_a_running_child_is_not_reaped_without_blocking() -> None:
    popen = subprocess.Popen(["sleep", "100"])
    try:
        assert reap.reap(popen.pid, block=False) is None
    finally:
        popen.kill()
        reaped = reap.reap_popen(popen)
    assert reaped.returncode == -9


async def test_the_cgroup_counts_cpu_of_orphans_wait4_cannot_see(
    host: CgroupHost, how: str
) -> None:
    run = host.new_run()
    leader = spawn_into(how, run, ["/bin/sh", "-c", f'"{PY}" -c "$0" &', BURN])
    reaped = reap.reap(leader)
    assert reaped is not None and reaped.usage is not None
    # The shell never waited for the burner, so wait4 cannot count it.
    assert reaped.usage.user_cpu_seconds + reaped.usage.system_cpu_seconds < 0.3
    assert await run.wait_empty(20)
    usage = read_usage(run)
    assert usage.cpu_seconds >= 0.3
    assert usage.user_cpu_seconds + usage.system_cpu_seconds >= 0.3
    assert usage.memory_peak is None or usage.memory_peak > 0
    assert await run.destroy()


def test_with_sigchld_ignored_the_status_is_unknown_not_an_error() -> None:
    script = textwrap.dedent(
        """
        import signal, subprocess
        from cuprum._runtime import reap
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)
        child = subprocess.Popen(["true"])
        print(reap.reap(child.pid))
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "Reaped(returncode=None, usage=None)"
