"""Containment tests: cgroups are required under CI, and none may outlive the session."""

from __future__ import annotations

import os
from collections.abc import Iterator

import anyio
import pytest

from cuprum._runtime import cgroup, cgroup_pool, native_spawn
from cuprum._runtime.cgroup import CgroupHost, CgroupSupport

from .containment_support import leftover_runs, require_cgroups

SPAWNERS = ["pure", pytest.param("native", marks=pytest.mark.native)]


@pytest.fixture
def support() -> CgroupSupport:
    """Where cuprum may create cgroups; fails under CI and skips elsewhere when it may not."""
    return require_cgroups()


@pytest.fixture
def host(support: CgroupSupport) -> CgroupHost:
    """This process's cgroup directory (created, and the base swept, on first use)."""
    return anyio.run(cgroup.host, support)


@pytest.fixture(params=SPAWNERS)
def how(request: pytest.FixtureRequest) -> str:
    """Each placement test runs with the pure placement and with the native clone3."""
    name = str(request.param)
    if name == "native" and not native_spawn.native_spawn_available():
        pytest.skip("the native extension with spawn_process is not installed")
    return name


@pytest.fixture(scope="session", autouse=True)
def no_cgroup_survives() -> Iterator[None]:
    """After the whole session, no run cgroup of this process (or of a dead host) is left."""
    yield
    cgroup_pool.drain()  # idle cgroups kept for reuse go at exit; count only what is left
    support = cgroup.probe()
    if not support.available or support.base is None:
        return
    bases = [support.base]
    v1 = cgroup.v1_pids_base()
    if v1 is not None:
        bases.append(v1)
    left = [path for base in bases for path in leftover_runs(base)]
    for base in bases:  # our own (now empty) host directory goes too
        for entry in os.listdir(base):
            if entry.startswith(f"cuprum-{os.getpid()}."):
                try:
                    os.rmdir(os.path.join(base, entry))
                except OSError:
                    left.append(os.path.join(base, entry))
    assert not left, f"cgroups left behind by the containment tests: {left}"
