"""The cgroup filesystems as cuprum uses them: where they are mounted, and small file operations.

Every function here is one or a few system calls (no waiting), except waiting for
a cgroup to become empty (:func:`empty_steps`). An operation that waits is written
once, as :data:`Steps` (a generator of the waits it needs), and run either on the
event loop (asyncio or trio, :func:`run_steps`) or blocking in the calling thread
(:func:`run_steps_blocking`, for ``run_sync()``'s direct path and host shutdown).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import time
from collections.abc import Generator, Iterator
from typing import TypeVar

from cuprum._runtime import owned

__all__ = [
    "Steps",
    "Wait",
    "cgroup2_mount",
    "empty_steps",
    "kill_members",
    "members",
    "own_cgroup",
    "populated",
    "read_keyed",
    "remove_tree",
    "run_steps",
    "run_steps_blocking",
    "v1_controller",
    "wait_empty",
    "wait_empty_blocking",
    "write_file",
]


def _unescape(field: str) -> str:
    """Undo mountinfo's octal escapes (``\\040`` for a space, ...)."""
    if "\\" not in field:
        return field
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def _mounts(mountinfo: str) -> list[tuple[str, str, str]]:
    """``(mount point, filesystem type, super options)`` of every mount."""
    found = []
    with open(mountinfo, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            left, sep, right = line.partition(" - ")
            fields, tail = left.split(), right.split()
            if sep and len(fields) >= 5 and len(tail) >= 3:
                found.append((_unescape(fields[4]), tail[0], tail[2]))
    return found


def cgroup2_mount(mountinfo: str = "/proc/self/mountinfo") -> str | None:
    """Where the cgroup v2 hierarchy is mounted (first such mount), or None."""
    try:
        mounts = _mounts(mountinfo)
    except OSError:
        return None
    return next((point for point, fstype, _ in mounts if fstype == "cgroup2"), None)


def v1_controller(name: str, mountinfo: str = "/proc/self/mountinfo") -> str | None:
    """Where the cgroup v1 hierarchy holding controller ``name`` is mounted, or None."""
    try:
        mounts = _mounts(mountinfo)
    except OSError:
        return None
    for point, fstype, options in mounts:
        if fstype == "cgroup" and name in options.split(","):
            return point
    return None


def own_cgroup(hierarchy: str = "", proc_cgroup: str = "/proc/self/cgroup") -> str | None:
    """This process's cgroup path in the v2 hierarchy (``hierarchy=""``) or a v1 one.

    For v1, ``hierarchy`` is a controller name (``"pids"``); the path is
    relative to that hierarchy's mount point and starts with ``/``.
    """
    try:
        with open(proc_cgroup, encoding="utf-8", errors="surrogateescape") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in lines:
        number, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if hierarchy == "" and number == "0" and controllers == "":
            return path
        if hierarchy and hierarchy in controllers.split(","):
            return path
    return None


def read_keyed(path: str) -> dict[str, int]:
    """A flat-keyed cgroup file (``key value`` lines) as integers; {} if it is missing."""
    opened: list[int] = []  # the fd, stored as it is opened (see .owned)
    close = owned.closer(opened)
    try:
        data = os.read(owned.open_into(opened, path, os.O_RDONLY | os.O_CLOEXEC), 65536)
    except OSError:
        return {}
    finally:
        owned.consume(close)
    values = {}
    for line in data.split(b"\n"):
        key, _, value = line.partition(b" ")
        with contextlib.suppress(ValueError):
            values[key.decode("ascii", "replace")] = int(value)
    return values


def write_file(path: str, text: str) -> None:
    """One ``write(2)`` of ``text`` (cgroup files want the whole value in one write)."""
    data = text.encode("ascii")
    opened: list[int] = []  # the fd, stored as it is opened (see .owned)
    close = owned.closer(opened)
    try:
        os.write(owned.open_into(opened, path, os.O_WRONLY | os.O_CLOEXEC), data)
    finally:
        owned.consume(close)


def _read_pids(path: str) -> list[int]:
    try:
        with open(path, encoding="ascii") as f:
            return [int(line) for line in f.read().split()]
    except OSError:
        return []


def members(cgroup: str) -> list[int]:
    """Pids in ``cgroup`` and every cgroup below it."""
    pids: list[int] = []
    for directory, _, _ in os.walk(cgroup):
        pids.extend(_read_pids(os.path.join(directory, "cgroup.procs")))
    return pids


def populated(cgroup: str) -> bool:
    """Whether any live process is in ``cgroup`` or below it."""
    events = read_keyed(os.path.join(cgroup, "cgroup.events"))
    if "populated" in events:
        return events["populated"] != 0
    return bool(members(cgroup))


def kill_members(cgroup: str) -> None:
    """SIGKILL everything in ``cgroup`` and below, for kernels without ``cgroup.kill``.

    Freezes the cgroup first where it can (``cgroup.freeze``, Linux 5.2), so
    nothing in it can fork between listing and signalling; frozen processes
    still die of SIGKILL. The caller waits for the cgroup to empty and, if it
    does not, calls again (a fork that was already under way may add a child).
    """
    with contextlib.suppress(OSError):
        write_file(os.path.join(cgroup, "cgroup.freeze"), "1")
    for pid in members(cgroup):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def remove_tree(cgroup: str) -> None:
    """``rmdir`` ``cgroup`` and every cgroup below it, deepest first.

    Raises ``OSError`` (``EBUSY``) when one still holds a live process; a
    missing cgroup is no error.
    """
    try:
        os.rmdir(cgroup)  # the usual case: an empty leaf
    except FileNotFoundError:
        pass
    except OSError:
        for directory, _, _ in os.walk(cgroup, topdown=False):
            with contextlib.suppress(FileNotFoundError):
                os.rmdir(directory)


_FIRST_RECHECK = 0.0005
_LAST_RECHECK = 0.05


def _events_fd(cgroup: str, opened: list[int]) -> int | None:
    """``cgroup.events`` opened, the fd in ``opened`` as it is made; None without one."""
    try:
        return owned.open_into(
            opened, os.path.join(cgroup, "cgroup.events"), os.O_RDONLY | os.O_CLOEXEC
        )
    except OSError:
        return None


def _populated_at(fd: int) -> bool:
    """Read ``cgroup.events`` through ``fd`` (which also re-arms its change notification)."""
    for line in os.pread(fd, 4096, 0).decode("ascii").splitlines():
        key, _, value = line.partition(" ")
        if key == "populated":
            return value.strip() != "0"
    return False


Wait = tuple[int | None, float]
"""One wait of a step-wise operation: the fd to wait on (readable; None: time only)
and the seconds to wait at most."""

T = TypeVar("T")
Steps = Generator[Wait, None, T]
"""An operation that waits, written once as the waits it needs (each yielded) and
its result (returned), and run by :func:`run_steps` (on an event loop) or
:func:`run_steps_blocking` (outside one)."""


def _waits(steps: Steps[T], result: list[T]) -> Iterator[Wait]:
    """The waits ``steps`` asks for; its result is put in ``result`` at the end."""
    result.append((yield from steps))


async def run_steps(steps: Steps[T]) -> T:
    """Run ``steps`` on the event loop (asyncio or trio): each wait is awaited."""
    import anyio

    result: list[T] = []
    try:
        for fd, seconds in _waits(steps, result):
            if fd is None:
                await anyio.sleep(seconds)
            else:
                with anyio.move_on_after(seconds):
                    await anyio.wait_readable(fd)
    finally:
        steps.close()  # cancelled mid-way: its fds are closed now
    return result[0]


def run_steps_blocking(steps: Steps[T]) -> T:
    """Run ``steps`` in this thread, blocking in ``poll`` for each wait."""
    result: list[T] = []
    try:
        for fd, seconds in _waits(steps, result):
            watcher = select.poll()
            if fd is not None:
                watcher.register(fd, select.POLLIN)
            watcher.poll(seconds * 1000)
    finally:
        steps.close()
    return result[0]


def empty_steps(cgroup: str, timeout: float) -> Steps[bool]:
    """Wait until ``cgroup`` holds no live process; False if ``timeout`` passed first.

    The kernel flags ``cgroup.events`` with ``POLLPRI`` when it changes; an
    epoll set watching that is readable then, which both drivers wait on.
    That notification is rate-limited (at most one per 10 ms per file), while
    the file itself is always current, so the wait also re-reads it after
    short, growing timeouts (0.5 ms doubling to 50 ms): a cgroup emptied by a
    kill is seen within a millisecond. Without ``cgroup.events`` (the root
    cgroup) it polls the member lists the same way.
    """
    deadline = time.monotonic() + timeout
    opened: list[int] = []  # cgroup.events, closed at the end
    close = owned.closer(opened)
    watcher = None
    try:
        fd = _events_fd(cgroup, opened)
        if fd is not None:
            watcher = select.epoll()
            watcher.register(fd, select.EPOLLPRI)
        delay = _FIRST_RECHECK
        while _populated_at(fd) if fd is not None else populated(cgroup):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            yield (None if watcher is None else watcher.fileno()), min(delay, remaining)
            delay = min(delay * 2, _LAST_RECHECK)
        return True
    finally:
        try:
            owned.consume(close)
        finally:
            if watcher is not None:
                watcher.close()


async def wait_empty(cgroup: str, timeout: float) -> bool:
    """:func:`empty_steps` awaited on the event loop."""
    return await run_steps(empty_steps(cgroup, timeout))


def wait_empty_blocking(cgroup: str, timeout: float) -> bool:
    """:func:`empty_steps` for code outside an event loop (blocks in ``poll``)."""
    return run_steps_blocking(empty_steps(cgroup, timeout))
