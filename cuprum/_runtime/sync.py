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
import sys
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Literal, TypeVar

__all__ = ["Backend", "run_sync"]

T = TypeVar("T")
Backend = Literal["asyncio", "trio"]


class _ThreadLoop:
    """An ``asyncio.Runner`` owned by one thread and closed with it.

    Only the thread-local slot may refer to it (see :func:`_thread_runner`), so it
    is released, and the runner closed, in its own thread as that thread ends.
    """

    __slots__ = ("runner",)

    def __init__(self) -> None:
        self.runner = asyncio.Runner()

    def close(self) -> None:
        self.runner.close()

    def __del__(self) -> None:
        self.close()


_local = threading.local()


def _thread_runner() -> asyncio.Runner:
    """The calling thread's runner, created on first use.

    Callers hold the runner, never the :class:`_ThreadLoop`: a failed run leaves
    the caller's frame in a reference cycle (exception, traceback, task), and a
    ``_ThreadLoop`` caught in it would be closed by the garbage collector in some
    other thread, perhaps one with a running loop, where closing fails.
    """
    loop: _ThreadLoop | None = getattr(_local, "loop", None)
    if loop is None:
        loop = _local.loop = _ThreadLoop()
    return loop.runner


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
    trio = sys.modules.get("trio")
    if trio is not None:
        try:
            trio.lowlevel.current_trio_token()
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
        return _thread_runner().run(make_coro(), context=contextvars.copy_context())
    if backend == "trio":
        import trio

        async def main() -> T:
            return await make_coro()

        return trio.run(main, restrict_keyboard_interrupt_to_checkpoints=True)
    raise ValueError(f"unknown backend {backend!r}: use 'asyncio' or 'trio'")
