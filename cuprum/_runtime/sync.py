"""Driving async runs from synchronous code.

asyncio (the default) runs on one long-lived event loop per calling thread: a
fresh loop per call costs more than the process itself. The caller's
``contextvars`` travel with every call, and Ctrl+C cancels the run (the child is
torn down) before ``KeyboardInterrupt`` propagates. The loop is closed when its
thread ends, or at interpreter exit for the main thread.

trio runs a fresh ``trio.run`` per call, with KeyboardInterrupt delivered at
checkpoints so the same teardown runs. trio is imported only when asked for.
"""

from __future__ import annotations

import asyncio
import atexit
import contextvars
import importlib
import signal
import sys
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Literal, TypeVar

__all__ = ["Backend", "run_sync"]

T = TypeVar("T")
Backend = Literal["asyncio", "trio"]


# signal.getsignal()/signal.signal() convert handlers to enums on every call, which
# costs more than the rest of a run's bookkeeping; the C module does not.
_csignal: Any = importlib.import_module("_signal")
_SIGINT = int(signal.SIGINT)


class _ThreadLoop:
    """An event loop owned by one thread, reused by its ``run_sync`` calls, closed with it.

    Only the thread-local slot may refer to it (see :func:`_thread_loop`), so it is
    released, and the loop closed, in its own thread as that thread ends.
    """

    __slots__ = ("loop",)

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()

    def close(self) -> None:
        loop = self.loop
        if loop.is_closed() or loop.is_running():
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


def _run_on_loop(
    loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T], context: contextvars.Context
) -> T:
    """``asyncio.Runner.run`` semantics on a reused loop, without its per-call costs.

    In the main thread with the default SIGINT handler, the first Ctrl+C cancels
    the run (cuprum's teardown runs), then ``KeyboardInterrupt`` is raised; a
    second Ctrl+C raises at once.
    """
    task = loop.create_task(coro, context=context)
    interrupted = False
    handler: Callable[[int, object], None] | None = None
    if (
        threading.current_thread() is threading.main_thread()
        and _csignal.getsignal(_SIGINT) is signal.default_int_handler
    ):

        def on_sigint(signum: int, frame: object) -> None:
            nonlocal interrupted
            if interrupted or task.done():
                raise KeyboardInterrupt
            interrupted = True
            loop.call_soon_threadsafe(task.cancel)

        handler = on_sigint
        _csignal.signal(_SIGINT, handler)
    try:
        return loop.run_until_complete(task)
    except asyncio.CancelledError:
        if interrupted:
            raise KeyboardInterrupt from None
        raise
    finally:
        if handler is not None and _csignal.getsignal(_SIGINT) is handler:
            _csignal.signal(_SIGINT, signal.default_int_handler)


def _close_main_loop() -> None:
    loop: _ThreadLoop | None = getattr(_local, "loop", None)
    if loop is not None:
        del _local.loop
        loop.close()


atexit.register(_close_main_loop)


def _refuse_inside_event_loop(what: str) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise RuntimeError(
            f"{what}() cannot be called from a running asyncio event loop; "
            "use `await cmd.run()` instead"
        )
    # A trio still being imported (by another thread) has no ``lowlevel`` yet; and
    # this thread cannot be inside a trio.run then.
    lowlevel = getattr(sys.modules.get("trio"), "lowlevel", None)
    if lowlevel is not None:
        try:
            lowlevel.current_trio_token()
        except RuntimeError:
            return
        raise RuntimeError(
            f"{what}() cannot be called from inside trio; use `await cmd.run()` instead"
        )


def run_sync(
    make_coro: Callable[[], Coroutine[Any, Any, T]],
    *,
    backend: Backend = "asyncio",
    what: str = "run_sync",
) -> T:
    """Run ``make_coro()`` to completion on ``backend`` from synchronous code."""
    _refuse_inside_event_loop(what)
    if backend == "asyncio":
        return _run_on_loop(_thread_loop(), make_coro(), contextvars.copy_context())
    if backend == "trio":
        import trio

        async def main() -> T:
            return await make_coro()

        return trio.run(main, restrict_keyboard_interrupt_to_checkpoints=True)
    raise ValueError(f"unknown backend {backend!r}: use 'asyncio' or 'trio'")
