"""Ctrl+C, and a host's signal handler that raises, during a ``run_sync()`` on a loop.

Both are turned into a cancellation of the run, handed to the event loop's thread
(:class:`CtrlC`, one subclass per loop), so nothing is ever raised into the middle
of the run; what the call raises comes once the run's teardown is over. The
direct path (:mod:`.direct`) needs none of this: its waits are its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import signal
from collections.abc import Callable
from typing import Any, TypeVar

from cuprum._runtime.child import cut_graces_short, in_grace, restore_graces
from cuprum._runtime.sigint import SIGINT, give_back_sigint, owns_ctrl_c, take_sigint

__all__ = ["AsyncioCtrlC", "CtrlC", "TrioCtrlC"]

T = TypeVar("T")
A = TypeVar("A")


class CtrlC:
    """Ctrl+C, and a host's handler that raises, during one ``run_sync`` call (main thread).

    Ctrl+C is ours while SIGINT has its default handler: the handler only counts and
    hands the work to the event loop's thread, so no exception is ever raised into
    the middle of a run. A host's own handler (any signal) still runs when its signal
    comes, but what it raises is held (:func:`_hold_handlers`). The first of these
    cancels the run, whose teardown (SIGTERM, grace, SIGKILL) then runs as for any
    cancellation. A second cuts every grace period short, those in progress and
    those still to come in this call: their groups get SIGKILL at once. Once the run
    is over, whatever its outcome, ``KeyboardInterrupt`` is raised after a Ctrl+C,
    or else the first exception a handler raised.
    """

    __slots__ = ("_acted", "_soon", "count", "hits", "raised")

    def __init__(self) -> None:
        self.count = 0  # Ctrl+C received
        self.hits = 0  # ... and handlers that raised
        self._acted = 0  # ... acted upon, in the loop's thread
        self._soon: Callable[[Callable[[], None]], object] | None = None
        self.raised: BaseException | None = None  # the first a handler raised

    def _on_signal(self, signum: int, frame: object) -> None:
        self.count += 1
        self._hit()

    def _on_raise(self, exc: BaseException) -> None:
        if self.raised is None:
            self.raised = exc
        self._hit()

    def _hit(self) -> None:
        self.hits += 1
        soon = self._soon
        if soon is not None:
            with contextlib.suppress(Exception):  # never raise into the interrupted code
                soon(self._act)

    def _attach(self, soon: Callable[[Callable[[], None]], object]) -> None:
        """Start acting, through ``soon`` (signal-safe), on Ctrl+C from now and before."""
        self._soon = soon
        if self.hits:
            soon(self._act)

    def _act(self) -> None:
        while self._soon is not None and self._acted < self.hits:
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
        """``call(arg)`` with these handlers; SIGINT's default and the host's back afterwards."""
        handler = self._on_signal
        owned = owns_ctrl_c()
        if owned:
            take_sigint(handler)
        _hold_handlers(self._on_raise, SIGINT if owned else 0)
        try:
            result = call(arg)
        except BaseException as exc:
            self._detach()
            _release_handlers()
            if owned:
                give_back_sigint(handler)
            outcome = self._outcome()
            if outcome is None:
                raise
            if isinstance(exc, KeyboardInterrupt | asyncio.CancelledError):  # ours
                raise outcome from None
            # Ctrl+C (or the handler) wins over how the run ended, kept as its context.
            raise outcome  # noqa: B904
        self._detach()
        _release_handlers()
        if owned:
            give_back_sigint(handler)
        outcome = self._outcome()
        if outcome is not None:  # it landed after the run's last await (hooks, decoding)
            raise outcome
        return result

    def _outcome(self) -> BaseException | None:
        """What the call raises: after Ctrl+C ``KeyboardInterrupt``, else what a handler raised."""
        return KeyboardInterrupt() if self.count else self.raised


# signal.signal()/getsignal() convert handlers to enums on every call; the C module does not.
_csignal: Any = importlib.import_module("_signal")
_SIGNALS = tuple(sorted(set(signal.valid_signals()) - {signal.SIGKILL, signal.SIGSTOP}))
_held: list[tuple[int, Any, Any]] = []  # (signal, host's handler, ours) for the call


def _hold_handlers(on_raise: Callable[[BaseException], None], skip: int) -> None:
    """For the call, each Python handler of the host's (but ``skip``'s) runs inside
    one that hands what it raises to ``on_raise`` instead of raising it.

    Python raises a handler's exception wherever the main thread is: out of the
    event loop's wait, abandoning the run (its children running, its fds open; on
    trio, the whole ``trio.run``), or into any task's code.
    """
    getsignal = _csignal.getsignal
    for signum in _SIGNALS:
        handler = getsignal(signum)
        if callable(handler) and signum != skip:
            held = _holding(handler, on_raise)
            _csignal.signal(signum, held)
            _held.append((signum, handler, held))


def _holding(handler: Callable[[int, Any], Any], on_raise: Callable[[BaseException], None]) -> Any:
    def held(signum: int, frame: Any) -> None:
        try:
            handler(signum, frame)
        except BaseException as exc:
            on_raise(exc)

    return held


def _release_handlers() -> None:
    """The host's handlers back, but where code in the call installed its own."""
    for signum, handler, held in _held:
        if _csignal.getsignal(signum) is held:
            _csignal.signal(signum, handler)
    _held.clear()


def _release_handlers_in_child() -> None:
    """A child forked during a call gets the host's handlers back (it has no run)."""
    with contextlib.suppress(ValueError, OSError):  # pragma: no cover - not the main thread
        _release_handlers()
    _held.clear()


os.register_at_fork(after_in_child=_release_handlers_in_child)


class AsyncioCtrlC(CtrlC):
    """Ctrl+C for a run on this thread's asyncio loop."""

    __slots__ = ("_task",)

    def __init__(self, loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any]) -> None:
        # Per call, on the hot path: CtrlC.__init__ and _attach inlined.
        self.count = self.hits = self._acted = 0
        self._soon = loop.call_soon_threadsafe
        self.raised = None
        self._task = task

    def _cancel(self) -> None:
        # A run already in a teardown's grace period is left to finish it.
        if not self._task.done() and not in_grace(id(self._task)):
            self._task.cancel()


class TrioCtrlC(CtrlC):
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
