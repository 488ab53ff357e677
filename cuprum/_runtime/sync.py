"""Driving async runs from synchronous code.

asyncio (the default) runs on one long-lived event loop per calling thread: a
fresh loop per call costs more than the process itself. The caller's
``contextvars`` travel with every call. The loop is closed when its thread ends,
or at interpreter exit for the main thread. trio runs a fresh ``trio.run`` per
call; trio is imported only when asked for.

Ctrl+C is handled here, the same on both (see :class:`_CtrlC`): in the main
thread, while SIGINT has Python's default handler. A host's own handler, or
SIG_IGN, is left in force and cuprum does nothing on Ctrl+C.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import contextvars
import os
import sys
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Literal, TypeVar

from cuprum._runtime.child import cut_graces_short, in_grace, restore_graces
from cuprum._runtime.direct import refuse_inside_event_loop
from cuprum._runtime.sigint import LoopWake, give_back_sigint, owns_ctrl_c, take_sigint

# (child imports anyio, which imports sniffio when it is installed: see _declared)

__all__ = ["Backend", "run_sync"]

T = TypeVar("T")
A = TypeVar("A")
Backend = Literal["asyncio", "trio"]


class _CtrlC:
    """Ctrl+C during one ``run_sync`` call (main thread, SIGINT left at its default).

    The handler only counts and hands the work to the event loop's thread, so no
    exception is ever raised into the middle of a run. The first Ctrl+C cancels the
    run, whose teardown (SIGTERM, grace, SIGKILL) then runs as for any cancellation.
    A second cuts every grace period short, those in progress and those still to
    come in this call: their groups get SIGKILL at once. Once the run is over,
    whatever its outcome, ``KeyboardInterrupt`` is raised.
    """

    __slots__ = ("_acted", "_soon", "count")

    def __init__(self) -> None:
        self.count = 0  # Ctrl+C received
        self._acted = 0  # ... and acted upon, in the loop's thread
        self._soon: Callable[[Callable[[], None]], object] | None = None

    def _on_signal(self, signum: int, frame: object) -> None:
        self.count += 1
        soon = self._soon
        if soon is not None:
            with contextlib.suppress(Exception):  # never raise into the interrupted code
                soon(self._act)

    def _attach(self, soon: Callable[[Callable[[], None]], object]) -> None:
        """Start acting, through ``soon`` (signal-safe), on Ctrl+C from now and before."""
        self._soon = soon
        if self.count:
            soon(self._act)

    def _act(self) -> None:
        while self._soon is not None and self._acted < self.count:
            self._acted += 1
            if self._acted == 1:
                self._cancel()
            elif self._acted == 2:
                self._hurry()

    def _cancel(self) -> None:
        raise NotImplementedError

    def _hurry(self) -> None:
        cut_graces_short()

    def _detach(self) -> None:
        self._soon = None
        if self._acted >= 2:
            restore_graces()

    def run(self, call: Callable[[A], T], arg: A) -> T:
        """``call(arg)`` with this handler for SIGINT; the default handler back afterwards."""
        handler = self._on_signal
        take_sigint(handler)
        try:
            result = call(arg)
        except BaseException as exc:
            self._detach()
            give_back_sigint(handler)
            if not self.count:
                raise
            if isinstance(exc, KeyboardInterrupt | asyncio.CancelledError):
                raise KeyboardInterrupt from None
            # Ctrl+C wins over how the run ended, which it keeps as its context.
            raise KeyboardInterrupt  # noqa: B904
        self._detach()
        give_back_sigint(handler)
        if self.count:  # it landed after the run's last await (hooks, decoding)
            raise KeyboardInterrupt
        return result


class _AsyncioCtrlC(_CtrlC):
    """Ctrl+C for a run on this thread's asyncio loop."""

    __slots__ = ("_task",)

    def __init__(self, loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any]) -> None:
        # Per call, on the hot path: _CtrlC.__init__ and _attach inlined.
        self.count = self._acted = 0
        self._soon = loop.call_soon_threadsafe
        self._task = task

    def _cancel(self) -> None:
        # A run already in a teardown's grace period is left to finish it.
        if not self._task.done() and not in_grace(id(self._task)):
            self._task.cancel()


class _TrioCtrlC(_CtrlC):
    """Ctrl+C for a ``trio.run``: installed first, it keeps trio from installing its own."""

    __slots__ = ("_scope", "_trio")

    def attach(self, trio: Any, scope: Any) -> None:
        """Called in the run: Ctrl+C cancels ``scope``, which wraps the whole run."""
        self._trio = trio
        self._scope = scope
        self._attach(trio.lowlevel.current_trio_token().run_sync_soon)

    def detach(self) -> None:
        self._detach()

    def _cancel(self) -> None:
        self._scope.cancel()  # a shielded teardown in progress is left to finish


