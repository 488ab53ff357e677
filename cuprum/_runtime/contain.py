"""A run's containment: a cgroup per stage, limits, the spawn into it, and what it cost.

:func:`prepare` decides, once per run, whether its stages get cgroups
(``ExecutionContext.contain``: by default where cgroups are available *and* the
native spawn is installed, since only ``clone3`` spawns into a cgroup at no
extra cost; see docs/containment.md) and gives each stage a :class:`Box`: its
cgroup, with the limits the cgroup enforces written before anything starts,
and the ``setrlimit`` limits for the rest. :func:`spawn_stage` starts the
program inside (native ``clone3``, else ``Popen`` from inside the cgroup and
``prlimit`` after). :func:`kill_trees` is teardown's last word (``cgroup.kill``);
:func:`release` reads each stage's tree usage and limit events and removes the
cgroups, on every path, shielded from cancellation.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import threading
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from cuprum._core.errors import SpawnError
from cuprum._core.pinning import PinPolicy
from cuprum._core.pinning import executable as pinned_executable
from cuprum._core.programs import Program
from cuprum._core.secret import reveal
from cuprum._core.usage import LimitName, ResourceUsage
from cuprum._model.execution import ExecutionContext
from cuprum._model.limits import Limits
from cuprum._runtime import cgroupfs
from cuprum._runtime.cgroupfs import Steps
from cuprum._runtime.child import ChildProcess, FdArg, spawn

# The cgroup machinery is imported on first use: a run that asks for no
# containment (the common case) does not pay for importing it. cgroupfs (small, no
# anyio) is imported here: every direct run asks prepare_blocking(), and an import
# on that path could be under way when another thread forks, leaving the child a
# module lock held for ever.
if TYPE_CHECKING:
    from cuprum._runtime import cgroup_pool
    from cuprum._runtime.cgroup import CgroupHost, CgroupSupport, RunCgroup
    from cuprum._runtime.cgroup_limits import CgroupEvents, CgroupLimits, CgroupUsage
    from cuprum._runtime.limits import ResourceLimits

__all__ = [
    "Box",
    "kill_trees",
    "prepare",
    "prepare_blocking",
    "release",
    "release_blocking",
    "spawn_stage",
    "terminate_trees",
]

_PUBLIC_NAMES: dict[str, LimitName] = {
    "cpu_seconds": "cpu_seconds",
    "memory_max": "memory",
    "file_size": "file_size",
    "pids_max": "processes",
}

_lock = threading.Lock()
_support: dict[tuple[int, str | None], CgroupSupport] = {}
_native: list[bool] = []


def support() -> CgroupSupport:
    """``cgroup.probe()`` for this process and ``$CUPRUM_CGROUP_BASE``, cached."""
    from cuprum._runtime import cgroup

    key = (os.getpid(), os.environ.get(cgroup.ENV_BASE))
    found = _support.get(key)
    if found is None:
        with _lock:
            found = _support[key] = cgroup.probe()
    return found


def native_available() -> bool:
    """Whether the native spawn is installed (looked up once)."""
    if not _native:
        from cuprum._runtime.native_spawn import native_spawn_available

        _native.append(native_spawn_available())
    return _native[0]


class Box:
    """One stage's containment: its cgroup (or None), its limits, and what it cost."""

    __slots__ = ("cg_limits", "events", "killed", "native", "rlimits", "run", "slot", "tree")

    def __init__(
        self,
        run: RunCgroup | None,
        rlimits: ResourceLimits | None,
        cg_limits: CgroupLimits | None,
        *,
        native: bool,
    ) -> None:
        self.run = run
        self.rlimits = rlimits
        self.cg_limits = cg_limits
        self.native = native
        self.killed = False  # by cgroup.kill: every member dies, whatever its user ID
        self.slot: cgroup_pool.Slot | None = None  # a reused cgroup (runs without limits)
        self.tree: CgroupUsage | None = None
        self.events: CgroupEvents | None = None

    def usage(self, reaped: ResourceUsage | None) -> ResourceUsage | None:
        """The stage's usage: the reap's, with the whole tree's where it had a cgroup."""
        if reaped is None or self.tree is None:
            return reaped
        return replace(
            reaped, tree_cpu_seconds=self.tree.cpu_seconds, tree_memory_peak=self.tree.memory_peak
        )

    def limit(self, returncode: int | None, usage: ResourceUsage | None) -> LimitName | None:
        """Which limit stopped the stage, where the kernel left evidence of it."""
        if self.rlimits is None and self.cg_limits is None:
            return None
        from cuprum._runtime.limits import which_limit

        found = which_limit(
            returncode,
            limits=self.rlimits,
            cgroup_limits=self.cg_limits,
            events=self.events,
            usage=usage,
        )
        return None if found is None else _PUBLIC_NAMES.get(found)


