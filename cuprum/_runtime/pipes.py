"""Reading a run's output pipes: one epoll set for all of them, awaited with anyio.

Making, sizing and writing pipes is the transport's (:mod:`cuprum._transport.pipes`).
"""

from __future__ import annotations

import errno
import os
import select
from collections.abc import Callable, Collection, Mapping

import anyio
import anyio.lowlevel

from cuprum._transport.pipes import DEFAULT_PIPE_SIZE, PIPE_SIZE, READ_SIZE, grow_pipe

__all__ = ["drain_nonblocking", "read_outputs"]


async def read_outputs(
    sinks: Mapping[int, Callable[[bytes], object]],
    on_eof: Callable[[int], object],
    *,
    grow: Collection[int] = (),
    exit_fd: int | None = None,
    on_exit: Callable[[], object] | None = None,
) -> None:
    """Read every fd in ``sinks`` (non-blocking) until EOF, passing chunks to its sink.

    One task serves all of a run's output pipes: an epoll set watches them and
    anyio awaits the epoll fd itself (asyncio and trio alike); pipes ending together
    cost one wake-up. ``on_eof(fd)`` runs at ``fd``'s EOF (no longer watched then,
    it may be closed). ``exit_fd``: a child's pidfd, watched too, never read: the
    call returns only once it is readable as well, and calls ``on_exit()`` then (a
    caller holding the pipes' write ends until the exit closes them there: the exit
    wakes it once, not the pipes' end and then the exit). A round of reads is
    followed by a wait, or a checkpoint when more is ready at once (cancellation gets
    in on a busy stream); the call is a checkpoint even if all was at EOF already.
    ``grow``: fds enlarged to :data:`PIPE_SIZE` when a read first finds them full. A
    pty master (``tty=``) reads EIO at its end: that is EOF."""
    if not sinks:
        await anyio.lowlevel.checkpoint()
        return
    pending = dict(sinks)
    growing = set(grow)
    with select.epoll(len(pending) + 1) as watch:
        for fd in pending:
            watch.register(fd, select.EPOLLIN)
        if exit_fd is not None:
            watch.register(exit_fd, select.EPOLLIN)
        busy = waited = False  # busy: data read since the last yield
        while pending or exit_fd is not None:
            ready = watch.poll(0)
            if not ready or busy:  # wait; or, with more ready at once, let others in
                await (anyio.lowlevel.checkpoint() if ready else anyio.wait_readable(watch))
                waited, busy = True, False
                if not ready:
                    continue
            for fd, _ in ready:
                if fd == exit_fd:
                    exit_fd = None
                    _exited(watch, fd, still_watched=bool(pending), on_exit=on_exit)
                    continue
                data = _read(fd)
                if data is None:
                    continue
                if not data:
                    del pending[fd]
                    if pending or exit_fd is not None:
                        watch.unregister(fd)
                    on_eof(fd)
                    continue
                if fd in growing and len(data) >= DEFAULT_PIPE_SIZE:
                    growing.discard(fd)
                    grow_pipe(fd, PIPE_SIZE)
                pending[fd](data)
                busy = True
    if not waited:
        await anyio.lowlevel.checkpoint()


def _exited(
    watch: select.epoll, fd: int, *, still_watched: bool, on_exit: Callable[[], object] | None
) -> None:
    """The child exited: stop watching its pidfd (unless the set closes next), tell the caller."""
    if still_watched:
        watch.unregister(fd)
    if on_exit is not None:
        on_exit()


def _read(fd: int) -> bytes | None:
    """One read: the bytes, ``b""`` at EOF, None when nothing is there after all."""
    try:
        return os.read(fd, READ_SIZE)
    except BlockingIOError:
        return None
    except OSError as exc:  # a terminal's master: EIO once its slave is closed
        if exc.errno != errno.EIO:
            raise
        return b""


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
