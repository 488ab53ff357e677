"""One cgroup v2 per run: find where cuprum may create them, create, kill, empty and remove them.

Layout: ``<base>/cuprum-<pid>.<start>/run-<n>``. ``<base>`` is the cgroup the
user names (argument, or ``CUPRUM_CGROUP_BASE``: a path under the cgroup v2
mount, or a cgroup path such as ``/user.slice/...``), else this process's own
cgroup. ``cuprum-<pid>.<start>`` is this process's directory (pid and start
time, so a reused pid is not mistaken for a live host); it holds no process
itself, so cgroup v2's no-internal-processes rule lets its runs use
controllers. The first use sweeps the directories of hosts that died without
cleaning up (killing what is left in them). Killing a run uses ``cgroup.kill``
(Linux 5.14), else freeze-and-SIGKILL (:func:`cgroupfs.kill_members`).
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import itertools
import os
import re
import threading
from dataclasses import dataclass

from cuprum._runtime import cgroupfs
from cuprum._runtime.cgroupfs import Steps

__all__ = [
    "ENV_BASE",
    "CgroupHost",
    "CgroupSupport",
    "RunCgroup",
    "host",
    "host_blocking",
    "host_steps",
    "own_host_dirs",
    "probe",
    "sweep_stale",
    "v1_pids_base",
]

ENV_BASE = "CUPRUM_CGROUP_BASE"
_HOST_NAME = re.compile(r"cuprum-(\d+)\.(\d+)\Z")


@dataclass(frozen=True)
class CgroupSupport:
    """Whether cuprum can contain runs in cgroups here, and where; ``reason`` says why not."""

    mount: str | None
    base: str | None
    reason: str | None = None

    @property
    def available(self) -> bool:
        """True when runs can get a cgroup of their own."""
        return self.reason is None


def _resolve_base(mount: str, base: str | None) -> str | None:
    """The base directory: ``base``, else ``$CUPRUM_CGROUP_BASE``, else our own cgroup."""
    chosen = base if base is not None else os.environ.get(ENV_BASE) or None
    if chosen is None:
        chosen = cgroupfs.own_cgroup()
        if chosen is None:
            return None
    elif os.path.commonpath([mount, os.path.abspath(chosen)]) == mount:
        return os.path.normpath(os.path.abspath(chosen))
    return os.path.normpath(os.path.join(mount, chosen.lstrip("/")))


def probe(base: str | None = None, mountinfo: str = "/proc/self/mountinfo") -> CgroupSupport:
    """Find the cgroup v2 mount and check that cuprum may create cgroups under ``base``."""
    mount = cgroupfs.cgroup2_mount(mountinfo)
    if mount is None:
        reason = "no cgroup v2 hierarchy is mounted (see /proc/self/mountinfo)"
        return CgroupSupport(None, None, reason)
    where = _resolve_base(mount, base)
    if where is None:
        return CgroupSupport(mount, None, "this process has no cgroup v2 path in /proc/self/cgroup")
    if not os.path.isfile(os.path.join(where, "cgroup.procs")):
        return CgroupSupport(mount, where, f"base cgroup {where} does not exist")
    if not os.access(where, os.W_OK):
        return CgroupSupport(
            mount,
            where,
            f"cannot create cgroups under {where}: run as root, or delegate a cgroup to this "
            f"user and name it in {ENV_BASE}",
        )
    return CgroupSupport(mount, where)


def _start_time(pid: int) -> int | None:
    """Field 22 of ``/proc/<pid>/stat`` (clock ticks after boot); None if gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] in "ZX" else int(fields[19])


def _host_alive(name: str) -> bool:
    match = _HOST_NAME.match(name)
    if match is None:
        return True  # not ours: never touch it
    return _start_time(int(match[1])) == int(match[2])


def _own_host_name() -> str:
    pid = os.getpid()
    return f"cuprum-{pid}.{_start_time(pid)}"


async def sweep_stale(base: str, timeout: float = 2.0) -> list[str]:
    """Kill and remove the directories of dead cuprum hosts under ``base``.

    Returns the cgroups that could not be removed (a process that would not
    die within ``timeout``); the next sweep tries again.
    """
    return await cgroupfs.run_steps(_sweep_steps(base, timeout))


def _sweep_steps(base: str, timeout: float) -> Steps[list[str]]:
    left = []
    for path in _stale_hosts(base):
        if not (yield from _destroy_steps(path, timeout)):
            left.append(path)
    return left