def _wanted(ctx: ExecutionContext, program: str) -> CgroupSupport | None:
    """The cgroup support to use for this run, or None for process groups only."""
    limits = ctx.limits
    if ctx.contain is False:
        return None
    if ctx.contain is not True and (limits is None or not limits.wants_cgroup):
        return None  # nothing asks for a cgroup: no probe on the per-call path
    found = support()
    if ctx.contain is True and not found.available:
        raise SpawnError(errno.ENOTSUP, f"{program}: contain=True: {found.reason}")
    if not found.available:
        return None
    if ctx.contain is True:
        return found
    return found if limits is not None and limits.wants_cgroup else None


def _rlimits(limits: Limits, applied: Mapping[str, str]) -> ResourceLimits | None:
    """What the cgroup does not enforce, as per-process limits."""
    from cuprum._runtime.limits import ResourceLimits

    memory = None if "memory_max" in applied else limits.memory
    processes = None if "pids_max" in applied else limits.processes
    rl = ResourceLimits(
        cpu_seconds=limits.cpu_seconds,
        address_space=memory,
        open_files=limits.open_files,
        file_size=limits.file_size,
        processes=processes,
    )
    return None if not rl.rlimits() else rl


async def prepare(ctx: ExecutionContext, programs: Sequence[str]) -> list[Box] | None:
    """A :class:`Box` per stage, or None when the run needs neither cgroups nor limits."""
    return await cgroupfs.run_steps(_prepare_steps(ctx, programs))


def prepare_blocking(ctx: ExecutionContext, programs: Sequence[str]) -> list[Box] | None:
    """:func:`prepare` outside an event loop (``run_sync()``'s direct path)."""
    if ctx.limits is None and ctx.contain is not True:
        return None  # nothing asks for a box (see _wanted): no steps to run
    return cgroupfs.run_steps_blocking(_prepare_steps(ctx, programs))


def _prepare_steps(ctx: ExecutionContext, programs: Sequence[str]) -> Steps[list[Box] | None]:
    limits = ctx.limits
    found = _wanted(ctx, programs[0])
    if found is not None:
        try:
            return (yield from _in_cgroups(found, limits, len(programs)))
        except OSError as exc:  # e.g. the host gave up the rights it had when probed
            if ctx.contain is True:
                raise SpawnError(
                    exc.errno or errno.EIO,
                    f"{programs[0]}: contain=True: cannot create its cgroup: {exc}",
                ) from exc
    if limits is None:
        return None
    rl = _rlimits(limits, {})
    return [Box(None, rl, None, native=native_available()) for _ in programs]


def _in_cgroups(found: CgroupSupport, limits: Limits | None, count: int) -> Steps[list[Box]]:
    """A fresh cgroup per stage, with the limits a cgroup enforces written into it."""
    from cuprum._runtime import cgroup, cgroup_pool
    from cuprum._runtime.cgroup_limits import CgroupLimits, apply_limits

    native = native_available()
    host: CgroupHost = yield from cgroup.host_steps(found)
    boxes: list[Box] = []
    try:
        for _ in range(count):
            slot = cgroup_pool.take(host) if limits is None else None
            if slot is not None:
                boxes.append(box := Box(slot.run, None, None, native=native))
                box.slot = slot
                continue
            run = host.new_run()
            boxes.append(box := Box(run, None, None, native=native))
            if limits is not None:
                cg = CgroupLimits(memory_max=limits.memory, pids_max=limits.processes)
                report = apply_limits(run, cg) if limits.wants_cgroup else None
                applied = {} if report is None else report.applied
                if applied:
                    box.cg_limits = CgroupLimits(
                        memory_max=cg.memory_max if "memory_max" in applied else None,
                        pids_max=cg.pids_max if "pids_max" in applied else None,
                    )
                box.rlimits = _rlimits(limits, applied)
    except BaseException:
        yield from _release_steps(boxes)
        raise
    return boxes


