"""OS pipes: creation, sizing and non-blocking reads/writes awaited with anyio."""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
from collections.abc import Callable, Collection, Mapping

import anyio
import anyio.lowlevel

__all__ = [
    "PIPE_SIZE",
    "drain_nonblocking",
    "make_pipe",
    "read_outputs",
    "set_nonblocking",
    "write_all",
]

_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)


def _pipe_max_size() -> int:
    try:
        with open("/proc/sys/fs/pipe-max-size", encoding="ascii") as f:
            return int(f.read())
    except (OSError, ValueError):
        return 1 << 20


PIPE_SIZE = min(1 << 20, _pipe_max_size())
"""Capacity requested for data pipes: 1 MiB (or the system's maximum if lower).
A default 64 KiB pipe makes the writer and reader take turns four times as often."""

READ_SIZE = 1 << 20
_DEFAULT_PIPE_SIZE = 65536  # Linux's default pipe capacity


def make_pipe(*, size: int | None = None) -> tuple[int, int]:
    """A close-on-exec pipe ``(read_fd, write_fd)``, enlarged to ``size`` when possible."""
    read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
    if size:
        # Refused above the per-user limit (EPERM) or off Linux: keep the default.
        with contextlib.suppress(OSError):
            fcntl.fcntl(write_fd, _F_SETPIPE_SZ, size)
    return read_fd, write_fd


def set_nonblocking(fd: int) -> None:
    """Put our end of a pipe in non-blocking mode (the child's end is unaffected)."""
    os.set_blocking(fd, False)


async def read_outputs(
    sinks: Mapping[int, Callable[[bytes], object]],
    on_eof: Callable[[int], object],
    *,
    grow: Collection[int] = (),
) -> None:
    """Read every fd in ``sinks`` (non-blocking) until EOF, passing chunks to its sink.

    One task serves all of a run's output pipes: an epoll set watches them and
    anyio awaits the epoll fd itself (it is readable while any pipe is), so this
    works on asyncio and trio alike, and a command's stdout and stderr ending
    together cost one wake-up instead of one per pipe. ``on_eof(fd)`` runs when
    ``fd`` reaches EOF (it is no longer watched then, and may be closed). A
    checkpoint after each round of reads lets a timeout or cancellation in even
    on a busy stream; like any async call this is a checkpoint even when every
    pipe was at EOF already (a child that exited at once): cancellation is seen
    and other tasks get to run. ``grow``: fds to enlarge to :data:`PIPE_SIZE` the first
    time a read finds them full, so only streams with a lot to say pay for a
    big pipe.
    """
    if not sinks:
        await anyio.lowlevel.checkpoint()
        return
    pending = dict(sinks)
    growing = set(grow)
    read = os.read
    with select.epoll(len(pending)) as watch:
        for fd in pending:
            watch.register(fd, select.EPOLLIN)
        waited = False
        while pending:
            ready = watch.poll(0)
            if not ready:
                await anyio.wait_readable(watch.fileno())
                waited = True
                continue
            for fd, _ in ready:
                try:
                    data = read(fd, READ_SIZE)
                except BlockingIOError:
                    continue
                if not data:
                    watch.unregister(fd)
                    del pending[fd]
                    on_eof(fd)
                    continue
                if fd in growing and len(data) >= _DEFAULT_PIPE_SIZE:
                    growing.discard(fd)
                    with contextlib.suppress(OSError):
                        fcntl.fcntl(fd, _F_SETPIPE_SZ, PIPE_SIZE)
                pending[fd](data)
            if pending:
                await anyio.lowlevel.checkpoint()
                waited = True
    if not waited:
        await anyio.lowlevel.checkpoint()


def drain_nonblocking(fd: int, sink: Callable[[bytes], object]) -> None:
    """Read whatever is already buffered in ``fd`` without waiting (after a teardown)."""
    while True:
        try:
            data = os.read(fd, READ_SIZE)
        except (BlockingIOError, OSError):
            return
        if not data:
            return
        sink(data)


async def write_all(fd: int, data: bytes | memoryview) -> int:
    """Write all of ``data`` to a non-blocking ``fd``; returns bytes written.

    Stops early (returning the count so far) when the reader has gone (EPIPE).
    """
    view = memoryview(data)
    written = 0
    while written < len(view):
        try:
            written += os.write(fd, view[written:])
        except BlockingIOError:
            await anyio.wait_writable(fd)
        except BrokenPipeError:
            return written
    return written
