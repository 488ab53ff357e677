"""The pure install's way into a run's cgroup: fork from inside it.

Without the native spawn there is no ``clone3``, and ``subprocess.Popen``
has no cgroup option (and ``preexec_fn`` would cost vfork). Writing the
child's pid into ``cgroup.procs`` after ``Popen`` returns leaves a window: a
program that forks straight away (``setsid`` forks when it leads its group,
daemons double-fork) can leave children outside. So instead the *host*
process joins the run's cgroup for the length of the ``Popen`` call and
then returns home: a child starts in its parent's cgroup, so there is no
window at all. The v1 mirrors (the pids controller on a hybrid machine) are
joined by the calling thread only (v1's ``tasks`` file is per thread).

What it costs and what it cannot do (measured in ``docs/containment.md``):
two extra writes per spawn; every thread of the host moves with it, so a
thread that forks by other means during those microseconds puts its child
in the run (and the host's own CPU time in the window is charged to the
run; the visitors count against a pids limit, so a limit lower than the
visitors plus one is raised to that for the visit). Spawns
through :func:`spawning_into` are serialised by a lock, so two
runs never swap hosts. cgroup v2's no-internal-processes rule is no
obstacle: a run cgroup is a leaf, and the host only visits.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator

from cuprum._runtime import cgroupfs
from cuprum._runtime.cgroup import RunCgroup

__all__ = ["place_after_spawn", "spawning_into"]

_lock = threading.Lock()


_homes: dict[tuple[int, str], tuple[str, str | None]] = {}


def _homes_now(with_v1: bool) -> tuple[str, str | None]:
    """This process's v2 cgroup directory and (if asked) its v1 pids one, cached per pid."""
    key = (os.getpid(), "v1" if with_v1 else "")
    found = _homes.get(key)
    if found is None:
        mount = cgroupfs.cgroup2_mount()
        own = cgroupfs.own_cgroup()
        if mount is None or own is None:
            raise OSError("this process has no cgroup v2 directory to return to")
        v1 = None
        if with_v1:
            v1_mount, v1_own = cgroupfs.v1_controller("pids"), cgroupfs.own_cgroup("pids")
            if v1_mount is not None and v1_own is not None:
                v1 = os.path.join(v1_mount, v1_own.lstrip("/"))
        found = _homes[key] = (os.path.join(mount, own.lstrip("/")), v1)
    return found


def _pids_max(directory: str) -> int | None:
    try:
        with open(os.path.join(directory, "pids.max"), encoding="ascii") as f:
            return int(f.read())
    except (OSError, ValueError):
        return None  # "max" or no such file


def _make_room(limits: dict[str, tuple[int | None, int]]) -> None:
    """Raise each pids limit that the visitors alone would exhaust (visitors + the child)."""
    for directory, (limit, visitors) in limits.items():
        if limit is not None and limit < visitors + 1:
            cgroupfs.write_file(os.path.join(directory, "pids.max"), str(visitors + 1))


def _restore(limits: dict[str, tuple[int | None, int]]) -> None:
    for directory, (limit, visitors) in limits.items():
        if limit is not None and limit < visitors + 1:
            cgroupfs.write_file(os.path.join(directory, "pids.max"), str(limit))


@contextlib.contextmanager
def spawning_into(run: RunCgroup) -> Iterator[None]:
    """While inside, this process is in ``run``'s cgroup: children forked now start there.

    Keep the body to the ``Popen`` call. The way home is taken even if the
    body raises; if it fails, the error propagates (the host must not stay
    in a run that is about to be killed).
    """
    with _lock:
        home, v1_home = _homes_now(bool(run.linked))
        # Visitors count against a pids limit: every thread in v2, the one thread in v1.
        limits = {run.path: (_pids_max(run.path), len(os.listdir("/proc/self/task")))}
        limits.update({linked: (_pids_max(linked), 1) for linked in run.linked})
        _make_room(limits)
        cgroupfs.write_file(os.path.join(run.path, "cgroup.procs"), "0")
        joined: list[str] = []
        try:
            for linked in run.linked:
                cgroupfs.write_file(os.path.join(linked, "tasks"), "0")
                joined.append(linked)
            yield
        finally:
            cgroupfs.write_file(os.path.join(home, "cgroup.procs"), "0")
            if joined and v1_home is not None:
                cgroupfs.write_file(os.path.join(v1_home, "tasks"), "0")
            _restore(limits)


def place_after_spawn(run: RunCgroup, pid: int) -> bool:
    """Move an already running ``pid`` into ``run`` (the weaker way: see the module docs).

    For hosts that may not move themselves. Returns False if the process
    had already exited.
    """
    try:
        run.add(pid)
        for linked in run.linked:
            cgroupfs.write_file(os.path.join(linked, "cgroup.procs"), str(pid))
    except ProcessLookupError:
        return False
    return True
