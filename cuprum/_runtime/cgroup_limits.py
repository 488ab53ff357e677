"""What a run's cgroup cost and what stopped it: accounting, limits and limit events.

Accounting comes from cgroup v2's ``cpu.stat`` (present in every non-root
cgroup, with or without the cpu controller) and ``memory.peak`` (only with
the memory controller; otherwise ``None``). Limits use the v2 controllers
where the host's directory passes them on (``memory.max``, ``pids.max``);
a process limit falls back to the cgroup v1 ``pids`` controller on hybrid
machines, through a v1 directory linked to the run (the native spawn makes the
child join it before exec; see ``placement.py`` for the pure install). What
cannot be applied is reported, never silently dropped.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field

from cuprum._runtime import cgroupfs
from cuprum._runtime.cgroup import RunCgroup, v1_pids_base

__all__ = [
    "CgroupEvents",
    "CgroupLimits",
    "CgroupUsage",
    "LimitReport",
    "apply_limits",
    "read_events",
    "read_usage",
]


@dataclass(frozen=True)
class CgroupUsage:
    """CPU seconds of the whole run (every process that was ever in it) and its memory peak."""

    cpu_seconds: float
    user_cpu_seconds: float
    system_cpu_seconds: float
    memory_peak: int | None  # bytes; None without the v2 memory controller


def read_usage(run: RunCgroup) -> CgroupUsage:
    """Read ``cpu.stat`` (and ``memory.peak`` where the memory controller is on)."""
    stat = cgroupfs.read_keyed(os.path.join(run.path, "cpu.stat"))
    peak: int | None = None
    with (
        contextlib.suppress(OSError, ValueError),
        open(os.path.join(run.path, "memory.peak"), encoding="ascii") as f,
    ):
        peak = int(f.read())
    return CgroupUsage(
        cpu_seconds=stat.get("usage_usec", 0) / 1e6,
        user_cpu_seconds=stat.get("user_usec", 0) / 1e6,
        system_cpu_seconds=stat.get("system_usec", 0) / 1e6,
        memory_peak=peak,
    )


@dataclass(frozen=True)
class CgroupEvents:
    """Limit events counted for the run; ``None`` where that controller is not in use."""

    oom_kills: int | None = None  # memory.events oom_kill
    memory_max_hits: int | None = None  # memory.events max
    pids_max_hits: int | None = None  # pids.events max (v2, or the linked v1 directory)


def read_events(run: RunCgroup) -> CgroupEvents:
    """The run's ``memory.events`` and ``pids.events`` counters."""
    memory = cgroupfs.read_keyed(os.path.join(run.path, "memory.events"))
    pids = cgroupfs.read_keyed(os.path.join(run.path, "pids.events"))
    for linked in run.linked:
        pids = pids or cgroupfs.read_keyed(os.path.join(linked, "pids.events"))
    return CgroupEvents(
        oom_kills=memory.get("oom_kill"),
        memory_max_hits=memory.get("max"),
        pids_max_hits=pids.get("max"),
    )


@dataclass(frozen=True)
class CgroupLimits:
    """Limits for a whole run (every process in its cgroup)."""

    memory_max: int | None = None  # bytes
    pids_max: int | None = None  # processes and threads at once


@dataclass(frozen=True)
class LimitReport:
    """Where each requested limit went (name to control file) and why others could not."""

    applied: dict[str, str] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)


def _v2_file(run: RunCgroup, name: str) -> str | None:
    path = os.path.join(run.path, name)
    return path if os.path.exists(path) else None


def _v1_pids_dir(run: RunCgroup) -> str | None:
    """Create the run's mirror under the v1 ``pids`` hierarchy (hybrid machines)."""
    base = v1_pids_base()
    if base is None:
        return None
    host_dir = os.path.join(base, os.path.basename(os.path.dirname(run.path)))
    path = os.path.join(host_dir, os.path.basename(run.path))
    try:
        with contextlib.suppress(FileExistsError):
            os.mkdir(host_dir)
        os.mkdir(path)
    except OSError:
        return None
    run.linked.append(path)
    return path


def apply_limits(run: RunCgroup, limits: CgroupLimits) -> LimitReport:
    """Write the limits before anything is spawned into ``run``."""
    report = LimitReport()
    if limits.memory_max is not None:
        target = _v2_file(run, "memory.max")
        if target is None:
            report.unavailable["memory_max"] = (
                "the cgroup v2 memory controller is not enabled for cuprum's cgroups "
                "(use the address-space rlimit of the native spawn instead)"
            )
        else:
            cgroupfs.write_file(target, str(limits.memory_max))
            report.applied["memory_max"] = target
    if limits.pids_max is not None:
        target = _v2_file(run, "pids.max")
        if target is None:
            linked = _v1_pids_dir(run)
            target = None if linked is None else os.path.join(linked, "pids.max")
        if target is None:
            report.unavailable["pids_max"] = (
                "no pids controller: neither cgroup v2 pids nor a writable v1 pids hierarchy"
            )
        else:
            cgroupfs.write_file(target, str(limits.pids_max))
            report.applied["pids_max"] = target
    return report
