"""Redirect targets (``stdout=``/``stderr=``) and a ``stdin=`` path: the child-side fd
each one stands for."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import threading
from collections.abc import Callable
from typing import Any

from cuprum._model.io import AppendTo, Stream
from cuprum._runtime.failures import deadline_expired

__all__ = ["inherited", "open_input", "open_path", "open_target"]

_OUT_OF_FDS = (errno.EMFILE, errno.ENFILE)


def inherited(fd: int) -> int | None:
    """``INHERIT`` of the host's standard fd ``fd``: ``fd`` when the host has it open and
    inheritable, else None (the child gets it closed, as from ``subprocess.run``).

    A host that closed its fd 0, 1 or 2 has cuprum's own fds (a wake-up pipe, an event
    loop's epoll set) there, close-on-exec: handing ``fd`` over by number would give
    the child one of those."""
    try:
        return fd if os.get_inheritable(fd) else None
    except OSError:  # not open
        return None


def open_path(path: str | os.PathLike[str], flags: int, program: str, name: str) -> int:
    """``os.open(path, flags)`` for the stream ``name`` of ``program``; a refusal is the
    same ``OSError`` (subclass, errno, filename) naming both (out of fds: as it is)."""
    try:
        return os.open(path, flags, 0o666)
    except OSError as exc:
        if exc.errno in _OUT_OF_FDS:
            raise
        raise type(exc)(exc.errno, f"{program}: {name}: {exc.strerror}", exc.filename) from None


def open_target(
    keep: Callable[[int], int], target: Any, default_fd: int, program: str
) -> int | None:
    """A child-side fd for ``target`` (of ``program``'s fd ``default_fd``); a path is
    opened here and handed to ``keep`` (the plan closes it once the child runs).
    None: the child inherits nothing there (see :func:`inherited`)."""
    if target is Stream.DEVNULL:
        return subprocess.DEVNULL
    if target is Stream.INHERIT:
        return inherited(default_fd)
    if isinstance(target, AppendTo | str | os.PathLike):
        append = isinstance(target, AppendTo)
        path = target.path if isinstance(target, AppendTo) else target
        flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | (os.O_APPEND if append else os.O_TRUNC)
        return keep(open_path(path, flags, program, "stdout" if default_fd == 1 else "stderr"))
    if hasattr(target, "fileno"):
        if hasattr(target, "flush"):
            target.flush()
        return int(target.fileno())
    raise TypeError(f"cannot redirect to {target!r}")


def open_input(path: os.PathLike[str], program: str, timeout: float | None) -> int:
    """``stdin=path``, opened for reading (blocking, as the child reads it).

    A FIFO's open waits for a writer, as a shell's ``< fifo`` does: here within
    ``timeout`` (the run's), in a thread; when time runs out, opening the FIFO for
    writing ends that wait, both fds are closed, and the run times out."""
    flags = os.O_RDONLY | os.O_CLOEXEC
    try:
        fifo = stat.S_ISFIFO(os.stat(path).st_mode)
    except OSError:  # refused by the open too, with its reason
        fifo = False
    if not fifo:  # (a reader of ours, to probe, would let a writer come and go unread)
        return open_path(path, flags, program, "stdin")
    wait = None if timeout is None or timeout >= threading.TIMEOUT_MAX else timeout
    got = _WaitingOpen(path, flags).result(wait)
    if got is None:
        raise deadline_expired(f"timed out after {timeout}s waiting for a writer to {path}")
    if isinstance(got, OSError):
        raise type(got)(got.errno, f"{program}: stdin: {got.strerror}", got.filename)
    return got


class _WaitingOpen:
    """A blocking ``open()`` of a FIFO, in a thread (it waits for the FIFO's writer).

    Given up on (the time ran out, or the wait was interrupted), it is ended by
    opening the FIFO for writing ourselves, and whatever it opens is closed; should
    it still be waiting (the path was replaced meanwhile), its thread closes what it
    opens, whenever that is."""

    __slots__ = ("_abandoned", "_got", "_lock", "_path", "_thread")

    def __init__(self, path: os.PathLike[str], flags: int) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._got: int | OSError | None = None
        self._abandoned = False
        self._thread = threading.Thread(
            target=self._open, args=(flags,), name="cuprum-fifo-open", daemon=True
        )
        self._thread.start()

    def _open(self, flags: int) -> None:
        try:
            got: int | OSError = os.open(self._path, flags)
        except OSError as exc:
            got = exc
        with self._lock:
            if not self._abandoned:
                self._got = got
                return
        if isinstance(got, int):
            os.close(got)

    def result(self, timeout: float | None) -> int | OSError | None:
        """The fd (or the refusal) within ``timeout`` seconds; None: given up on."""
        try:
            self._thread.join(timeout)
        finally:
            if self._thread.is_alive():
                self._give_up()
        with self._lock:
            return self._got

    def _give_up(self) -> None:
        try:  # the waiting open has a writer now (ENXIO: it just ended anyway)
            writer: int | None = os.open(self._path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            writer = None
        self._thread.join(1.0)
        with self._lock:
            self._abandoned = True
            got, self._got = self._got, None
        for fd in (writer, got):
            if isinstance(fd, int):
                os.close(fd)
