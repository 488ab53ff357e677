"""Sessions per host: at most ``SshHost.max_sessions`` at once, across the whole process.

OpenSSH's server caps the sessions multiplexed over one connection (``MaxSessions``,
10 by default) and refuses the next one. So each remote stage holds one session of
its host's master from before it starts until its run ends; a run needing more waits
(cancellably), in the order the runs asked, on whatever event loop or thread it runs
(asyncio and trio alike: a waiter is woken through its own loop's thread-safe call).
A run takes all the sessions it needs on one host at once, and hosts in a fixed
order, so two runs can never hold part of what the other waits for.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections import deque
from collections.abc import Callable

import anyio
import anyio.lowlevel

__all__ = ["SESSIONS", "SessionLimit"]


def _waker(event: anyio.Event) -> Callable[[], None]:
    """A thread-safe way to set ``event`` on the current event loop, from any thread."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # not asyncio: trio (the only other backend cuprum runs on)
        trio = sys.modules["trio"]
        token = trio.lowlevel.current_trio_token()

        def wake_trio() -> None:
            token.run_sync_soon(event.set)

        return wake_trio

    def wake() -> None:
        loop.call_soon_threadsafe(event.set)

    return wake


class _Waiter:
    __slots__ = ("count", "granted", "wake")

    def __init__(self, count: int, wake: Callable[[], None]) -> None:
        self.count = count
        self.wake = wake
        self.granted = False


class SessionLimit:
    """Sessions in use per host key, with FIFO waiters; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._used: dict[str, int] = {}
        self._waiting: dict[str, deque[_Waiter]] = {}

    def in_use(self, key: str) -> int:
        """How many sessions of ``key`` are held now."""
        with self._lock:
            return self._used.get(key, 0)

    async def acquire(self, key: str, count: int, limit: int) -> None:
        """Hold ``count`` sessions of ``key`` (at most ``limit`` held at once)."""
        await anyio.lowlevel.checkpoint_if_cancelled()
        with self._lock:
            queue = self._waiting.setdefault(key, deque())
            used = self._used.get(key, 0)
            if not queue and used + count <= limit:
                self._used[key] = used + count
                return
            event = anyio.Event()
            waiter = _Waiter(count, _waker(event))
            queue.append(waiter)
        try:
            await event.wait()
        except BaseException:
            with self._lock:
                if waiter.granted:  # granted as we were cancelled: give it back
                    self._used[key] -= count
                    self._grant(key, limit)
                else:
                    queue.remove(waiter)
                    self._grant(key, limit)  # those behind us may fit now
            raise

    def release(self, key: str, count: int, limit: int) -> None:
        """Give back ``count`` sessions of ``key`` and wake the waiters that now fit."""
        with self._lock:
            self._used[key] -= count
            self._grant(key, limit)

    def _grant(self, key: str, limit: int) -> None:
        queue = self._waiting.get(key)
        while queue and self._used.get(key, 0) + queue[0].count <= limit:
            waiter = queue.popleft()
            try:
                waiter.wake()
            except RuntimeError:  # its event loop has closed: nobody waits any more
                continue
            waiter.granted = True
            self._used[key] = self._used.get(key, 0) + waiter.count


SESSIONS = SessionLimit()
