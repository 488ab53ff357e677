"""One pipeline hop: the fds its two stages get, and how the bytes between them move.

A hop joins stage ``i`` (the *upstream*, writing) to stage ``i + 1`` (the
*downstream*, reading). :class:`DirectHop` hands one kernel pipe to both children;
:class:`RelayHop` gives each child a pipe of its own and moves the bytes between
them in the parent (:mod:`.python` or :mod:`.rust`), so the parent sees them.

Either way the parent keeps a copy of the hop's read side until the reading end
has gone (the downstream exited, or the relay's writes hit EPIPE), so the
upstream cannot get SIGPIPE/EPIPE earlier. Letting go of it is the one place that
decides whether the upstream is about to lose its reader while it still writes
(:meth:`Hop._let_go`); the caller's ``on_let_go`` then excuses the upstream if it
is still running. The caller (the engine) owns the hop: it spawns the children
with ``upstream_fd``/``downstream_fd``, calls :meth:`Hop.spawned` once both run,
and :meth:`Hop.close` when the run ends however it ends.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from cuprum._transport.dispatch import Relay, Strategy, relay_for
from cuprum._transport.pipes import (
    PIPE_SIZE,
    close_quietly,
    make_pipe,
    set_nonblocking,
    writers_gone,
)

__all__ = ["DirectHop", "Hop", "RelayHop", "open_hop"]

OnChunk = Callable[[bytes], None]


class Hop:
    """What the engine needs from every hop, direct or relayed."""

    __slots__ = ("_on_let_go", "_output_closed", "_parent", "downstream_fd", "upstream_fd")

    relayed = False

    def __init__(self, upstream_fd: int, downstream_fd: int, on_let_go: Callable[[], None]) -> None:
        self.upstream_fd = upstream_fd  # the upstream child's stdout
        self.downstream_fd = downstream_fd  # the downstream child's stdin
        self._on_let_go = on_let_go
        self._parent: list[int] = []  # the parent's own ends still open
        self._output_closed = False  # the upstream had closed its end when we let go

    def output_closed(self) -> bool:
        """Whether the upstream has closed its end of the hop (it is finishing, or done).

        A program may close its stdout before it exits (GNU tools do, at exit), so
        the downstream can see EOF, and fail, while the upstream is still running.
        """
        if self._output_closed:
            return True
        hold = self._hold()
        return hold >= 0 and writers_gone(hold)

    def _hold(self) -> int:
        """The parent's copy of the hop's read side, or -1."""
        return -1

    def spawned(self) -> None:
        """Both stages run: close the child-side ends the parent does not keep."""

    def downstream_exited(self) -> None:
        """The downstream stage has exited (its exit was just observed)."""

    async def run(self, on_chunk: OnChunk | None) -> None:
        """Move the hop's bytes until EOF (relays only); ``on_chunk`` sees each byte."""

    def close(self) -> None:
        """Close every fd of the hop that is still open (idempotent)."""
        for fd in {self.upstream_fd, self.downstream_fd, *self._parent}:  # each fd once
            if fd >= 0:
                close_quietly(fd)
        self.upstream_fd = self.downstream_fd = -1
        self._parent.clear()

    def _close_parent(self, fd: int) -> None:
        if fd in self._parent:
            self._parent.remove(fd)
            os.close(fd)

    def _let_go(self, read_fd: int) -> None:
        """Close the parent's last copy of the hop's read side.

        If the upstream still holds the write end, it may get SIGPIPE/EPIPE from
        now on: not a failure of its own, so ``on_let_go`` hears of it first.
        """
        if read_fd not in self._parent:
            return
        if writers_gone(read_fd):
            self._output_closed = True
        else:
            self._on_let_go()
        self._close_parent(read_fd)


class DirectHop(Hop):
    """One 1 MiB kernel pipe handed straight to both children; the parent only holds
    the read end (shared with the downstream, so left blocking) until the downstream
    exits."""

    __slots__ = ()

    def __init__(self, on_let_go: Callable[[], None]) -> None:
        read_fd, write_fd = make_pipe(size=PIPE_SIZE)
        super().__init__(write_fd, read_fd, on_let_go)
        self._parent.append(read_fd)  # the hold

    def spawned(self) -> None:
        close_quietly(self.upstream_fd)
        self.upstream_fd = -1
        self.downstream_fd = -1  # still open: it is the parent's hold now

    def downstream_exited(self) -> None:
        if self._parent:
            self._let_go(self._parent[0])

    def _hold(self) -> int:
        return self._parent[0] if self._parent else -1


class RelayHop(Hop):
    """Two pipes, one per child; the parent relays between its two ends."""

    __slots__ = ("_read_fd", "_relay", "_write_fd")

    relayed = True

    def __init__(self, relay: Relay, on_let_go: Callable[[], None]) -> None:
        up_r, up_w = make_pipe(size=PIPE_SIZE)
        try:
            down_r, down_w = make_pipe(size=PIPE_SIZE)
        except BaseException:
            os.close(up_r)
            os.close(up_w)
            raise
        super().__init__(up_w, down_r, on_let_go)
        for fd in (up_r, down_w):
            set_nonblocking(fd)
            self._parent.append(fd)
        self._read_fd, self._write_fd = up_r, down_w
        self._relay = relay

    def spawned(self) -> None:
        for fd in (self.upstream_fd, self.downstream_fd):
            close_quietly(fd)
        self.upstream_fd = self.downstream_fd = -1

    def _hold(self) -> int:
        return self._read_fd if self._read_fd in self._parent else -1

    async def run(self, on_chunk: OnChunk | None) -> None:
        """Relay to EOF (or until the downstream has gone), then let go of both ends.

        Cancelled or failed, both ends stay open until :meth:`close` (after the
        teardown has signalled every stage), so the downstream never takes the cut
        for a clean end of input.
        """
        await self._relay(self._read_fd, self._write_fd, on_chunk=on_chunk)
        self._close_parent(self._write_fd)  # the downstream sees EOF
        self._let_go(self._read_fd)  # an upstream still writing gets SIGPIPE


def open_hop(strategy: Strategy, on_let_go: Callable[[], None]) -> Hop:
    """A new hop of ``strategy``: its pipes are open; nothing is left open if that fails."""
    if strategy == "direct":
        return DirectHop(on_let_go)
    return RelayHop(relay_for(strategy), on_let_go)