def _stale_hosts(base: str) -> list[str]:
    """Directories under ``base`` named like a cuprum host whose process is gone."""
    try:
        entries = sorted(os.listdir(base))
    except OSError:
        return []
    paths = ((entry, os.path.join(base, entry)) for entry in entries)
    return [path for entry, path in paths if os.path.isdir(path) and not _host_alive(entry)]


def _kill(path: str) -> bool:
    """SIGKILL everything in the cgroup ``path`` and below (``cgroup.kill`` where present);
    True if ``cgroup.kill`` did, which reaches every member, whatever its user ID."""
    try:
        cgroupfs.write_file(os.path.join(path, "cgroup.kill"), "1")
    except FileNotFoundError:
        cgroupfs.kill_members(path)
    except OSError:
        pass
    else:
        return True
    return False


def _remove(path: str) -> bool:
    try:
        cgroupfs.remove_tree(path)
    except OSError:
        return False
    return True


def _destroy_steps(path: str, timeout: float) -> Steps[bool]:
    """Kill everything in ``path`` (and below), wait for it to empty, remove it.

    The usual end of a run leaves an empty leaf, which one ``rmdir`` removes
    (cheaper than reading ``cgroup.events`` first). Otherwise it kills up to
    three times: a fork already under way at the first kill can still add a
    process (only the freeze-based fallback can meet one).
    """
    try:
        os.rmdir(path)
    except FileNotFoundError:
        return True
    except OSError:
        pass  # populated, or cgroups below it
    else:
        return True
    for _ in range(3):
        _kill(path)
        if (yield from cgroupfs.empty_steps(path, timeout / 3)):
            break
    return _remove(path)


