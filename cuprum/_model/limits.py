"""``Limits``: per-command resource limits, applied without ``preexec_fn``."""

from __future__ import annotations

from dataclasses import dataclass, fields

from cuprum._core.errors import InvalidArgumentError

__all__ = ["Limits", "check_limit_fields"]


@dataclass(frozen=True, slots=True)
class Limits:
    """Resource limits for one command and everything it starts.

    ``cpu_seconds``: CPU time of each process (SIGXCPU, then SIGKILL one
    second later). ``memory``: bytes, for the command's whole tree where its
    run has a cgroup with the memory controller, else the address space of
    each process. ``open_files``: descriptors per process. ``file_size``: bytes
    per file written (SIGXFSZ). ``processes``: processes and threads at once in
    the command's cgroup, else ``RLIMIT_NPROC`` (per user; does not bind root).
    """

    cpu_seconds: int | None = None
    memory: int | None = None
    open_files: int | None = None
    file_size: int | None = None
    processes: int | None = None

    def __post_init__(self) -> None:
        check_limit_fields(self)

    @property
    def wants_cgroup(self) -> bool:
        """Whether a cgroup would enforce part of these limits better (tree-wide)."""
        return self.memory is not None or self.processes is not None


def check_limit_fields(limits: object) -> None:
    """Every field of a limits dataclass is a non-negative ``int`` or ``None``."""
    for item in fields(limits):  # type: ignore[arg-type]
        value = getattr(limits, item.name)
        if value is not None and (type(value) is not int or value < 0):
            raise InvalidArgumentError(
                f"limits: {item.name} must be a non-negative int or None, not {value!r}"
            )
