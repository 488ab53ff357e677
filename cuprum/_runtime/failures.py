"""Why a run failed: the one place that names the ``error`` kind of a terminal event.

Each part of a run that can fail with someone else's exception tags it on the
way out (:func:`fail`) with where it came from: a hook (``hook_failed``), the start
(``spawn_failed``: an env the OS rejects, a stdin that cannot be encoded), the
stdin source (``stdin_failed``), a relay (``relay_failed``), the output reader
(``output_failed``). The failure tail asks :func:`error_kind` for the kind, from
the exception alone, and raises :func:`cause`: the exception itself, never the
private carrier, which does not leave the engine.
"""

from __future__ import annotations

import sys
from typing import Literal, NoReturn

from cuprum._core.errors import CaptureLimitExceeded, RemoteError, SpawnError
from cuprum._core.events import ErrorKind

__all__ = ["Source", "cause", "deadline_expired", "error_kind", "fail", "unwrap"]

Source = Literal["hook_failed", "spawn_failed", "stdin_failed", "relay_failed", "output_failed"]
"""The parts of a run that tag what they raise."""


class _Tagged(Exception):
    """Carries an exception from one part of a run to the failure tail."""

    def __init__(self, kind: Source, error: BaseException) -> None:
        super().__init__(error)
        self.kind: Source = kind
        self.error = error


class _DeadlineExpired(Exception):
    """The run's deadline passed (at once, or while it ran): ``TimeoutExpired`` follows."""


def fail(kind: Source, error: BaseException) -> NoReturn:
    """Raise ``error`` (being handled) tagged with the part of the run ``kind`` names.

    An error already tagged (a hook's, raised through a relay's line events, say)
    or of a kind of its own (``CaptureLimitExceeded``, the deadline) is raised as it is.
    """
    if isinstance(error, _Tagged | CaptureLimitExceeded | _DeadlineExpired):
        raise error
    raise _Tagged(kind, error) from error


def deadline_expired(message: str) -> BaseException:
    """The signal that the run's deadline passed; the tail raises ``TimeoutExpired``."""
    return _DeadlineExpired(message)


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
    return unwrap(exc.error) if isinstance(exc, _Tagged) else exc


def error_kind(exc: BaseException) -> ErrorKind:
    """The ``error`` kind for a run that ended with ``exc`` (unwrapped), by its type.

    ``cancelled`` only for cancellation (and Ctrl+C); ``timeout`` for the deadline;
    ``capture_limit`` for ``on_limit="raise"``; ``spawn_failed`` for any failure to
    start; the tagged part's kind for hooks, stdin, relays and output;
    ``remote_failed`` for a remote command's connection (lost, or not reached); and
    ``internal_error`` for anything else (cuprum itself failed).
    """
    if _cancellation(exc):
        return "cancelled"
    if isinstance(exc, _DeadlineExpired):
        return "timeout"
    if isinstance(exc, CaptureLimitExceeded):
        return "capture_limit"
    if isinstance(exc, SpawnError):
        return "spawn_failed"
    if isinstance(exc, _Tagged):
        return exc.kind
    if isinstance(exc, RemoteError):
        return "remote_failed"
    return "internal_error"


def _cancellation(exc: BaseException) -> bool:
    """Ctrl+C, or the event loop's cancellation (asyncio's or trio's: what anyio's
    ``get_cancelled_exc_class()`` names on each, known without a running loop)."""
    if isinstance(exc, KeyboardInterrupt):
        return True
    asyncio = sys.modules.get("asyncio")
    if asyncio is not None and isinstance(exc, asyncio.CancelledError):
        return True
    cancelled = getattr(sys.modules.get("trio"), "Cancelled", None)
    return cancelled is not None and isinstance(exc, cancelled)
