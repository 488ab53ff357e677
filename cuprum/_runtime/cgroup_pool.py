"""Reusing emptied run cgroups, so a contained run costs no ``mkdir``/``rmdir``.

Creating a cgroup, opening it and removing it again is most of what
containment adds to a short run (measured in docs/containment.md). A run
without limits whose cgroup is empty when it ends hands the cgroup back
here instead; the next such run takes it. Its ``cpu.stat`` and
``cgroup.events`` stay open and are re-read with ``pread`` (one system call
each), and the tree's CPU seconds are the difference between two readings.
Not pooled: runs with limits (their counters and limit files are theirs),
hosts whose runs get the memory controller (``memory.peak`` cannot be
reset), and any cgroup still populated at the end (that one is destroyed).
The pool is emptied at interpreter exit; after a crash the next host's sweep
removes what was left.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading

from cuprum._runtime.cgroup import CgroupHost, RunCgroup
from cuprum._runtime.cgroup_limits import CgroupUsage

__all__ = ["Slot", "drain", "give_back", "take"]

_MAX = 8
_lock = threading.Lock()
_free: dict[tuple[int, str], list[Slot]] = {}  # (pid, host path) -> idle slots
_poolable: dict[str, bool] = {}


def _cpu(data: bytes) -> tuple[int, int, int]:
    values = dict(line.split(b" ", 1) for line in data.splitlines() if b" " in line)
    return (
        int(values.get(b"usage_usec", 0)),
        int(values.get(b"user_usec", 0)),
        int(values.get(b"system_usec", 0)),
    )


class Slot:
    """A run cgroup kept open for reuse: its directory fd, ``cpu.stat`` and ``cgroup.events``."""

    __slots__ = ("events_fd", "host", "run", "start", "stat_fd")

    def __init__(self, host: CgroupHost, run: RunCgroup) -> None:
        self.host = host
        self.run = run
        flags = os.O_RDONLY | os.O_CLOEXEC
        self.stat_fd = os.open(os.path.join(run.path, "cpu.stat"), flags)
        try:
            self.events_fd = os.open(os.path.join(run.path, "cgroup.events"), flags)
        except OSError:
            os.close(self.stat_fd)
            raise
        self.start = self._read_cpu()

    def _read_cpu(self) -> tuple[int, int, int]:
        return _cpu(os.pread(self.stat_fd, 4096, 0))

    def usage(self) -> CgroupUsage:
        """The tree's CPU since this run took the slot."""
        now = self._read_cpu()
        total, user, system = (b - a for a, b in zip(self.start, now, strict=True))
        self.start = now
        return CgroupUsage(total / 1e6, user / 1e6, system / 1e6, None)

    def empty(self) -> bool:
        """Whether no process is left in the cgroup (``populated 0``)."""
        return b"populated 0" in os.pread(self.events_fd, 4096, 0)

    def close(self) -> None:
        """Release the descriptors (the directory fd goes with ``run.destroy``/``remove``)."""
        for fd in (self.stat_fd, self.events_fd):
            with contextlib.suppress(OSError):
                os.close(fd)


def _allowed(host: CgroupHost) -> bool:
    found = _poolable.get(host.path)
    if found is None:
        found = _poolable[host.path] = "memory" not in host.controllers()
    return found


def take(host: CgroupHost) -> Slot | None:
    """An idle cgroup of ``host`` (or a new one); None where runs may not be pooled."""
    if not _allowed(host):
        return None
    key = (os.getpid(), host.path)
    with _lock:
        free = _free.get(key)
        if free:
            return free.pop()
    if os.getpid() not in _registered:  # after the host's own exit hook: runs first
        _registered.add(os.getpid())
        atexit.register(drain)
    run = host.new_run()
    try:
        return Slot(host, run)
    except OSError:
        with contextlib.suppress(OSError):
            run.remove()
        raise


def give_back(slot: Slot) -> bool:
    """Keep the (empty) slot for the next run; False if the pool is full (caller destroys)."""
    key = (os.getpid(), slot.host.path)
    with _lock:
        free = _free.setdefault(key, [])
        if len(free) >= _MAX:
            return False
        free.append(slot)
    return True


def drain() -> None:
    """Remove every idle cgroup of this process (at interpreter exit)."""
    pid = os.getpid()
    with _lock:
        slots = [slot for (owner, _), free in _free.items() if owner == pid for slot in free]
        for key in [key for key in _free if key[0] == pid]:
            del _free[key]
    for slot in slots:
        slot.close()
        with contextlib.suppress(OSError):
            slot.run.remove()


_registered: set[int] = set()
