"""Containment through the engine: whole-tree teardown, limits and accounting of real runs.

Each test runs on asyncio and trio, with the native spawn (``clone3`` into the
cgroup) and the pure one (the host visits the cgroup around ``Popen``); each
single-command test also through ``run_sync()``, which contains a run without an
event loop (its direct path, here from a worker thread). Under ``CI=true`` a
missing cgroup fails them (the ``support`` fixture).
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from cuprum import (
    CommandResult,
    ExecEvent,
    ExecutionContext,
    Limits,
    Program,
    ProgramCatalogue,
    ProjectSettings,
    SafeCmd,
    ScopeConfig,
    TimeoutExpired,
    scoped,
    sh,
)
from cuprum._runtime import cgroup, contain
from cuprum._runtime.cgroup import CgroupSupport

from .containment_support import PY, wait_until_dead

pytestmark = pytest.mark.anyio

SH = Program("sh")
PYTHON = Program(PY)
CATALOGUE = ProgramCatalogue(projects=(ProjectSettings(name="contain", programs=(SH, PYTHON)),))
shell = sh.make(SH, catalogue=CATALOGUE)
python = sh.make(PYTHON, catalogue=CATALOGUE)
CONTAINED = ExecutionContext(contain=True, cancel_grace=0.2)

# A daemon: fork, setsid, fork again; the grandchild writes its pid and sleeps.
DAEMON = (
    "import os, sys, time\n"
    "if os.fork() == 0:\n"
    "    os.setsid()\n"
    "    if os.fork() == 0:\n"
    "        open(sys.argv[1], 'w').write(str(os.getpid()))\n"
    "        time.sleep(300)\n"
    "    os._exit(0)\n"
    "time.sleep(300)\n"
)


def escapees(tmp_path: Path) -> tuple[str, list[Path]]:
    """A shell line that starts a ``setsid`` sleeper and a double-forked daemon."""
    files = [tmp_path / "setsid.pid", tmp_path / "daemon.pid"]
    line = f'setsid sleep 300 & echo $! > {files[0]}; {PY} -c "$DAEMON" {files[1]} & sleep 300'
    return line, files


def read_pids(files: list[Path], timeout: float = 10.0) -> list[int]:
    """Wait for every pid file to be written; the pids."""
    deadline = time.monotonic() + timeout
    while not all(f.exists() and f.read_text().strip() for f in files):
        assert time.monotonic() < deadline, "the escapees did not start"
        time.sleep(0.01)
    return [int(f.read_text()) for f in files]


@pytest.fixture(params=["native", "pure"])
def spawner(request: pytest.FixtureRequest, support: CgroupSupport) -> Iterator[str]:
    """Engine runs spawn natively (clone3) or the pure way (visit around Popen)."""
    name = str(request.param)
    if name == "native" and not contain.native_available():
        pytest.skip("the native extension with spawn_process is not installed")
    contain._native[:] = [name == "native"]
    yield name
    contain._native.clear()


@pytest.fixture(params=["run", "run_sync"])
def entry(request: pytest.FixtureRequest) -> str:
    """``await cmd.run()`` (the engine on the loop) or ``cmd.run_sync()`` (the direct
    path, which needs no loop: called from a worker thread of the test's loop)."""
    return str(request.param)


async def run(
    cmd: SafeCmd, entry: str, *, context: ExecutionContext, timeout: float | None = None
) -> CommandResult[str | None, str | None]:
    """``cmd`` run through ``entry`` (``run_sync`` in a worker thread, where it may be called)."""
    if entry == "run":
        return await cmd.run(context=context, timeout=timeout)
    call = functools.partial(cmd.run_sync, context=context, timeout=timeout)
    return await anyio.to_thread.run_sync(call)


def daemon_ctx(tmp_path: Path) -> ExecutionContext:
    return ExecutionContext(contain=True, cancel_grace=0.2, env={"DAEMON": DAEMON}, cwd=tmp_path)


async def test_escapees_die_on_timeout(spawner: str, entry: str, tmp_path: Path) -> None:
    line, files = escapees(tmp_path)
    with pytest.raises(TimeoutExpired):
        await run(shell("-c", line), entry, context=daemon_ctx(tmp_path), timeout=3)
    pids = read_pids(files)
    assert wait_until_dead(pids) == []


async def test_escapees_die_on_cancellation(spawner: str, tmp_path: Path) -> None:
    line, files = escapees(tmp_path)
    pids: list[int] = []

    async def watch(scope: anyio.CancelScope) -> None:
        pids.extend(await anyio.to_thread.run_sync(read_pids, files))
        scope.cancel()

    async with anyio.create_task_group() as tg:
        with anyio.CancelScope() as scope:
            tg.start_soon(watch, scope)
            await shell("-c", line).run(context=daemon_ctx(tmp_path))
    assert pids
    assert wait_until_dead(pids) == []


async def test_escapees_left_by_a_finished_run_die_with_it(
    spawner: str, entry: str, tmp_path: Path
) -> None:
    # The command exits at once; what it detached is killed when its cgroup goes.
    # (Its output goes elsewhere: a captured pipe it held would keep the run open.)
    files = [tmp_path / "setsid.pid"]
    line = f"setsid sleep 300 >/dev/null 2>&1 & echo $! > {files[0]}"
    result = await run(shell("-c", line), entry, context=CONTAINED)
    assert result.exit_code == 0
    assert wait_until_dead(read_pids(files)) == []


@pytest.mark.parametrize("phase", ["start", "stdout"])
async def test_a_hook_raising_mid_run_takes_the_escapees_down(
    spawner: str, entry: str, phase: str, tmp_path: Path
) -> None:
    # The observer raises once the child runs (its start event), or once the escapees
    # are up (the line the shell prints after them): the run fails with the hook's
    # error, and the teardown kills the whole cgroup, not only the shell's group.
    line, files = escapees(tmp_path)
    line = line.replace(
        "& sleep 300", f"& while [ ! -s {files[1]} ]; do sleep 0.01; done; echo up; sleep 300"
    )

    def hook(event: ExecEvent) -> None:
        if event.phase == phase:
            raise LookupError(f"hook refused {phase}")

    with scoped(ScopeConfig(observe_hooks=(hook,))):
        with pytest.raises(LookupError, match=f"hook refused {phase}"):
            await run(shell("-c", line), entry, context=daemon_ctx(tmp_path), timeout=30)
    if phase == "stdout":  # they were up: killed with the cgroup
        assert wait_until_dead(read_pids(files)) == []
    else:  # torn down at its start: whatever it got to start is dead too
        pids = [int(f.read_text()) for f in files if f.exists() and f.read_text().strip()]
        assert wait_until_dead(pids) == []


async def test_a_child_burning_cpu_reports_it(spawner: str, entry: str) -> None:
    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass"
    events: list[ExecEvent] = []
    with scoped(ScopeConfig(observe_hooks=(events.append,))):
        result = await run(python("-c", burn), entry, context=CONTAINED)
    assert result.usage is not None
    assert result.usage.cpu_seconds >= 0.3
    assert result.usage.tree_cpu_seconds is not None
    assert result.usage.tree_cpu_seconds >= 0.3
    assert result.usage.max_rss > 0
    (exit_event,) = [e for e in events if e.phase == "exit"]
    assert exit_event.usage == result.usage


async def test_a_pipeline_reports_each_stage(spawner: str) -> None:
    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass"
    result = await (python("-c", burn) | shell("-c", "cat")).run(context=CONTAINED)
    first, second = (stage.usage for stage in result.stages)
    assert first is not None and second is not None
    assert first.cpu_seconds >= 0.3
    assert second.cpu_seconds < 0.3


async def test_the_tree_cpu_counts_orphans(spawner: str, entry: str, tmp_path: Path) -> None:
    # The shell does not wait for its burner: wait4 cannot see it, the cgroup can.
    burn = (
        "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass\n"
        "open('done', 'w').close()\ntime.sleep(300)"
    )
    line = f'{PY} -c "$BURN" >/dev/null 2>&1 & while [ ! -e done ]; do sleep 0.02; done'
    ctx = ExecutionContext(contain=True, env={"BURN": burn}, cwd=tmp_path)
    result = await run(shell("-c", line), entry, context=ctx)
    assert result.usage is not None and result.usage.tree_cpu_seconds is not None
    assert result.usage.tree_cpu_seconds >= 0.3


async def test_a_cpu_limit_is_named(spawner: str, entry: str) -> None:
    events: list[ExecEvent] = []
    ctx = ExecutionContext(contain=True, limits=Limits(cpu_seconds=1))
    with scoped(ScopeConfig(observe_hooks=(events.append,))):
        result = await run(python("-c", "while True: pass"), entry, context=ctx)
    assert result.exit_code < 0
    assert result.limit == "cpu_seconds"
    (exit_event,) = [e for e in events if e.phase == "exit"]
    assert exit_event.limit == "cpu_seconds"


FORK_BOMB = (
    "import os, sys, time\n"
    "for n in range(500):\n"
    "    try:\n"
    "        pid = os.fork()\n"
    "    except OSError:\n"
    "        print(n)\n"
    "        sys.exit(3)\n"
    "    if pid == 0:\n"
    "        null = os.open(os.devnull, os.O_WRONLY)\n"
    "        os.dup2(null, 1)\n"
    "        os.dup2(null, 2)\n"
    "        time.sleep(30)\n"
    "        os._exit(0)\n"
)


async def test_a_fork_bomb_is_held_by_the_process_limit(spawner: str, entry: str) -> None:
    ctx = ExecutionContext(contain=True, limits=Limits(processes=20))
    result = await run(python("-c", FORK_BOMB), entry, context=ctx)
    assert result.exit_code == 3, result.stderr
    assert int(result.stdout or "") < 20
    assert result.limit == "processes"


async def test_a_memory_hog_is_stopped_by_the_memory_limit(
    spawner: str, entry: str, host_memory: bool
) -> None:
    hog = "blocks = [bytearray(16 << 20) for _ in range(64)]\nprint('allocated')"
    ctx = ExecutionContext(contain=True, limits=Limits(memory=256 << 20))
    result = await run(python("-c", hog), entry, context=ctx)
    assert result.exit_code != 0
    assert "allocated" not in (result.stdout or "")
    if host_memory:  # the cgroup memory controller: the OOM kill names the limit
        assert result.limit == "memory"
    else:  # the address-space rlimit: a MemoryError leaves no trace to name it by
        assert "MemoryError" in (result.stderr or "")


@pytest.fixture
def host_memory(support: CgroupSupport) -> bool:
    """Whether run cgroups here get the v2 memory controller."""
    return "memory" in anyio.run(cgroup.host, support).controllers()


async def test_contain_true_without_cgroups_is_refused(
    monkeypatch: pytest.MonkeyPatch, entry: str
) -> None:
    monkeypatch.setattr(contain, "support", lambda: CgroupSupport(None, None, "no v2 here"))
    from cuprum import SpawnError

    with pytest.raises(SpawnError, match=r"^\[Errno 95\] sh: contain=True: no v2 here"):
        await run(shell("-c", "true"), entry, context=CONTAINED)


async def test_uncontained_limits_still_apply(entry: str) -> None:
    ctx = ExecutionContext(contain=False, limits=Limits(open_files=12))
    probe = "import resource; print(resource.getrlimit(resource.RLIMIT_NOFILE))"
    result = await run(python("-c", probe), entry, context=ctx)
    assert (result.stdout or "").strip() == "(12, 12)"


def test_limits_refuse_bad_values() -> None:
    from cuprum import InvalidArgumentError

    with pytest.raises(InvalidArgumentError, match="limits: memory"):
        Limits(memory=-1)


def test_the_env_daemon_script_is_python() -> None:
    compile(DAEMON, "daemon", "exec")
    compile(FORK_BOMB, "bomb", "exec")
    assert sys.executable == PY
