"""OS pipes: creation, sizing and non-blocking reads/writes awaited with anyio."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable

import anyio
import anyio.lowlevel

__all__ = [
    "PIPE_SIZE",
    "drain_nonblocking",
    "make_pipe",
    "read_chunks",
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


async def read_chunks(fd: int, sink: Callable[[bytes], object], *, grow: bool = False) -> None:
    """Read ``fd`` (non-blocking) until EOF, passing each chunk to ``sink(chunk)``.

    Awaits readiness with anyio, so it works on asyncio and trio, and checkpoints
    after every chunk so a timeout or cancellation is seen even on a busy stream.
    ``grow``: enlarge the pipe to :data:`PIPE_SIZE` the first time a read finds it
    full, so only streams with a lot to say pay for a big pipe.
    """
    read = os.read
    while True:
        try:
            data = read(fd, READ_SIZE)
        except BlockingIOError:
            await anyio.wait_readable(fd)
            continue
        if not data:
            return
        if grow and len(data) >= _DEFAULT_PIPE_SIZE:
            grow = False
            with contextlib.suppress(OSError):
                fcntl.fcntl(fd, _F_SETPIPE_SZ, PIPE_SIZE)
        sink(data)
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
