"""Redirect targets (``stdout=``/``stderr=``) and a ``stdin=`` path: the child-side fd
each one stands for."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Callable
from typing import Any

from cuprum._model.io import AppendTo, Stream
from cuprum._runtime.fifo import FifoEnd

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
    if isinstance(target, FifoEnd):
        return keep(target.take())
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


def open_input(path: os.PathLike[str], program: str) -> int:
    """``stdin=path``, opened for reading (a FIFO was opened before, see :mod:`.fifo`)."""
    return open_path(path, os.O_RDONLY | os.O_CLOEXEC, program, "stdin")
