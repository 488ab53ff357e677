"""A run's output pipes in one epoll set: what a round of readiness does, without waiting.

:class:`OutputReader` is the reading itself (sans I/O: it never waits). Its two
drivers wait in their own way: :func:`cuprum._runtime.pipes.read_outputs` awaits the
epoll fd with anyio (asyncio and trio alike), :mod:`cuprum._runtime.direct` blocks
the calling thread in ``epoll_wait`` with the run's deadline.
"""

from __future__ import annotations

import errno
import os
import select
from collections.abc import Callable, Collection, Mapping
from typing import Any

from cuprum._transport.pipes import DEFAULT_PIPE_SIZE, PIPE_SIZE, READ_SIZE, grow_pipe

__all__ = ["OutputReader", "drain_nonblocking"]


class OutputReader:
    """Read every fd in ``sinks`` (non-blocking) until EOF, passing chunks to its sink.

    ``on_eof(fd)`` runs at ``fd``'s EOF (no longer watched then, it may be closed).
    ``exit_fd``: a child's pidfd, watched too, never read: the reader is
    :attr:`done` only once it is readable as well, and calls ``on_exit()`` then (a
    caller holding the pipes' write ends until the exit closes them there: the exit
    wakes it once, not the pipes' end and then the exit). ``grow``: fds enlarged to
    :data:`PIPE_SIZE` when a read first finds them full. A pty master (``tty=``)
    reads EIO at its end: that is EOF. Close it (:meth:`close`) when done.

    ``watch`` is an epoll set, whose own fd an event loop can await; with
    ``in_thread`` (a thread that waits itself, in :meth:`wait`) a ``select.poll``:
    nothing to create, register in the kernel or close.
    """

    __slots__ = ("_exit_fd", "_growing", "_on_eof", "_on_exit", "_pending", "_polled", "watch")

    def __init__(
        self,
        sinks: Mapping[int, Callable[[bytes], object]],
        on_eof: Callable[[int], object],
        *,
        grow: Collection[int] = (),
        exit_fd: int | None = None,
        on_exit: Callable[[], object] | None = None,
        in_thread: bool = False,
    ) -> None:
        self._pending = dict(sinks)
        self._growing = set(grow)
        self._exit_fd = exit_fd
        self._on_eof = on_eof
        self._on_exit = on_exit
        self._polled = in_thread
        self.watch: Any = select.poll() if in_thread else select.epoll(len(sinks) + 1)
        try:
            for fd in sinks:
                self.watch.register(fd, select.EPOLLIN)  # == POLLIN
            if exit_fd is not None:
                once = 0 if in_thread else select.EPOLLONESHOT
                self.watch.register(exit_fd, select.EPOLLIN | once)
        except BaseException:
            self.close()
            raise

    def wait(self, timeout: float) -> list[tuple[int, int]]:
        """Block until something is ready, or ``timeout`` seconds (negative: no limit)."""
        if self._polled:
            return self.watch.poll(None if timeout < 0 else timeout * 1000)  # type: ignore[no-any-return]
        return self.watch.poll(timeout)  # type: ignore[no-any-return]

    @property
    def done(self) -> bool:
        """Every pipe at EOF, and the child (if watched) exited."""
        return not self._pending and self._exit_fd is None

    def handle(self, ready: list[tuple[int, int]]) -> bool:
        """One round: act on what ``epoll`` said is ready; True when data was read."""
        busy = False
        pending = self._pending
        for fd, _ in ready:
            if fd == self._exit_fd:
                self._exit_fd = None  # one-shot in an epoll set: reported no more
                if self._polled:
                    self.watch.unregister(fd)
                if self._on_exit is not None:
                    self._on_exit()
                # The pipes most often end with the exit (their last write ends were
                # the caller's, just closed): read them now, not after another wait.
                for pipe in list(pending):
                    busy = self._read(pipe) or busy
                continue
            if fd in pending:  # not ended earlier in this round
                busy = self._read(fd) or busy
        return busy

    def _read(self, fd: int) -> bool:
        """Read ``fd`` once into its sink (True), or find its EOF, or nothing there yet."""
        data = _read_chunk(fd)
        if data is None:
            return False
        pending = self._pending
        if not data:
            del pending[fd]
            # Out of the set before its EOF handler closes it (a closed fd left in a
            # poll set reports POLLNVAL to every later wait: a direct run still feeding
            # stdin waits on). The epoll set is the loop's alone: its last fd can stay.
            if pending or self._exit_fd is not None or self._polled:
                self.watch.unregister(fd)
            self._on_eof(fd)
            return False
        if fd in self._growing and len(data) >= DEFAULT_PIPE_SIZE:
            self._growing.discard(fd)
            grow_pipe(fd, PIPE_SIZE)
        pending[fd](data)
        return True

    def close(self) -> None:
        if not self._polled:
            self.watch.close()


def _read_chunk(fd: int) -> bytes | None:
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
