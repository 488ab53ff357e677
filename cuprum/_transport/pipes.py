"""OS pipes: creation, sizing, and non-blocking writes awaited with anyio.

The one home of the pipe helpers: the transport's hops and relays use them, and
so does the runtime above it (stdin feeding, output pipes, the stream handle).
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import os
import select
import signal
from typing import Any

__all__ = [
    "DEFAULT_PIPE_SIZE",
    "close_waking",
    "PIPE_SIZE",
    "READ_SIZE",
    "close_quietly",
    "grow_pipe",
    "make_pipe",
    "set_nonblocking",
    "PendingWrite",
    "write_all",
    "write_some",
    "writers_gone",
]

_F_SETPIPE_SZ: int = getattr(fcntl, "F_SETPIPE_SZ", 1031)
DEFAULT_PIPE_SIZE = 65536
"""Linux's default pipe capacity."""
READ_SIZE = 1 << 20
"""Bytes asked for per read of an output pipe."""


def _pipe_max_size() -> int:
    try:
        with open("/proc/sys/fs/pipe-max-size", encoding="ascii") as f:
            return int(f.read())
    except (OSError, ValueError):
        return 1 << 20


PIPE_SIZE = min(1 << 20, _pipe_max_size())
"""Capacity requested for data pipes: 1 MiB (or the system's maximum if lower).
A default 64 KiB pipe makes the writer and reader take turns four times as often."""


def grow_pipe(fd: int, size: int = PIPE_SIZE) -> None:
    """Ask for a pipe capacity of ``size`` (best effort: refused above the per-user
    limit, EPERM, or off Linux, the pipe keeps its capacity)."""
    with contextlib.suppress(OSError):
        fcntl.fcntl(fd, _F_SETPIPE_SZ, size)


def make_pipe(*, size: int | None = None) -> tuple[int, int]:
    """A close-on-exec pipe ``(read_fd, write_fd)``, enlarged to ``size`` when possible."""
    read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
    if size:
        grow_pipe(write_fd, size)
    return read_fd, write_fd


def set_nonblocking(fd: int) -> None:
    """Put our end of a pipe in non-blocking mode (the child's end is unaffected)."""
    os.set_blocking(fd, False)


def close_quietly(fd: int) -> None:
    """Close ``fd``, ignoring an fd that is already gone."""
    # Not contextlib.suppress: this is on every run's path, several times.
    try:  # noqa: SIM105
        os.close(fd)
    except OSError:
        pass


def writers_gone(fd: int) -> bool:
    """Whether every write end of the pipe whose read end is ``fd`` is closed.

    ``POLLHUP``, without reading: a writer that has closed its end (it is exiting,
    say, though not yet waitable) can no longer get EPIPE on it.
    """
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return any(events & select.POLLHUP for _, events in poller.poll(0))


# signal.getsignal() converts handlers to enums on every call; the C module does not.
_csignal: Any = importlib.import_module("_signal")
_SIGPIPE = int(signal.SIGPIPE)
_ONLY_SIGPIPE = (_SIGPIPE,)


def write_some(fd: int, data: bytes | memoryview) -> int:
    """``os.write``, where a reader that has gone is ``BrokenPipeError``, never a
    SIGPIPE: a host that put SIGPIPE back to its default would die of a hop's or a
    stdin's reader exiting early. With SIGPIPE ignored (Python's default) a plain
    write; else SIGPIPE is blocked in this thread for the write and the one the write
    raised is consumed, as the native pump does."""
    if _csignal.getsignal(_SIGPIPE) == _csignal.SIG_IGN:
        return os.write(fd, data)
    pending = _SIGPIPE in signal.sigpending()  # someone else's: left pending
    blocked = _SIGPIPE in signal.pthread_sigmask(signal.SIG_BLOCK, _ONLY_SIGPIPE)
    try:
        return os.write(fd, data)
    except BrokenPipeError:
        if not pending:
            signal.sigtimedwait(_ONLY_SIGPIPE, 0)  # the write's own (thread-directed)
        raise
    finally:
        if not blocked:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _ONLY_SIGPIPE)


class PendingWrite:
    """``data`` going into a non-blocking ``fd`` as fast as its reader makes room: the
    writing without the waiting, for an awaiting driver (:func:`write_all`) and for a
    thread that polls (a direct run's stdin)."""

    __slots__ = ("broken", "fd", "view", "written")

    def __init__(self, fd: int, data: bytes | memoryview) -> None:
        self.fd = fd
        self.view = memoryview(data)
        self.written = 0
        self.broken = False  # the reader went (EPIPE) before taking it all

    def step(self) -> bool:
        """Write what the pipe takes now; True once all is written or the reader went."""
        view = self.view
        while self.written < len(view):
            try:
                self.written += write_some(self.fd, view[self.written :])
            except BlockingIOError:
                return False
            except BrokenPipeError:
                self.broken = True
                return True
        return True


async def write_all(fd: int, data: bytes | memoryview) -> int:
    """Write all of ``data`` to a non-blocking ``fd``; returns bytes written.

    Stops early (returning the count so far) when the reader has gone (EPIPE).
    """
    import anyio  # on an event loop; making and sizing pipes needs none

    pending = PendingWrite(fd, data)
    while not pending.step():
        await anyio.wait_writable(fd)
    return pending.written


def close_waking(fd: int | None) -> None:
    """Close ``fd`` (``None``: nothing), first waking any task of this loop waiting on
    it (it gets ``ClosedResourceError``), so none reads or writes a reused number."""
    if fd is None:
        return
    import anyio

    with contextlib.suppress(Exception):  # (needs a running loop)
        anyio.notify_closing(fd)
    with contextlib.suppress(OSError):
        os.close(fd)