class RunCgroup:
    """The cgroup of one run: a directory, and a descriptor of it for ``clone3``."""

    __slots__ = ("fd", "linked", "path")

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd: int | None = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        # cgroup v1 directories (the pids mirror) the run's processes also join.
        self.linked: list[str] = []

    def procs(self) -> list[int]:
        """Pids in the run's cgroup (and any cgroup a member created below it)."""
        return cgroupfs.members(self.path)

    def populated(self) -> bool:
        """Whether any process of the run is still alive."""
        return cgroupfs.populated(self.path)

    def add(self, pid: int) -> None:
        """Move ``pid`` into the run (for processes started outside it)."""
        cgroupfs.write_file(os.path.join(self.path, "cgroup.procs"), str(pid))

    def kill(self) -> bool:
        """SIGKILL every process of the run, however it was started or detached; True
        if the kernel did (``cgroup.kill``: even a member this process may not signal)."""
        return _kill(self.path)

    async def wait_empty(self, timeout: float) -> bool:
        """Wait (without blocking the loop) until the run is empty; False on timeout."""
        return await cgroupfs.wait_empty(self.path, timeout)

    def remove(self) -> None:
        """Remove the (empty) cgroup and release its descriptor; ``OSError`` if populated."""
        self.close_fd()
        cgroupfs.remove_tree(self.path)
        for linked in self.linked:
            cgroupfs.remove_tree(linked)

    def close_fd(self) -> None:
        """Release the directory descriptor (spawning into the run is over)."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    async def destroy(self, timeout: float = 5.0) -> bool:
        """Kill, wait for the run to empty, remove; False if something would not die."""
        return await cgroupfs.run_steps(self.destroy_steps(timeout))

    def destroy_blocking(self, timeout: float = 5.0) -> bool:
        """:meth:`destroy` outside an event loop (``run_sync()``'s direct path)."""
        return cgroupfs.run_steps_blocking(self.destroy_steps(timeout))

    def destroy_steps(self, timeout: float) -> Steps[bool]:
        """What :meth:`destroy` does, as :data:`~.cgroupfs.Steps`."""
        self.close_fd()
        removed = yield from _destroy_steps(self.path, timeout)
        for linked in self.linked:
            removed = (yield from _destroy_steps(linked, timeout)) and removed
        return removed


class CgroupHost:
    """This process's cgroup directory, ``<base>/cuprum-<pid>.<start>``, and its runs."""

    __slots__ = ("_counter", "base", "path", "pid")

    def __init__(self, base: str) -> None:
        self.base = base
        self.pid = os.getpid()
        self.path = os.path.join(base, _own_host_name())
        with contextlib.suppress(FileExistsError):
            os.mkdir(self.path)
        self._counter = itertools.count(1)
        self._enable_controllers()
        atexit.register(self._remove_if_empty)

    def _mirrors(self) -> list[str]:
        """The host directory and its v1 ``pids`` mirror (where runs may have linked)."""
        v1 = v1_pids_base()
        mirror = None if v1 is None else os.path.join(v1, os.path.basename(self.path))
        return [self.path] if mirror is None else [self.path, mirror]

    def _remove_if_empty(self) -> None:
        """At interpreter exit: remove the host directories if no run is left in them."""
        if os.getpid() == self.pid:
            for path in self._mirrors():
                with contextlib.suppress(OSError):
                    os.rmdir(path)

    def _enable_controllers(self) -> None:
        """Pass every controller the host may use on to its runs (memory, pids, cpu...)."""
        control = os.path.join(self.path, "cgroup.subtree_control")
        try:
            with open(os.path.join(self.path, "cgroup.controllers"), encoding="ascii") as f:
                names = f.read().split()
        except OSError:
            return
        for name in names:
            with contextlib.suppress(OSError):
                cgroupfs.write_file(control, f"+{name}")

    def controllers(self) -> frozenset[str]:
        """Controllers each run cgroup gets (those enabled in the host's subtree_control)."""
        try:
            with open(os.path.join(self.path, "cgroup.subtree_control"), encoding="ascii") as f:
                return frozenset(f.read().split())
        except OSError:
            return frozenset()

    def new_run(self) -> RunCgroup:
        """Create ``run-<n>`` under the host directory (a few system calls)."""
        while True:
            path = os.path.join(self.path, f"run-{next(self._counter)}")
            try:
                os.mkdir(path)
            except FileExistsError:
                continue
            try:
                return RunCgroup(path)
            except OSError:  # no descriptor left (EMFILE): leave no empty cgroup behind
                with contextlib.suppress(OSError):
                    os.rmdir(path)
                raise

    async def close(self, timeout: float = 5.0) -> bool:
        """Destroy every run left and the host directories themselves (at shutdown)."""
        return await cgroupfs.run_steps(self._close_steps(timeout))

    def _close_steps(self, timeout: float) -> Steps[bool]:
        removed = True
        for path in self._mirrors():
            removed = (yield from _destroy_steps(path, timeout)) and removed
        return removed


_lock = threading.Lock()
_hosts: dict[str, CgroupHost] = {}


async def host(support: CgroupSupport) -> CgroupHost:
    """This process's :class:`CgroupHost` under ``support.base``; the first call sweeps.

    A forked child of the host gets a directory of its own (the parent's is
    keyed by the parent's pid).
    """
    return await cgroupfs.run_steps(host_steps(support))


def host_blocking(support: CgroupSupport) -> CgroupHost:
    """:func:`host` outside an event loop (``run_sync()``'s direct path)."""
    return cgroupfs.run_steps_blocking(host_steps(support))


def host_steps(support: CgroupSupport) -> Steps[CgroupHost]:
    """What :func:`host` does, as :data:`~.cgroupfs.Steps`."""
    if not support.available or support.base is None:
        raise OSError(errno.ENOTSUP, f"cgroups are unavailable: {support.reason}")
    base = support.base
    with _lock:
        found = _hosts.get(base)
        fresh = found is None or found.pid != os.getpid()
        if fresh:
            found = _hosts[base] = CgroupHost(base)
    assert found is not None
    if fresh:
        yield from _sweep_steps(base, 2.0)
        v1_base = v1_pids_base()
        if v1_base is not None:
            yield from _sweep_steps(v1_base, 2.0)
    return found


def own_host_dirs() -> list[str]:
    """This process's host directories (and v1 mirrors), for a host about to die."""
    pid = os.getpid()
    return [path for found in _hosts.values() if found.pid == pid for path in found._mirrors()]


def v1_pids_base() -> str | None:
    """This process's cgroup in the v1 ``pids`` hierarchy, where run mirrors go; None if none."""
    mount = cgroupfs.v1_controller("pids")
    own = cgroupfs.own_cgroup("pids")
    if mount is None or own is None:
        return None
    base = os.path.join(mount, own.lstrip("/"))
    return base if os.access(base, os.W_OK) else None