class _ThreadLoop:
    """An event loop owned by one thread, reused by its ``run_sync`` calls, closed with it.

    Only the thread-local slot may refer to it (see :func:`_thread_loop`), so it is
    released, and the loop closed, in its own thread as that thread ends.

    A forked child inherits the loop but must never close it: the epoll set and the
    self-pipe are the parent's too, and closing the loop there would take the
    self-pipe out of the parent's epoll set, so wake-ups from other threads
    (``anyio.to_thread``, ``call_soon_threadsafe``) would never reach the parent's
    loop again. A fork from another thread frees this thread's locals in the child
    (so ``__del__`` runs there), and a child that exits normally runs ``atexit``.
    """

    __slots__ = ("loop", "pid")

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.pid = os.getpid()

    def close(self) -> None:
        loop = self.loop
        if loop.is_closed() or loop.is_running() or os.getpid() != self.pid:
            return
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            loop.close()

    def __del__(self) -> None:
        self.close()


_local = threading.local()


def _thread_loop() -> asyncio.AbstractEventLoop:
    """The calling thread's loop, created on first use.

    Callers hold the loop, never the :class:`_ThreadLoop`: a failed run leaves
    the caller's frame in a reference cycle (exception, traceback, task), and a
    ``_ThreadLoop`` caught in it would be closed by the garbage collector in some
    other thread, perhaps one with a running loop, where closing fails.
    """
    holder: _ThreadLoop | None = getattr(_local, "loop", None)
    if holder is None:
        holder = _local.loop = _ThreadLoop()
    return holder.loop


# sniffio (which anyio asks which loop runs, several times a run) answers from this
# variable when it is set, without looking for asyncio's running task (a getpid
# system call each time on CPython 3.11); anyio works without sniffio installed.
_sniffio: Any = sys.modules.get("sniffio")
_declared = None if _sniffio is None else _sniffio.current_async_library_cvar


def _run_on_loop(
    loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T], context: contextvars.Context
) -> T:
    """``asyncio.Runner.run`` semantics on a reused loop, without its per-call costs.

    In the main thread with the default SIGINT handler, Ctrl+C is :class:`_AsyncioCtrlC`'s.
    The run's context says it runs on asyncio (for sniffio, see ``_declared``).
    """
    if _declared is not None:
        context.run(_declared.set, "asyncio")
    task = loop.create_task(coro, context=context)
    if not owns_ctrl_c():
        return loop.run_until_complete(task)
    wake = _main_wake(loop)
    wake.begin()
    try:
        return _AsyncioCtrlC(loop, task).run(loop.run_until_complete, task)
    finally:
        wake.end()


_wake: list[LoopWake] = []  # the main thread's loop's (see LoopWake)


def _main_wake(loop: asyncio.AbstractEventLoop) -> LoopWake:
    """The wake-up pipe of ``loop``, the main thread's: made with it, on first use."""
    if _wake:
        if _wake[0].serves(loop):
            return _wake[0]
        _wake.pop().close()  # its loop was closed (at exit): a new one serves now
    _wake.append(LoopWake(loop))
    return _wake[0]


def _close_main_loop() -> None:
    loop: _ThreadLoop | None = getattr(_local, "loop", None)
    if loop is not None:
        del _local.loop
        loop.close()


atexit.register(_close_main_loop)


def _forget_loop_in_child() -> None:
    """In a forked child: the inherited loop is the parent's; the next call makes one,
    and its own wake-up pipe (the parent's is left open: it may be the wake-up fd)."""
    _local.__dict__.pop("loop", None)
    _wake.clear()


os.register_at_fork(after_in_child=_forget_loop_in_child)


def _run_trio(make_coro: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """A ``trio.run`` of ``make_coro()``, with Ctrl+C handled as on asyncio."""
    import trio

    if not owns_ctrl_c():  # trio leaves SIGINT alone then, too

        async def plain() -> T:
            return await make_coro()

        return trio.run(plain)
    ctrl_c = _TrioCtrlC()

    async def main() -> T:
        with trio.CancelScope() as scope:
            ctrl_c.attach(trio, scope)
            try:
                return await make_coro()
            finally:
                ctrl_c.detach()
        raise KeyboardInterrupt  # the scope caught the cancellation Ctrl+C asked for

    return ctrl_c.run(trio.run, main)


def run_sync(
    make_coro: Callable[[], Coroutine[Any, Any, T]],
    *,
    backend: Backend = "asyncio",
    what: str = "run_sync",
) -> T:
    """Run ``make_coro()`` to completion on ``backend`` from synchronous code."""
    refuse_inside_event_loop(what)
    if backend == "asyncio":
        return _run_on_loop(_thread_loop(), make_coro(), contextvars.copy_context())
    if backend == "trio":
        return _run_trio(make_coro)
    raise ValueError(f"unknown backend {backend!r}: use 'asyncio' or 'trio'")
