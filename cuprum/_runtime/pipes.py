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
    anyio awaits the epoll fd itself (it is readable while any pipe is), so this
    works on asyncio and trio alike, and a command's stdout and stderr ending
    together cost one wake-up instead of one per pipe. ``on_eof(fd)`` runs when
    ``fd`` reaches EOF (it is no longer watched then, and may be closed).
    ``exit_fd``: a child's pidfd, watched in the same set and never read: the
    call also returns only once it is readable (the child has exited), and then
    calls ``on_exit()``. (A caller that holds a copy of the pipes' write ends
    until then, closing them in ``on_exit``, is woken once by the exit instead
    of once by the pipes' end and again by the exit, which follows it.)
    Each round of reads is followed by a yield: a wait when nothing more is
    ready, else a checkpoint, so a timeout or cancellation gets in even on a
    busy stream; like any async call this is a checkpoint even when every pipe
    was at EOF already (a child that exited at once): cancellation is seen and
    other tasks get to run. ``grow``: fds to enlarge to :data:`PIPE_SIZE` the first
    time a read finds them full, so only streams with a lot to say pay for a
    big pipe. A pty master (``tty=``) reads EIO where a pipe reads EOF: that is EOF.
    """
    if not sinks:
        await anyio.lowlevel.checkpoint()
        return
    pending = dict(sinks)
    growing = set(grow)
    read = os.read
    with select.epoll(len(pending) + 1) as watch:
        for fd in pending:
            watch.register(fd, select.EPOLLIN)
        if exit_fd is not None:
            watch.register(exit_fd, select.EPOLLIN)
        busy = False  # data read since the last yield
        waited = False
        while pending or exit_fd is not None:
            ready = watch.poll(0)
            if not ready:
                await anyio.wait_readable(watch.fileno())
                waited = True
                busy = False
                continue
            if busy:  # more data without having yielded since the last: let others in
                await anyio.lowlevel.checkpoint()
                waited = True
                busy = False
            for fd, _ in ready:
                if fd == exit_fd:
                    exit_fd = None
                    if pending:  # else the set is closed next: no unregister
                        watch.unregister(fd)
                    if on_exit is not None:
                        on_exit()
                    continue
                try:
                    data = read(fd, READ_SIZE)
                except BlockingIOError:
                    continue
                except OSError as exc:  # a terminal's master: EIO once its slave is closed
                    if exc.errno != errno.EIO:
                        raise
                    data = b""
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
