"""What the test suites check about processes and fds, read from ``/proc``.

Shared by every test package (``tests/`` is on ``sys.path`` through its conftest).
"""

from __future__ import annotations

import errno
import os
import resource
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

__all__ = [
    "children",
    "group_members",
    "fd_targets",
    "is_dead",
    "only_free_fds",
    "open_fds",
    "process_state",
    "wait_until_dead",
    "wait_until_groups_empty",
    "zombie_children",
]


def process_state(pid: int) -> str | None:
    """The state letter from ``/proc/<pid>/stat`` (``R``, ``S``, ``Z``...), or None if gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name is in parentheses and may contain spaces: split after it.
    return stat.rsplit(")", 1)[1].split()[0]


def is_dead(pid: int) -> bool:
    """Gone, or a zombie (PID 1 here does not reap orphans, so killed orphans stay 'Z')."""
    return process_state(pid) in (None, "Z", "X")


def wait_until_dead(pids: Iterable[int], timeout: float = 10.0) -> list[int]:
    """Poll until every pid is dead (see :func:`is_dead`); return those still alive."""
    pending = list(pids)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        pending = [pid for pid in pending if not is_dead(pid)]
        if pending:
            time.sleep(0.01)
    return pending


def _proc_stats() -> Iterator[tuple[int, list[str]]]:
    """``(pid, fields after the command name)`` of every process in ``/proc/<pid>/stat``."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                yield int(entry), f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue


def group_members(pgids: Iterable[int]) -> list[int]:
    """Live (not zombie) processes whose process group is one of ``pgids``."""
    groups = {str(pgid) for pgid in pgids}
    return [pid for pid, fields in _proc_stats() if fields[2] in groups and fields[0] not in "ZX"]


def wait_until_groups_empty(pgids: Iterable[int], timeout: float = 10.0) -> list[int]:
    """Poll until no live process is left in ``pgids``; return those still there."""
    groups = list(pgids)
    deadline = time.monotonic() + timeout
    while (left := group_members(groups)) and time.monotonic() < deadline:
        time.sleep(0.01)
    return left


def children() -> set[int]:
    """This process's children in any state: running, stopped, or exited and never reaped."""
    me = str(os.getpid())
    return {pid for pid, fields in _proc_stats() if fields[1] == me}


def zombie_children() -> list[int]:
    """Children of this process that have exited but were never reaped."""
    me = str(os.getpid())
    return [pid for pid, fields in _proc_stats() if fields[0] == "Z" and fields[1] == me]


def open_fds() -> set[str]:
    """This process's open file descriptors."""
    return set(os.listdir("/proc/self/fd"))


@contextmanager
def only_free_fds(free: int, *, room: int = 60) -> Iterator[None]:
    """Leave exactly ``free`` fd slots for the block: the soft ``RLIMIT_NOFILE`` is set
    ``room`` above the highest open fd and every slot below it filled, then ``free`` of
    them handed back (the limit and the slots are restored after)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limit = max(map(int, open_fds())) + 1 + room
    assert hard == resource.RLIM_INFINITY or limit <= hard
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
    fillers: list[int] = []
    try:
        while True:
            try:
                fillers.append(os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC))
            except OSError as exc:
                if exc.errno != errno.EMFILE:
                    raise
                break
        for _ in range(free):
            os.close(fillers.pop())
        yield
    finally:
        for fd in fillers:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def fd_targets() -> dict[int, str]:
    """This process's open file descriptors and what each is open on, without the one
    the listing itself used (gone by the time it is read)."""
    found = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            found[int(name)] = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue
    return found
