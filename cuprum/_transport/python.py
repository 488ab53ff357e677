"""The ``python`` relay: the parent moves a hop's bytes with anyio."""

from __future__ import annotations

import os
from collections.abc import Callable

import anyio
import anyio.lowlevel

from cuprum._runtime.pipes import write_all

__all__ = ["python_relay"]


async def python_relay(
    reader_fd: int,
    writer_fd: int,
    *,
    on_chunk: Callable[[bytes], None] | None = None,
    buffer_size: int = 1 << 20,
) -> int:
    """Move bytes from ``reader_fd`` to ``writer_fd`` until EOF; return the count.

    The contract every relay honours: the caller owns both fds (they must be
    non-blocking) and closes them afterwards; ``on_chunk`` sees every byte of the
    hop in order; a reader that has gone away (EPIPE) ends the hop early.
    """
    total = 0
    read = os.read
    while True:
        try:
            data = read(reader_fd, buffer_size)
        except BlockingIOError:
            await anyio.wait_readable(reader_fd)
            continue
        if not data:
            return total
        if on_chunk is not None:
            on_chunk(data)
        try:
            written = os.write(writer_fd, data)
        except BlockingIOError:
            written = 0
        except BrokenPipeError:
            return total
        if written < len(data):
            written += await write_all(writer_fd, memoryview(data)[written:])
            if written < len(data):
                return total + written
        total += written
        await anyio.lowlevel.checkpoint()
