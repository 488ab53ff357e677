"""Named pipes as ``stdin=``/``stdout=``/``stderr=``: opened before the wiring, each in a
thread of its own.

Opening a FIFO waits for its other end (a writer for ``stdin=``, a reader for a
redirect), as a shell's ``< fifo`` and ``> fifo`` do. That wait must neither block
the event loop nor outlast the run's timeout, Ctrl+C or a cancellation, so the open
runs in a thread (:class:`FifoOpen`) that the run waits for: the loop path awaits it,
the direct path waits in short slices. A wait given up on is ended by opening the
other end ourselves (non-blocking), and whatever either open got is closed, so no
fd or thread outlives the call. The fds opened reach :func:`~.wiring.wire` as
:class:`FifoEnd` values in the request, which the plan then owns like any fd it
opened itself.
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Callable
from typing import Any

from cuprum._model.io import AppendTo, Stream
from cuprum._runtime.failures import deadline_expired
from cuprum._runtime.request import RunRequest

__all__ = [
    "FifoEnd",
    "FifoOpen",
    "fifo_opens",
    "may_name_fifo",
    "open_fifos",
    "open_fifos_blocking",
]

_FIELDS = ("stdin", "stdout", "stderr")


class FifoEnd:
    """A FIFO opened for the run: the fd the child gets, until the plan takes it."""

    __slots__ = ("fd",)

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def take(self) -> int:
        """The fd, now the caller's to close."""
        fd, self.fd = self.fd, -1
        return fd

    def close(self) -> None:
        """Close the fd unless it was taken."""
        if self.fd >= 0:
            os.close(self.take())


class FifoOpen:
    """The blocking ``open()`` of one FIFO, in a thread; see the module docstring."""

    __slots__ = ("_abandoned", "_got", "_lock", "done", "field", "flags", "path", "program")

    def __init__(self, field: str, path: str | os.PathLike[str], program: str) -> None:
        self.field = field
        self.path = path
        self.program = program
        write = field != "stdin"
        append = write and isinstance(path, AppendTo)
        self.flags = (os.O_WRONLY | (os.O_APPEND if append else 0)) if write else os.O_RDONLY
        self.done = threading.Event()
        self._lock = threading.Lock()
        self._got: int | OSError | None = None
        self._abandoned = False
        threading.Thread(target=self._open, name="cuprum-fifo-open", daemon=True).start()

    def _open(self) -> None:
        target = self.path.path if isinstance(self.path, AppendTo) else self.path
        try:
            got: int | OSError = os.open(target, self.flags | os.O_CLOEXEC)
        except OSError as exc:
            got = exc
        with self._lock:
            if not self._abandoned:
                self._got = got
                self.done.set()
                return
        if isinstance(got, int):  # given up on meanwhile: nobody else will close it
            os.close(got)

    def end(self) -> FifoEnd:
        """The opened FIFO (once :attr:`done`); a refusal raises the ``OSError``
        naming the program and the stream."""
        got = self._got
        if isinstance(got, OSError):
            message = f"{self.program}: {self.field}: {got.strerror}"
            raise type(got)(got.errno, message, got.filename)
        assert got is not None
        self._got = None
        return FifoEnd(got)

    def give_up(self) -> None:
        """End the wait (open the other end ourselves) and close whatever it opened."""
        target = self.path.path if isinstance(self.path, AppendTo) else self.path
        other = os.O_RDONLY if self.flags & os.O_WRONLY else os.O_WRONLY
        other_fd: int | None = None
        if not self.done.is_set():
            try:  # ENXIO: no reader for our writer end; the wait has just ended anyway
                other_fd = os.open(target, other | os.O_NONBLOCK | os.O_CLOEXEC)
            except OSError:
                other_fd = None
            self.done.wait(1.0)
        with self._lock:
            self._abandoned = True
            got, self._got = self._got, None
        for fd in (other_fd, got):
            if isinstance(fd, int):
                os.close(fd)


