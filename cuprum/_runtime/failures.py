"""Why a run failed: the one place that names the ``error`` kind of a terminal event.

Each part of a run that can fail with someone else's exception tags it on the
way out with a :class:`Failure` carrier saying where it came from: a hook
(:class:`HookFailed`), the start (:class:`StartFailed`), the stdin source
(:class:`StdinFailed`), a relay (:class:`RelayFailed`), the output reader
(:class:`OutputFailed`). The failure tail asks :func:`error_kind` for the kind,
by exception type alone, and raises :func:`cause` — the exception itself, never a
carrier, which does not leave the engine.
"""

from __future__ import annotations

from typing import ClassVar

import anyio

from cuprum._core.errors import SpawnError
from cuprum._core.events import ErrorKind
from cuprum._runtime.streams import CaptureLimitExceeded

__all__ = [
    "DeadlineExpired",
    "Failure",
    "HookFailed",
    "OutputFailed",
    "RelayFailed",
    "StartFailed",
    "StdinFailed",
    "cause",
    "error_kind",
    "unwrap",
]


class DeadlineExpired(Exception):
    """The run's deadline passed (at once, or while it ran): ``TimeoutExpired`` follows."""


class Failure(Exception):
    """Internal carrier of an exception from one part of a run (see the module doc)."""

    kind: ClassVar[ErrorKind]

    def __init__(self, error: BaseException) -> None:
        super().__init__(error)
        self.error = error


class HookFailed(Failure):
    """An observe hook raised."""

    kind = "hook_failed"


class StartFailed(Failure):
    """Wiring or spawning raised something other than ``SpawnError`` (an env the OS
    rejects, a stdin that cannot be encoded, a stdin of a type that cannot be used)."""

    kind = "spawn_failed"


class StdinFailed(Failure):
    """Feeding stdin failed: the async iterable raised, or writing to the pipe did."""

    kind = "stdin_failed"


class RelayFailed(Failure):
    """A relayed hop failed with an I/O error (or the native pump raised)."""

    kind = "relay_failed"


class OutputFailed(Failure):
    """Reading or echoing the output failed (an echo sink raised, a read failed)."""

    kind = "output_failed"


def unwrap(exc: BaseException) -> BaseException:
    """The single real failure inside (nested) exception groups from our task groups.

    When a capture limit fails the run, other tasks may fail in the same step as
    they are cancelled: that is one failure, reported as the first
    ``CaptureLimitExceeded``, not as a group.
    """
    while isinstance(exc, BaseExceptionGroup):
        if len(exc.exceptions) != 1:
            _, others = exc.split(CaptureLimitExceeded)
            if others is not None:
                break
        exc = exc.exceptions[0]
    return exc


def cause(exc: BaseException) -> BaseException:
    """What to raise for ``exc`` (unwrapped): the carried exception, never a carrier."""
    return unwrap(exc.error) if isinstance(exc, Failure) else exc


def error_kind(exc: BaseException) -> ErrorKind:
    """The ``error`` kind for a run that ended with ``exc`` (unwrapped), by type alone.

    ``cancelled`` only for cancellation (and Ctrl+C); ``timeout`` for the deadline;
    ``capture_limit`` for ``on_limit="raise"``; ``spawn_failed`` for any failure to
    start; the carriers' own kinds for hooks, stdin, relays and output; and
    ``internal_error`` for anything else (cuprum itself failed).
    """
    if isinstance(exc, anyio.get_cancelled_exc_class() | KeyboardInterrupt):
        return "cancelled"
    if isinstance(exc, DeadlineExpired):
        return "timeout"
    if isinstance(exc, CaptureLimitExceeded):
        return "capture_limit"
    if isinstance(exc, SpawnError):
        return "spawn_failed"
    if isinstance(exc, Failure):
        return exc.kind
    return "internal_error"
