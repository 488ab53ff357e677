"""Helpers for the containment tests: requiring cgroups, spawning into a run, reading /proc."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence

import pytest
from processes import is_dead, wait_until_dead

from cuprum._runtime import cgroup, native_spawn, placement
from cuprum._runtime.cgroup import CgroupSupport, RunCgroup
from cuprum._runtime.limits import ResourceLimits

__all__ = [
    "PY",
    "host_cgroups",
    "is_dead",
    "leftover_runs",
    "read_pids",
    "require",
    "require_cgroups",
    "session_of",
    "spawn_into",
    "wait_until_dead",
]

PY = sys.executable


def require(reason: str | None) -> None:
    """Skip when ``reason`` says something is missing; under CI (``CI=true``), fail instead."""
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must exercise containment, but: {reason}")
    pytest.skip(reason)


def require_cgroups() -> CgroupSupport:
    """The cgroup support here; the test fails under CI and skips elsewhere without it."""
    support = cgroup.probe()
    require(support.reason)
    return support


def spawn_into(
    how: str,
    run: RunCgroup | None,
    argv: Sequence[str],
    *,
    stdout: int | None = None,
    stderr: int | None = None,
    limits: ResourceLimits | None = None,
) -> int:
    """Start ``argv`` in ``run`` the pure way (``Popen`` from inside) or natively; its pid.

    The caller reaps the child (``os.wait4``/``reap``).
    """
    if how == "native":
        child = native_spawn.spawn_native(
            argv, stdout=stdout, stderr=stderr, cgroup=run, limits=limits
        )
        if child.pidfd is not None:
            os.close(child.pidfd)
        return child.pid
    out = subprocess.DEVNULL if stdout is None else stdout
    err = subprocess.DEVNULL if stderr is None else stderr
    if run is None:
        popen = subprocess.Popen(argv, stdout=out, stderr=err, process_group=0)
    else:
        started: list[subprocess.Popen[bytes]] = []
        placement.spawn_into(
            run,
            lambda: started.append(subprocess.Popen(argv, stdout=out, stderr=err, process_group=0)),
        )
        popen = started[0]
    if limits is not None:
        from cuprum._runtime.limits import apply_prlimits

        apply_prlimits(popen.pid, limits)
    popen.returncode = 0  # reaped by the caller with wait4; keep Popen.__del__ quiet
    return popen.pid


def session_of(pid: int) -> int:
    """The session id of ``pid`` (field 6 of ``/proc/<pid>/stat``)."""
    with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
        return int(f.read().rsplit(")", 1)[1].split()[3])


def read_pids(path: str, count: int, timeout: float = 10.0) -> list[int]:
    """Wait until ``path`` holds ``count`` pids (one a line) and return them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(path, encoding="ascii") as f:
                pids = [int(line) for line in f.read().split()]
        except (OSError, ValueError):
            pids = []
        if len(pids) >= count:
            return pids
        time.sleep(0.01)
    raise AssertionError(f"{path} did not get {count} pids in {timeout} s")


def host_cgroups(base: str, pid: int) -> list[str]:
    """The host directories (``cuprum-<pid>.*``) process ``pid`` has under ``base``."""
    return [entry for entry in os.listdir(base) if entry.startswith(f"cuprum-{pid}.")]


def leftover_runs(base: str) -> list[str]:
    """Run cgroups (``cuprum-*/run-*``) under ``base`` that belong to this process or a dead one."""
    found: list[str] = []
    for host_dir in os.listdir(base):
        if not host_dir.startswith("cuprum-"):
            continue
        mine = host_dir.startswith(f"cuprum-{os.getpid()}.")
        if not mine and cgroup._host_alive(host_dir):
            continue  # another live cuprum process (another suite) owns it
        path = os.path.join(base, host_dir)
        runs = [entry for entry in os.listdir(path) if entry.startswith("run-")]
        found.extend(os.path.join(path, entry) for entry in runs)
        if not mine:
            found.append(path)
    return found
