"""Ctrl+C for both ``run_sync()`` drivers: whose it is, its handler, its wake-up pipe.

Both drivers (:mod:`.direct` and :mod:`.sync`) handle Ctrl+C only in the main
thread, while SIGINT has Python's default handler (:func:`owns_ctrl_c`), by putting
a handler of theirs in its place for the call (:func:`take_sigint`).

Python runs a signal's handler in the main thread only, once that thread is back
from what it waits in; the kernel may give a SIGINT for the process to any thread
(or it may land just before the wait's system call). What wakes the wait is
Python's wake-up fd: its byte is written by whichever thread receives the signal.
The process has one wake-up pipe (:func:`wake_pipe`); for a call, its write end is
the wake-up fd (:func:`claim_wakeup`) and its read end is in the direct run's poll
set, or a reader of the main thread's asyncio loop (:class:`LoopWake`). trio sets
its own wake-up fd for every ``trio.run`` in the main thread.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio

__all__ = [
    "SIGINT",
    "Handler",
    "LoopWake",
    "claim_wakeup",
    "give_back_sigint",
    "lend_wakeup_to_trio",
    "owns_ctrl_c",
    "release_wakeup",
    "take_sigint",
    "wake_pipe",
]

# signal.signal()/getsignal() convert handlers to enums on every call; the C module does not.
_csignal: Any = importlib.import_module("_signal")
SIGINT = int(signal.SIGINT)
# With the host's own wake-up fd in force, the loop wakes this often instead.
_UNWOKEN_WAIT = 0.05

Handler = Callable[[int, Any], None]
_wake: list[tuple[int, int]] = []  # the process's wake-up pipe (made on first use)
_taken: list[Handler] = []  # the handler take_sigint put in, until it is given back
_before_trio: list[int] = []  # the wake-up fd a main-thread trio.run replaced, while it runs


def owns_ctrl_c() -> bool:
    """Ctrl+C is cuprum's to handle: the main thread, SIGINT at its default handler."""
    return (
        threading.current_thread() is threading.main_thread()
        and _csignal.getsignal(SIGINT) is signal.default_int_handler
    )


def take_sigint(handler: Handler) -> None:
    """``handler`` for SIGINT during one call (when :func:`owns_ctrl_c`)."""
    _csignal.signal(SIGINT, handler)
    _taken[:] = [handler]


def give_back_sigint(handler: Handler) -> None:
    """Python's default handler back, unless code in the call replaced ``handler``."""
    _taken.clear()
    if _csignal.getsignal(SIGINT) is handler:
        _csignal.signal(SIGINT, signal.default_int_handler)


def wake_pipe() -> tuple[int, int] | None:
    """The wake-up pipe (read end, write end), non-blocking; None if no fd is left."""
    if not _wake:
        try:
            _wake.append(_above_stdio(*os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)))
        except OSError:  # no fd to spare: waits are short instead
            return None
    return _wake[0]


def _above_stdio(*ends: int) -> tuple[int, int]:
    """The pipe's ends moved above fd 2 (it lives as long as the process: a host that
    closed its fd 0, 1 or 2 must not find it there, in its ``print()`` or next ``open()``)."""
    moved = list(ends)
    for i, fd in enumerate(ends):
        if fd < 3:
            try:
                moved[i] = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)  # O_NONBLOCK too
            except OSError:  # no fd to spare: it stays, and works there
                continue
            os.close(fd)
    return moved[0], moved[1]


def claim_wakeup() -> int | None:
    """The pipe's write end as Python's wake-up fd for one call: its read end to watch.

    None when there is no pipe, or when the host has a wake-up fd of its own, which
    is left in force (the caller then waits in short turns)."""
    wake = wake_pipe()
    if wake is None:
        return None
    previous = signal.set_wakeup_fd(wake[1], warn_on_full_buffer=False)
    if previous != -1:
        signal.set_wakeup_fd(previous)  # the host's own: left in force
        return None
    return wake[0]


