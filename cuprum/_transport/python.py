"""The ``python`` relay: the parent moves a hop's bytes with anyio."""

from __future__ import annotations

import os
from collections.abc import Callable

import anyio
import anyio.lowlevel

from cuprum._transport.pipes import write_all

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
    ``buffer_size`` (bytes per read) is for benchmarks; the engine keeps the default.
    """
    # One buffer for the whole hop: a fresh 1 MiB bytes object per read would be
    # mapped, faulted in and unmapped again for every chunk.
    buffer = bytearray(buffer_size)
    view = memoryview(buffer)
    total = 0
    readv = os.readv
    while True:
        try:
            count = readv(reader_fd, (buffer,))
        except BlockingIOError:
            await anyio.wait_readable(reader_fd)
            continue
        if not count:
            return total
        chunk = view[:count]
        if on_chunk is not None:
            on_chunk(bytes(chunk))
        written = await write_all(writer_fd, chunk)
        total += written
        if written < count:  # the next stage has gone
            return total
        await anyio.lowlevel.checkpoint()
