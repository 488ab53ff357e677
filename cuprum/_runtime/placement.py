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
through :func:`spawn_into` are serialised by a lock, so two
runs never swap hosts. cgroup v2's no-internal-processes rule is no
obstacle: a run cgroup is a leaf, and the host only visits.

A host's signal handler may raise at any point of the visit, and again on the
way home: the host still comes home, the limits are restored, every fd is
closed and the lock is free (see :func:`spawn_into`).
"""

from __future__ import annotations

import errno
import itertools
import os
import threading
from collections.abc import Callable

from cuprum._runtime import cgroupfs, owned
from cuprum._runtime.cgroup import RunCgroup

__all__ = ["place_after_spawn", "spawn_into"]

_lock = threading.Lock()
_WRITE = os.O_WRONLY | os.O_CLOEXEC


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


def spawn_into(run: RunCgroup, start: Callable[[], object]) -> None:
    """Call ``start()`` with this process in ``run``'s cgroup: children forked now start there.

    ``start`` is the spawn and no more, and keeps the child where its caller finds
    it (``started.append(spawn(...))``): what it returns is dropped, as a handler
    raising on the way home would drop it. The way home is taken however the call
    ends, even when signal handlers raise at any point, here or on the way home; if
    it fails, the error propagates (the host must not stay in a run that is about
    to be killed).
    """
    # Not a generator context manager: a handler raising in contextlib's __enter__,
    # after the visit began, would leave the host in the run and the lock held by a
    # generator nobody resumes. Here the lock is taken and released by the with
    # statement's own C calls, and every step on the way in has its undo (an fd
    # stored by C code as it is opened: see .owned) in place before it is taken.
    with _lock:
        opened: list[int] = []  # every fd of the visit, closed at the end
        home: list[int] = []  # this process's v2 cgroup.procs
        v1_home: list[int] = []  # this thread's v1 tasks (a hybrid machine's pids)
        limits: list[tuple[int, bytes, int]] = []  # pids.max raised: (fd, old limit, 0)
        restore = itertools.starmap(os.pwrite, limits)  # made now: one C call at the end
        close = owned.closer(opened)
        try:
            _visit(run, opened, home, v1_home, limits)
            start()
        finally:
            # Each step is one C call in a finally of its own: a handler raising as
            # one returns cannot skip the next.
            try:
                if home:
                    os.write(home[0], b"0")
            finally:
                try:
                    if v1_home:
                        os.write(v1_home[0], b"0")
                finally:
                    try:
                        owned.consume(restore)
                    finally:
                        owned.consume(close)


def _visit(
    run: RunCgroup,
    opened: list[int],
    home: list[int],
    v1_home: list[int],
    limits: list[tuple[int, bytes, int]],
) -> None:
    """Into ``run``'s cgroups, each way back open (in ``home``, ``v1_home``) before."""
    v2, v1 = _homes_now(bool(run.linked))
    if run.linked and v1 is None:
        raise OSError(errno.ENOENT, "this thread has no cgroup v1 pids directory to return to")
    home.append(owned.open_into(opened, os.path.join(v2, "cgroup.procs"), _WRITE))
    if v1 is not None and run.linked:
        v1_home.append(owned.open_into(opened, os.path.join(v1, "tasks"), _WRITE))
    # Visitors count against a pids limit: every thread in v2, the one thread in v1.
    _make_room(run.path, len(os.listdir("/proc/self/task")), opened, limits)
    for linked in run.linked:
        _make_room(linked, 1, opened, limits)
    os.write(owned.open_into(opened, os.path.join(run.path, "cgroup.procs"), _WRITE), b"0")
    for linked in run.linked:
        os.write(owned.open_into(opened, os.path.join(linked, "tasks"), _WRITE), b"0")


def _make_room(
    directory: str, visitors: int, opened: list[int], limits: list[tuple[int, bytes, int]]
) -> None:
    """Raise ``directory``'s pids limit to the visitors and the child if it is lower,
    its old value in ``limits`` (to be written back) before it is raised."""
    path = os.path.join(directory, "pids.max")
    try:
        fd = owned.open_into(opened, path, os.O_RDWR | os.O_CLOEXEC)
        old = os.pread(fd, 32, 0)
        limit = int(old)
    except (OSError, ValueError):
        return  # "max", or no pids controller here
    if limit < visitors + 1:
        limits.append((fd, old, 0))
        os.pwrite(fd, str(visitors + 1).encode("ascii"), 0)


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