def release_wakeup() -> None:
    """No wake-up fd again after a claimed call, unless one was set during the call
    (asyncio's ``add_signal_handler`` sets one): that one is left in force."""
    current = signal.set_wakeup_fd(-1)
    if current not in (-1, _wake[0][1] if _wake else -1):
        signal.set_wakeup_fd(current)


@contextlib.contextmanager
def lend_wakeup_to_trio() -> Iterator[None]:
    """Around a main-thread ``trio.run``, which puts its own wake-up fd in force: the
    one it replaces is noted, so that a child forked meanwhile gets it back."""
    previous = signal.set_wakeup_fd(-1)
    if previous != -1:
        signal.set_wakeup_fd(previous)  # the host's own: trio.run takes it over itself
    _before_trio[:] = [previous]
    try:
        yield
    finally:
        _before_trio.clear()


def _forget_in_child() -> None:
    """A forked child makes its own wake-up pipe; forked (from another thread) during
    a main-thread call, it also gets Python's handler back and no wake-up fd: the
    call's handler counts for the parent's run only, and Ctrl+C would never
    interrupt the child. Forked during a ``trio.run``, it gets back the wake-up fd
    trio replaced: trio's is a socket of the parent's loop, which the child's signals
    would wake, and which the child's own runs would take for the host's (a later
    ``trio.run`` warns of a collision). (The forking thread is the child's main thread.)"""
    try:
        if _taken and _csignal.getsignal(SIGINT) is _taken[0]:
            _csignal.signal(SIGINT, signal.default_int_handler)
        if _wake:
            previous = signal.set_wakeup_fd(-1)
            if previous not in (-1, _wake[0][1]):  # the host's own: kept
                signal.set_wakeup_fd(previous)
        if _before_trio:
            signal.set_wakeup_fd(_before_trio[0])
    except (ValueError, OSError):  # pragma: no cover - not the main thread after all
        pass
    _taken.clear()
    _before_trio.clear()
    _wake.clear()  # the parent's (shared with it): left open, never used here


os.register_at_fork(after_in_child=_forget_in_child)


class LoopWake:
    """The wake-up pipe as a reader of the main thread's asyncio loop (it only empties
    the pipe): a SIGINT any thread receives ends the loop's wait, and the handler
    runs. With the host's own wake-up fd in force, or no pipe, the loop wakes every
    50 ms while the call lasts instead."""

    __slots__ = ("_loop", "_read", "_ticking")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._ticking: asyncio.TimerHandle | None = None
        wake = wake_pipe()
        self._read = -1 if wake is None else wake[0]
        if self._read != -1:
            try:
                loop.add_reader(self._read, self._drain)
            except Exception:  # a loop without readers: ticks
                self._read = -1

    def serves(self, loop: asyncio.AbstractEventLoop) -> bool:
        wake = _wake[0][0] if _wake else -1  # a forked child has its own pipe
        return self._loop is loop and self._read == wake and not loop.is_closed()

    def _drain(self) -> None:
        try:  # noqa: SIM105 (a reader callback, per wake-up)
            os.read(self._read, 512)
        except OSError:  # read already
            pass

    def begin(self) -> None:
        """The wake-up fd ours for the call (or, if the host has one, the ticks)."""
        if self._read == -1 or claim_wakeup() is None:
            self._tick()

    def _tick(self) -> None:
        self._ticking = self._loop.call_later(_UNWOKEN_WAIT, self._tick)

    def end(self) -> None:
        """No wake-up fd again (unless one was set during the call), or no ticks."""
        ticking = self._ticking
        if ticking is None:
            release_wakeup()
        else:
            self._ticking = None
            ticking.cancel()

    def close(self) -> None:
        """No longer a reader of its loop (the pipe stays: it is the process's)."""
        if self._read != -1 and not self._loop.is_closed():
            self._loop.remove_reader(self._read)
        self._read = -1
