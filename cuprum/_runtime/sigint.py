"""Whose Ctrl+C it is, and the wake-up fd that brings it to the main thread's loop.

Both ``run_sync()`` drivers (:mod:`.direct` and :mod:`.sync`) handle Ctrl+C only
in the main thread, while SIGINT has Python's default handler (:func:`owns_ctrl_c`).

Python runs a signal's handler in the main thread only, once that thread is back
from what it waits in; the kernel may give a SIGINT for the process to any thread
(or it may land just before the wait's system call). What wakes the wait is
Python's wake-up fd: its byte is written by whichever thread receives the signal.
trio sets its own for every ``trio.run`` in the main thread; :class:`LoopWake`
sets one for the main thread's asyncio loop during a ``run_sync`` call.
"""

from __future__ import annotations

import importlib
import os
import signal
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio

__all__ = ["SIGINT", "LoopWake", "csignal", "owns_ctrl_c"]

# signal.signal()/getsignal() convert handlers to enums on every call; the C module does not.
csignal: Any = importlib.import_module("_signal")
SIGINT = int(signal.SIGINT)
# With the host's own wake-up fd in force, the loop wakes this often instead.
_UNWOKEN_WAIT = 0.05


def owns_ctrl_c() -> bool:
    """Ctrl+C is cuprum's to handle: the main thread, SIGINT at its default handler."""
    return (
        threading.current_thread() is threading.main_thread()
        and csignal.getsignal(SIGINT) is signal.default_int_handler
    )


class LoopWake:
    """The wake-up fd of the main thread's asyncio loop, while one call runs on it.

    A pipe whose read end stays registered with the loop (its reader only empties
    it) and whose write end is Python's wake-up fd for the call, so a SIGINT any
    thread receives ends the loop's wait, and the handler runs. asyncio's own
    (``add_signal_handler``) is a wake-up fd too: one set by the host, or by code in
    the run, is left in force; the loop then wakes every 50 ms while the call lasts.
    """

    __slots__ = ("_loop", "_read", "_ticking", "_write")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._ticking: asyncio.TimerHandle | None = None
        try:
            self._read, self._write = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        except OSError:  # no fd to spare: the loop ticks instead (a pipe next time)
            self._read = self._write = -1
            return
        try:
            loop.add_reader(self._read, self._drain)
        except Exception:  # a loop without readers: ticks
            self.close()
            self._read = self._write = -1

    def serves(self, loop: asyncio.AbstractEventLoop) -> bool:
        return self._loop is loop and self._read != -1 and not loop.is_closed()

    def _drain(self) -> None:
        try:  # noqa: SIM105 (a reader callback, per wake-up)
            os.read(self._read, 512)
        except OSError:  # read already
            pass

    def begin(self) -> None:
        """The wake-up fd ours for the call (or, if the host has one, the ticks)."""
        if self._write == -1:
            self._tick()
            return
        previous = signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)
        if previous != -1:
            signal.set_wakeup_fd(previous)  # the host's own: left in force
            self._tick()

    def _tick(self) -> None:
        self._ticking = self._loop.call_later(_UNWOKEN_WAIT, self._tick)

    def end(self) -> None:
        """No wake-up fd again (unless one was set during the call), or no ticks."""
        ticking = self._ticking
        if ticking is None:
            current = signal.set_wakeup_fd(-1)
            if current not in (-1, self._write):  # set during the call: left in force
                signal.set_wakeup_fd(current)
        else:
            self._ticking = None
            ticking.cancel()

    def close(self) -> None:
        """The pipe closed, once its loop is gone."""
        if self._read != -1 and not self._loop.is_closed():
            self._loop.remove_reader(self._read)
        for fd in (self._read, self._write):
            try:  # noqa: SIM105
                os.close(fd)
            except OSError:  # none (-1)
                pass
