"""Driving async runs from synchronous code.

asyncio (the default) runs on one long-lived event loop per calling thread: a
fresh loop per call costs more than the process itself. The caller's
``contextvars`` travel with every call. The loop is closed when its thread ends,
or at interpreter exit for the main thread. trio runs a fresh ``trio.run`` per
call; trio is imported only when asked for.

Ctrl+C is handled the same on both (see :mod:`.interrupts`): in the main thread,
while SIGINT has Python's default handler. A host's own handler, or SIG_IGN, is
left in force and cuprum does nothing on Ctrl+C. A host's handler (of any signal)
that raises during a call (``sys.exit()`` on SIGTERM) cancels the run, whose
teardown ends before the exception leaves ``run_sync()``.
"""

from __future__ import annotations

import asyncio
import atexit
import contextvars
import errno
import os
import sys
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Literal, TypeVar

from cuprum._runtime.child import cut_graces_short, restore_graces
from cuprum._runtime.direct import refuse_inside_event_loop
from cuprum._runtime.interrupts import AsyncioCtrlC, TrioCtrlC
from cuprum._runtime.sigint import LoopWake, lend_wakeup_to_trio
from cuprum._runtime.spawn_errors import spawn_error

# (child imports anyio, which imports sniffio when it is installed: see _declared)

__all__ = ["Backend", "run_sync"]

T = TypeVar("T")
A = TypeVar("A")
Backend = Literal["asyncio", "trio"]


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

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
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
        holder = _local.loop = _ThreadLoop(_new_loop())
    return holder.loop


def _new_loop() -> asyncio.AbstractEventLoop:
    """A new event loop; out of fds, the error comes before it is made: a loop half
    made (no epoll set, or no self-pipe) fails again when collected, and says so."""
    spare: list[int] = []
    try:  # as many fds as the loop takes
        spare.extend(os.pipe())
        spare.append(os.dup(spare[0]))
    finally:
        for fd in spare:
            os.close(fd)
    return asyncio.new_event_loop()


# sniffio (which anyio asks which loop runs, several times a run) answers from this
# variable when it is set, without looking for asyncio's running task (a getpid
# system call each time on CPython 3.11); anyio works without sniffio installed.
_sniffio: Any = sys.modules.get("sniffio")
_declared = None if _sniffio is None else _sniffio.current_async_library_cvar


def _run_on_loop(
    loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T], context: contextvars.Context
) -> T:
    """``asyncio.Runner.run`` semantics on a reused loop, without its per-call costs.

    In the main thread with the default SIGINT handler, Ctrl+C is :class:`AsyncioCtrlC`'s.
    The run's context says it runs on asyncio (for sniffio, see ``_declared``).
    """
    if _declared is not None:
        context.run(_declared.set, "asyncio")
    task = loop.create_task(coro, context=context)
    if threading.current_thread() is not threading.main_thread():  # no signal handler here
        return _to_the_end(task)
    wake = _main_wake(loop)
    wake.begin()
    try:
        return AsyncioCtrlC(loop, task).run(_to_the_end, task)
    finally:
        wake.end()


def _to_the_end(task: asyncio.Task[T]) -> T:
    """``run_until_complete(task)``; an exception raised into the loop (by a handler
    installed during the call) cancels the task, run to its end before it goes on."""
    try:
        return task.get_loop().run_until_complete(task)
    except BaseException:
        if not task.done():
            _finish(task)
        raise


def _finish(task: asyncio.Task[Any]) -> None:
    """Cancel ``task`` and run it to its end (its teardown); a second exception raised
    into the loop meanwhile cuts the grace periods short."""
    task.cancel()
    hurried = False
    while not task.done():
        try:
            task.get_loop().run_until_complete(task)
        except BaseException:
            if not task.done() and not hurried:
                cut_graces_short()
                hurried = True
    if hurried:
        restore_graces()


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


def _run_trio(make_coro: Callable[[], Coroutine[Any, Any, T]], program: str) -> T:
    """A ``trio.run`` of ``make_coro()``, with Ctrl+C handled as on asyncio."""
    import trio

    started: list[bool] = []
    if threading.current_thread() is not threading.main_thread():  # no signal handler here

        async def plain() -> T:
            started.append(True)
            return await make_coro()

        return _trio_run(trio, plain, started, program)
    ctrl_c = TrioCtrlC()

    async def main() -> T:
        started.append(True)
        with trio.CancelScope() as scope:
            ctrl_c.attach(trio, scope)
            try:
                return await make_coro()
            finally:
                ctrl_c.detach()
        raise KeyboardInterrupt  # the scope caught the cancellation asked for

    def run(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
        return _trio_run(trio, main, started, program)

    with lend_wakeup_to_trio():
        return ctrl_c.run(run, main)


def _trio_run(
    trio: Any, main: Callable[[], Coroutine[Any, Any, T]], started: list[bool], program: str
) -> T:
    """``trio.run(main)``; no fd left for trio's own (before ``main`` starts) is a
    :class:`SpawnError`, as no fd left for the run's pipes is."""
    try:
        result: T = trio.run(main)
    except OSError as exc:
        if started or exc.errno not in _OUT_OF_FDS:
            raise
        failure = _no_loop(exc, program)
    else:
        return result
    raise failure  # outside the handler: nothing of the failed start is kept


def run_sync(
    make_coro: Callable[[], Coroutine[Any, Any, T]],
    *,
    backend: Backend = "asyncio",
    what: str = "run_sync",
    program: str | None = None,
) -> T:
    """Run ``make_coro()`` to completion on ``backend`` from synchronous code.

    ``program`` (else ``what``) is named by the :class:`SpawnError` raised when no fd
    is left for the event loop itself."""
    refuse_inside_event_loop(what)
    if backend == "asyncio":
        try:
            loop = _thread_loop()
        except OSError as exc:
            failure = _no_loop(exc, program or what)
        else:
            return _run_on_loop(loop, make_coro(), contextvars.copy_context())
        raise failure  # outside the handler: nothing of the failed start is kept
    if backend == "trio":
        return _run_trio(make_coro, program or what)
    raise ValueError(f"unknown backend {backend!r}: use 'asyncio' or 'trio'")


_OUT_OF_FDS = (errno.EMFILE, errno.ENFILE)


def _no_loop(exc: OSError, program: str) -> OSError:
    """No fd left for the event loop's own (epoll set, self-pipe): ``program`` cannot
    start, a :class:`SpawnError` as when no fd is left for its pipes."""
    if exc.errno not in _OUT_OF_FDS:
        return exc
    return spawn_error(exc, (program,), cwd=None, env=None)
