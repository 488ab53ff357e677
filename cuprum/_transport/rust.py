"""The ``rust`` relay: the native pump moves a hop's bytes on a dedicated thread.

Each call runs ``rust_pump_stream`` on its own :class:`threading.Thread` (not
anyio's worker pool, so a pipeline with more hops than pool threads still
finishes) and waits for it without blocking the event loop: the thread closes
the write end of a *done* pipe as its last act and the event loop awaits the
read end with :func:`anyio.wait_readable`. On cancellation a byte written to
the *stop* pipe makes the pump return at once; the thread is joined in a
shielded scope before the cancellation propagates, so neither the thread nor
any of the relay's own pipes outlive the call. With ``on_chunk`` the pump
also tees every byte into a *tap* pipe that the event loop drains.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

import anyio
import anyio.lowlevel

from cuprum._transport.native import PumpFunction, pump
from cuprum._transport.pipes import grow_pipe, make_pipe, set_nonblocking

__all__ = ["rust_relay"]

#: Capacity asked for the tap pipe (best effort).
_TAP_PIPE_SIZE = 1 << 20
#: Bytes per read of the tap: big enough for few ``on_chunk`` calls, small
#: enough for each chunk to stay in cache while ``on_chunk`` looks at it.
_TAP_READ_SIZE = 256 * 1024


class _PumpJob:
    """One pump call on its thread, and what it hands back to the event loop."""

    __slots__ = (
        "buffer_size",
        "count",
        "done_w",
        "error",
        "native",
        "reader_fd",
        "stop_r",
        "tap_w",
        "writer_fd",
    )

    def __init__(
        self, native: PumpFunction, reader_fd: int, writer_fd: int, buffer_size: int
    ) -> None:
        self.native = native
        self.reader_fd = reader_fd
        self.writer_fd = writer_fd
        self.buffer_size = buffer_size
        self.tap_w: int | None = None
        self.stop_r = -1
        self.done_w = -1
        self.count = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        """Thread body: run the pump, then close ``tap_w`` and ``done_w`` (owned here)."""
        try:
            self.count = self.native(
                self.reader_fd,
                self.writer_fd,
                buffer_size=self.buffer_size,
                tap_fd=self.tap_w,
                stop_fd=self.stop_r,
            )
        except BaseException as exc:  # handed to the event loop, which re-raises it
            self.error = exc
        finally:
            if self.tap_w is not None:
                os.close(self.tap_w)  # EOF for the tap drain: it has seen every byte
            os.close(self.done_w)  # wakes the event loop


async def _drain_tap(tap_r: int, on_chunk: Callable[[bytes], None]) -> None:
    """Pass the tap's bytes to ``on_chunk`` until EOF (the pump has returned).

    Read first and wait only when the pipe is empty: while data keeps coming a
    plain checkpoint between chunks is cheaper than re-arming the readiness
    watch for every chunk, and lets the pump add more to the next read.
    """
    while True:
        try:
            data = os.read(tap_r, _TAP_READ_SIZE)
        except BlockingIOError:
            await anyio.wait_readable(tap_r)
            continue
        if not data:
            return
        on_chunk(data)
        await anyio.lowlevel.checkpoint()


async def rust_relay(
    reader_fd: int,
    writer_fd: int,
    *,
    on_chunk: Callable[[bytes], None] | None = None,
    buffer_size: int = 1 << 20,
) -> int:
    """Move bytes from ``reader_fd`` to ``writer_fd`` until EOF; return the count.

    Same contract as ``python_relay``: the caller owns both fds and closes them
    afterwards (the pump sets ``O_NONBLOCK`` on them while it runs and restores
    their flags); ``on_chunk`` sees every byte of the hop in order, on the event
    loop; a reader that has gone away (EPIPE) ends the hop early. Raises
    :class:`~cuprum._transport.native.NativeUnavailableError` without the extension.
    ``buffer_size`` (bytes per pump call) is for benchmarks; the engine keeps the default.
    """
    native = pump()
    if buffer_size <= 0:
        raise ValueError(f"buffer_size must be > 0, not {buffer_size}")
    job = _PumpJob(native, reader_fd, writer_fd, buffer_size)
    owned: list[int] = []  # closed here at the end; the thread closes tap_w and done_w
    thread: threading.Thread | None = None
    finished = False
    try:
        job.stop_r, stop_w = _pipe(owned)
        done_r, job.done_w = _pipe(owned)
        tap_r: int | None = None
        if on_chunk is not None:
            tap_r, job.tap_w = _pipe(owned)
            set_nonblocking(tap_r)
            grow_pipe(job.tap_w, _TAP_PIPE_SIZE)
        thread = threading.Thread(
            target=job.run, name=f"cuprum-pump-{reader_fd}-{writer_fd}", daemon=True
        )
        thread.start()
        owned.remove(job.done_w)
        if job.tap_w is not None:
            owned.remove(job.tap_w)
        if tap_r is not None and on_chunk is not None:
            await _drain_tap(tap_r, on_chunk)
        await anyio.wait_readable(done_r)
        finished = True
    finally:
        if thread is not None and thread.ident is not None:
            if not finished:
                os.write(stop_w, b"\x00")  # the pump returns promptly
                with anyio.CancelScope(shield=True):
                    await anyio.wait_readable(done_r)
            thread.join()
        for fd in owned:
            os.close(fd)
    if job.error is not None:
        raise job.error
    return job.count


def _pipe(owned: list[int]) -> tuple[int, int]:
    """A new close-on-exec pipe whose two ends are recorded in ``owned``."""
    read_end, write_end = make_pipe()
    owned += (read_end, write_end)
    return read_end, write_end
