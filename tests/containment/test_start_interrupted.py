"""A host's signal handler that raises while a run starts its stages: every child that
started is the teardown's, so none outlives the run, and no fd or cgroup either.

A stage's spawner may be a ``functools.partial`` (a contained stage's, a terminal's):
a handler runs as such a call returns, before its child is stored, so ``Run.start``
has the child stored by C code as the spawner returns it. Each point of
``Run.start`` where CPython would run a handler is tried in turn (``signal_points``),
with a handler that raises no ``Exception`` (as ``KeyboardInterrupt``), which reaches
the caller as it is, after the run's teardown. Through ``run_sync()``'s direct path,
and on asyncio and trio for what only the engine runs (a terminal, a pipeline).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import trio
from processes import children, fd_targets
from signal_points import Aborted, codes_of, interrupt_each_point

from cuprum import ExecutionContext, Pipeline, Program, ProgramCatalogue, ProjectSettings, sh
from cuprum._runtime import cgroup_pool, contain, run
from cuprum._runtime import child as child_module
from cuprum._runtime.cgroup import CgroupSupport

from .containment_support import leftover_runs

SH = Program("sh")
CATALOGUE = ProgramCatalogue(projects=(ProjectSettings(name="start", programs=(SH,)),))
shell = sh.make(SH, catalogue=CATALOGUE)
CODES = codes_of(run.Run.start, run._spawn_into)
QUICK = ExecutionContext(cancel_grace=0.2)


@pytest.fixture(params=["native", "pure"])
def contained(request: pytest.FixtureRequest, support: CgroupSupport) -> Iterator[str]:
    """A contained run's spawner: the native clone3, or the host's visit (placement)."""
    name = str(request.param)
    if name == "native" and not contain.native_available():
        pytest.skip("the native extension with spawn_process is not installed")
    contain._native[:] = [name == "native"]
    yield name
    contain._native.clear()


def _own_cgroups() -> str:
    with open("/proc/self/cgroup", encoding="ascii") as f:
        return f.read()


def _check_each_point(start: Callable[[], Any], base: str | None = None) -> None:
    """``start()`` (a whole run) interrupted at each point of ``Run.start``: afterwards no
    child, fd or visit to a cgroup is left, nor (under ``base``) a run cgroup, once the
    idle ones kept for reuse are let go."""
    child_module.null_fd()  # the shared /dev/null, opened on first use, is no leak
    start()  # first-use work (imports, pins, the pool's cgroups) done
    before, fds, cgroups = children(), fd_targets(), _own_cgroups()

    def check(where: str) -> None:
        if base is not None:
            cgroup_pool.drain()  # the idle cgroups kept for reuse, and their fds
            assert leftover_runs(base) == [], f"a run cgroup left, {where}"
        assert children() - before == set(), f"a child left, {where}"
        left = {fd: target for fd, target in fd_targets().items() if fd not in fds}
        assert not left, f"an fd left, {where}: {left}"
        assert _own_cgroups() == cgroups, f"the host left in a run, {where}"

    check("before")
    _, points = interrupt_each_point(start, CODES, check, raising=Aborted)
    check("after the run that got through")
    assert points > 5


def test_a_plain_run() -> None:
    _check_each_point(lambda: shell("-c", ":").run_sync(context=QUICK))


def test_a_contained_run(contained: str, support: CgroupSupport) -> None:
    context = ExecutionContext(contain=True, cancel_grace=0.2)
    _check_each_point(lambda: shell("-c", ":").run_sync(context=context), support.base)


@pytest.mark.parametrize("loop", ["asyncio", "trio"])
def test_a_run_on_a_terminal(loop: str) -> None:
    async def main() -> None:
        await shell("-c", ":").run(tty=True, context=QUICK)

    _check_each_point(lambda: asyncio.run(main()) if loop == "asyncio" else trio.run(main))


@pytest.mark.parametrize("loop", ["asyncio", "trio"])
def test_a_contained_pipeline(loop: str, contained: str, support: CgroupSupport) -> None:
    context = ExecutionContext(contain=True, cancel_grace=0.2)
    pipeline: Pipeline = shell("-c", ":") | shell("-c", "cat")

    async def main() -> None:
        await pipeline.run(context=context)

    _check_each_point(
        lambda: asyncio.run(main()) if loop == "asyncio" else trio.run(main), support.base
    )
