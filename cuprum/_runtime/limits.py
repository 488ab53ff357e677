"""Per-command resource limits, and telling which limit stopped a command.

:class:`ResourceLimits` are per-process ``setrlimit`` limits: the native spawn
sets them in the child before exec; the pure install can only apply them
with ``prlimit`` right after the spawn (:func:`apply_prlimits`), which leaves
the program a moment before they hold. A limit on a whole run (memory of the
tree, number of processes) belongs to its cgroup (``cgroup_limits.py``):
``RLIMIT_NPROC`` counts every process of the user and does not hold for root
at all. :func:`which_limit` names the limit a finished command ran into, where
the kernel left evidence of it.
"""

from __future__ import annotations

import contextlib
import resource
import signal
from dataclasses import dataclass

from cuprum._model.limits import check_limit_fields
from cuprum._runtime.cgroup_limits import CgroupEvents, CgroupLimits
from cuprum._runtime.reap import ResourceUsage

__all__ = ["ResourceLimits", "apply_prlimits", "which_limit"]

_RESOURCES = {
    "cpu_seconds": resource.RLIMIT_CPU,
    "address_space": resource.RLIMIT_AS,
    "open_files": resource.RLIMIT_NOFILE,
    "file_size": resource.RLIMIT_FSIZE,
    "processes": resource.RLIMIT_NPROC,
}


@dataclass(frozen=True)
class ResourceLimits:
    """``setrlimit`` limits for one command's process (inherited by what it starts).

    ``cpu_seconds``: SIGXCPU at that many CPU seconds, SIGKILL one second
    later. ``address_space``, ``file_size``: bytes. ``processes``:
    ``RLIMIT_NPROC`` (per user, ignored for root: prefer a cgroup pids limit).
    """

    cpu_seconds: int | None = None
    address_space: int | None = None
    open_files: int | None = None
    file_size: int | None = None
    processes: int | None = None

    def __post_init__(self) -> None:
        check_limit_fields(self)

    def rlimits(self) -> list[tuple[int, int, int]]:
        """``(resource, soft, hard)`` items, in a fixed order."""
        items = []
        for name, number in _RESOURCES.items():
            value = getattr(self, name)
            if value is not None:
                hard = value + 1 if name == "cpu_seconds" else value
                items.append((number, value, hard))
        return items


def apply_prlimits(pid: int, limits: ResourceLimits) -> None:
    """Set ``limits`` on a running child (the pure install's way; see the module docs)."""
    for number, soft, hard in limits.rlimits():
        with contextlib.suppress(ProcessLookupError):
            resource.prlimit(pid, number, (soft, hard))


def which_limit(
    returncode: int | None,
    *,
    limits: ResourceLimits | None = None,
    cgroup_limits: CgroupLimits | None = None,
    events: CgroupEvents | None = None,
    usage: ResourceUsage | None = None,
) -> str | None:
    """The limit that stopped a command (a field name of the limit types), or None.

    Only answers from evidence: the signal the kernel sends for a limit
    (SIGXCPU, SIGXFSZ; SIGKILL at the CPU hard limit with the CPU used to
    prove it), or the cgroup's own counters (``oom_kill``, ``pids.events``).
    A failed allocation under ``address_space`` or a refused ``open`` under
    ``open_files`` leave no such trace: the program just fails, so None.
    """
    if returncode is None or returncode == 0:
        return None
    rl = limits or ResourceLimits()
    cg = cgroup_limits or CgroupLimits()
    ev = events or CgroupEvents()
    if cg.memory_max is not None and (ev.oom_kills or 0) > 0:
        return "memory_max"
    if rl.cpu_seconds is not None:
        if returncode == -signal.SIGXCPU:
            return "cpu_seconds"
        used = None if usage is None else usage.user_cpu_seconds + usage.system_cpu_seconds
        if returncode == -signal.SIGKILL and used is not None and used >= rl.cpu_seconds + 0.9:
            return "cpu_seconds"
    if rl.file_size is not None and returncode == -signal.SIGXFSZ:
        return "file_size"
    if cg.pids_max is not None and (ev.pids_max_hits or 0) > 0:
        return "pids_max"
    return None