def _is_fifo(target: Any) -> bool:
    path = target.path if isinstance(target, AppendTo) else target
    if not isinstance(path, str | os.PathLike):
        return False
    try:
        return stat.S_ISFIFO(os.stat(path).st_mode)
    except (OSError, ValueError):  # refused by the open in the wiring, with its reason
        return False


# What a stream given as one of these never names: a path (``stdin`` text is data too).
_NO_PATH = frozenset({type(None), Stream, bytes, bytearray, memoryview})


def may_name_fifo(req: RunRequest) -> bool:
    """Whether one of ``req``'s streams may name a FIFO: False, without a ``stat``,
    for the common values (nothing, a marker, data), so that most runs skip the opens."""
    stdin = type(req.stdin)
    return (
        (stdin not in _NO_PATH and stdin is not str)
        or type(req.stdout) not in _NO_PATH
        or type(req.stderr) not in _NO_PATH
    )


def fifo_opens(req: RunRequest) -> list[FifoOpen]:
    """A started :class:`FifoOpen` for each of ``req``'s streams that names a FIFO."""
    found: list[FifoOpen] = []
    if not may_name_fifo(req):
        return found
    for field in _FIELDS:
        target = getattr(req, field)
        if field == "stdin" and isinstance(target, str):
            continue  # stdin text is data, not a path
        if _is_fifo(target):
            program = req.stages[-1 if field == "stdout" else 0].program
            found.append(FifoOpen(field, target, program))
    return found


def _ends(req: RunRequest, opens: list[FifoOpen]) -> tuple[RunRequest, list[FifoEnd]]:
    """``req`` with each FIFO (all opens done) replaced by its opened end; a refusal
    leaves none open."""
    ends: list[FifoEnd] = []
    try:
        for fifo in opens:
            ends.append(fifo.end())
    except BaseException:
        for end in ends:
            end.close()
        _give_up(opens)
        raise
    new = {fifo.field: end for fifo, end in zip(opens, ends, strict=True)}
    stdin, stdout, stderr = (new.get(field, getattr(req, field)) for field in _FIELDS)
    return req._replace(stdin=stdin, stdout=stdout, stderr=stderr), ends


def _give_up(opens: list[FifoOpen]) -> None:
    for fifo in opens:
        fifo.give_up()


async def open_fifos(req: RunRequest, deadline: float | None) -> tuple[RunRequest, list[FifoEnd]]:
    """The loop path: each FIFO open awaited (other tasks go on; a cancellation ends
    the wait) until ``deadline`` on anyio's clock. Returns the request to wire and
    the ends opened (``req`` and none without a FIFO)."""
    opens = fifo_opens(req)
    if not opens:
        return req, []
    try:
        late = [fifo for fifo in opens if not await _until_open(fifo, deadline)]
    except BaseException:
        _give_up(opens)
        raise
    if late:
        _give_up(opens)
        raise deadline_expired(f"timed out after {req.timeout}s opening {late[0].path}")
    return _ends(req, opens)


async def _until_open(fifo: FifoOpen, deadline: float | None) -> bool:
    """Whether ``fifo``'s open is done before ``deadline`` (polled: a FIFO's open
    has nothing to wake a loop with)."""
    import anyio  # (not on the direct path's imports)

    pause = 0.001
    while not fifo.done.is_set():
        if deadline is not None and anyio.current_time() >= deadline:
            return False
        await anyio.sleep(pause)
        pause = min(pause * 2, 0.05)
    return True


def open_fifos_blocking(
    req: RunRequest, wait: Callable[[threading.Event], None]
) -> tuple[RunRequest, list[FifoEnd]]:
    """The direct path: ``wait(done)`` returns once ``done`` is set, or raises (the
    deadline, Ctrl+C)."""
    opens = fifo_opens(req)
    if not opens:
        return req, []
    try:
        for fifo in opens:
            wait(fifo.done)
    except BaseException:
        _give_up(opens)
        raise
    return _ends(req, opens)