def spawn_stage(
    box: Box | None,
    argv: Sequence[str],
    *,
    cwd: str | os.PathLike[str] | None,
    env: Mapping[str, str] | None,
    stdin: FdArg,
    stdout: FdArg,
    stderr: FdArg,
    project: PinPolicy | None = None,
) -> ChildProcess:
    """Start one stage inside its box (or as a plain process group without one).

    The file run is the program's pin, as for :func:`~cuprum._runtime.child.spawn`,
    and secrets in ``argv`` are revealed for the child only."""
    if box is None:
        return spawn(
            argv, cwd=cwd, env=env, stdin=stdin, stdout=stdout, stderr=stderr, project=project
        )
    from cuprum._runtime import native_spawn, placement
    from cuprum._runtime.limits import apply_prlimits

    if box.native:
        out = _native_fd(stdout)
        started = native_spawn.spawn_native(
            [reveal(arg) for arg in argv],
            executable=pinned_executable(Program(argv[0]), project),
            env=env,
            cwd=cwd,
            stdin=_native_fd(stdin),
            stdout=out,
            stderr=out if stderr == subprocess.STDOUT else _native_fd(stderr),
            cgroup=box.run,
            limits=box.rlimits,
        )
        try:  # named, as spawn() names it: a child it may not kill is named in the error
            return ChildProcess(None, pid=started.pid, pidfd=started.pidfd, program=argv[0])
        except BaseException:  # a signal handler raised: no child outlives the call
            native_spawn.discard(started.pid, started.pidfd, argv[0])
            raise
    spawned: list[ChildProcess] = []  # the child, stored as spawn() returns it

    def start() -> None:
        child = spawn(
            argv, cwd=cwd, env=env, stdin=stdin, stdout=stdout, stderr=stderr, project=project
        )  # a Python function: no check point between its return and the append
        spawned.append(child)

    try:
        if box.run is None:
            start()
        else:
            placement.spawn_into(box.run, start)
        if box.rlimits is not None:
            apply_prlimits(spawned[0].pid, box.rlimits)
    except BaseException:  # the way out of the cgroup, or a limit, failed or was interrupted
        for child in spawned:
            child.reap()
        raise
    return spawned[0]


def _native_fd(fd: FdArg) -> int | None:
    """``Popen``'s stream argument as the native spawn's: None means ``/dev/null`` there.

    None (``FdArg``) is a host fd the child must not get (closed, or cuprum's own,
    close-on-exec): ``/dev/null``, as the native spawn cannot leave an fd closed."""
    return None if fd is None or fd == subprocess.DEVNULL else fd


def terminate_trees(boxes: Sequence[Box] | None, groups: Collection[int] = ()) -> None:
    """SIGTERM every process in the stages' cgroups outside the process ``groups``.

    The groups themselves are signalled by ``child.terminate_groups`` (in
    pipeline order); this reaches what left them (``setsid``, double forks).
    """
    for box in boxes or ():
        if box.run is not None:
            for pid in box.run.procs():
                try:
                    if os.getpgid(pid) not in groups:
                        os.kill(pid, signal.SIGTERM)
                except (ProcessLookupError, PermissionError):
                    pass


def kill_trees(boxes: Sequence[Box] | None) -> None:
    """SIGKILL everything left in the stages' cgroups, however it detached itself."""
    for box in boxes or ():
        if box.run is not None:
            box.killed = box.run.kill() or box.killed
            if box.slot is not None:  # a killed cgroup is destroyed, never reused
                box.slot.close()
                box.slot = None


def _settle(box: Box) -> bool:
    """A pooled cgroup's usage, and back to the pool if it is empty; False: destroy it."""
    from cuprum._runtime import cgroup_pool

    slot = box.slot
    assert slot is not None
    box.slot = None
    try:
        box.tree = slot.usage()
        if slot.empty() and cgroup_pool.give_back(slot):
            return True
    except OSError:
        pass
    slot.close()
    return False


async def release(boxes: Sequence[Box] | None) -> None:
    """Read each cgroup's usage and limit events, then kill what is left and remove it.

    An empty pooled cgroup goes back to the pool (no ``rmdir``). The rest is
    shielded: it runs on the cancellation path too. A cgroup that would not
    empty is left for the next host's sweep.
    """
    if not boxes:
        return
    import anyio  # only a contained run gets here: it runs on an event loop

    with anyio.CancelScope(shield=True):
        await cgroupfs.run_steps(_release_steps(boxes))


def release_blocking(boxes: Sequence[Box] | None) -> None:
    """:func:`release` outside an event loop (``run_sync()``'s direct path)."""
    if boxes:
        cgroupfs.run_steps_blocking(_release_steps(boxes))


def _release_steps(boxes: Sequence[Box]) -> Steps[None]:
    from cuprum._runtime.cgroup_limits import read_events, read_usage

    doomed: list[RunCgroup] = []
    for box in boxes:
        run = box.run
        if run is None:
            continue
        box.run = None  # released once
        if box.slot is not None:
            if not _settle(box):
                doomed.append(run)
            continue
        try:
            box.tree = read_usage(run)
            if box.cg_limits is not None:
                box.events = read_events(run)
        except OSError:
            pass
        doomed.append(run)
    for run in doomed:
        yield from run.destroy_steps(5.0)
