"""What a command cost (``ResourceUsage``) and the names of the limits that can stop one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["LimitName", "ResourceUsage"]

LimitName = Literal["cpu_seconds", "memory", "open_files", "file_size", "processes"]
"""A field of :class:`~cuprum.Limits`: the limit that stopped a command."""


@dataclass(frozen=True, slots=True)
class ResourceUsage:
    """CPU seconds (user, kernel) and peak resident set size (bytes) of a command.

    The first three come from the reap (``wait4``): the child and the
    descendants it waited for. ``tree_cpu_seconds`` / ``tree_memory_peak`` cover
    every process the command ever started, orphans included, and are set only
    for a contained run (its cgroup's ``cpu.stat`` / ``memory.peak``; the peak
    needs the cgroup memory controller).
    """

    user_cpu_seconds: float
    system_cpu_seconds: float
    max_rss: int
    tree_cpu_seconds: float | None = None
    tree_memory_peak: int | None = None

    @property
    def cpu_seconds(self) -> float:
        """User plus system CPU seconds of the child (and what it waited for)."""
        return self.user_cpu_seconds + self.system_cpu_seconds
