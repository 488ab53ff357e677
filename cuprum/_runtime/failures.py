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

import itertools
import sys
from typing import Literal, NoReturn

from cuprum._core.errors import CaptureLimitExceeded, RemoteError, SpawnError
from cuprum._core.events import ErrorKind

__all__ = [
    "FirstFailure",
    "Source",
    "cancellation",
    "cause",
    "deadline_expired",
    "error_kind",
    "fail",
    "raised_order",
    "unwrap",
]

Source = Literal["hook_failed", "spawn_failed", "stdin_failed", "relay_failed", "output_failed"]
"""The parts of a run that tag what they raise."""


_raised = itertools.count()
"""The order in which carriers are made: the order their exceptions were raised."""


class _Carrier(BaseException):
    """Carries a ``BaseException`` that is neither a cancellation nor Ctrl+C (a hook's
    ``SystemExit``) from one part of a run to the failure tail: still not an
    ``Exception``, so no ``except Exception`` drops it and it wins as it would bare."""

    def __init__(self, kind: Source, error: BaseException) -> None:
        super().__init__(error)
        self.kind: Source = kind
        self.error = error
        self.order = next(_raised)


class _Tagged(_Carrier, Exception):
    """Carries an exception from one part of a run to the failure tail."""


class _DeadlineExpired(Exception):
    """The run's deadline passed (at once, or while it ran): ``TimeoutExpired`` follows."""


def fail(kind: Source, error: BaseException) -> NoReturn:
    """Raise ``error`` (being handled) tagged with the part of the run ``kind`` names.

    An error already tagged (a hook's, raised through a relay's line events, say)
    or of a kind of its own (``CaptureLimitExceeded``, the deadline) is raised as it is,
    and so is a cancellation or Ctrl+C (``cancelled``, whoever raised it). Any other
    ``BaseException`` (``SystemExit``) is carried, still no ``Exception``, by ``_Carrier``.
    """
    if isinstance(error, _Carrier | CaptureLimitExceeded | _DeadlineExpired) or cancellation(error):
        raise error
    if not isinstance(error, Exception):
        raise _Carrier(kind, error) from error
    raise _Tagged(kind, error) from error


def deadline_expired(message: str) -> BaseException:
    """The signal that the run's deadline passed; the tail raises ``TimeoutExpired``."""
    return _DeadlineExpired(message)


def unwrap(exc: BaseException) -> BaseException:
    """The one failure of a run inside the (nested) exception groups of its task groups.

    Several tasks can fail in the same step (the hooks of two relayed hops, a capture
    limit on two streams): the run fails with the first of them, never with the
    group. First means first raised for the failures tagged with where they came
    from (a task's order in the group is the order the tasks ended, and a ``rust``
    relay ends only once its pump thread has stopped), else first in the group. A
    cancellation among them (the run was cancelled from outside as they failed; or
    Ctrl+C, or any other exception that is not an ``Exception``) wins over the
    failures, so it goes on to the scope that waits for it.
    """
    if not isinstance(exc, BaseExceptionGroup):
        return exc
    failures = _leaves(exc)
    for failure in failures:
        if not isinstance(failure, Exception):
            return failure
    tagged = [failure for failure in failures if isinstance(failure, _Carrier)]
    return min(tagged, key=lambda failure: failure.order) if tagged else failures[0]


def raised_order(failure: BaseException) -> int:
    """When ``failure`` (unwrapped) was raised, among the failures of every run: a
    tagged one's place in that order, anything else's is now."""
    return failure.order if isinstance(failure, _Carrier) else next(_raised)


class FirstFailure:
    """The failures that stop a batch of runs (``run_concurrent``, ``run_fleet``), and
    the one the batch raises, by the rule of :func:`unwrap` for the tasks of one run:
    a cancellation or Ctrl+C (anything that is not an ``Exception``) first, else the
    first raised. Several runs failing together never make an exception group."""

    __slots__ = ("_failures",)

    def __init__(self) -> None:
        self._failures: list[tuple[bool, int, BaseException]] = []

    def add(self, error: BaseException, order: int | None = None) -> None:
        """``error``, raised ``order``-th (:func:`raised_order`; ``None``: now)."""
        when = order if order is not None else next(_raised)
        self._failures.append((isinstance(error, Exception), when, error))

    def __bool__(self) -> bool:
        return bool(self._failures)

    def first(self) -> BaseException:
        """The failure to raise (there is one)."""
        return min(self._failures, key=lambda failure: failure[:2])[2]


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    """The exceptions of ``group`` and of the groups nested in it, in order."""
    leaves: list[BaseException] = []
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            leaves += _leaves(exc)
        else:
            leaves.append(exc)
    return leaves


def cause(exc: BaseException) -> BaseException:
    """What to raise for ``exc`` (unwrapped): the carried exception, never a carrier.

    The carried exception is someone else's: a group of one (a stdin source's, out
    of the feeder's task group) is its one exception; a group of several stays as
    it is, as it was raised.
    """
    while isinstance(exc, _Carrier):
        exc = exc.error
        while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
            exc = exc.exceptions[0]
    return exc


def error_kind(exc: BaseException) -> ErrorKind:
    """The ``error`` kind for a run that ended with ``exc`` (unwrapped), by its type.

    ``cancelled`` only for cancellation (and Ctrl+C); ``timeout`` for the deadline;
    ``capture_limit`` for ``on_limit="raise"``; ``spawn_failed`` for any failure to
    start; the tagged part's kind for hooks, stdin, relays and output;
    ``remote_failed`` for a remote command's connection (lost, or not reached); and
    ``internal_error`` for anything else (cuprum itself failed).
    """
    if cancellation(exc):
        return "cancelled"
    if isinstance(exc, _DeadlineExpired):
        return "timeout"
    if isinstance(exc, CaptureLimitExceeded):
        return "capture_limit"
    if isinstance(exc, SpawnError):
        return "spawn_failed"
    if isinstance(exc, _Carrier):
        return exc.kind
    if isinstance(exc, RemoteError):
        return "remote_failed"
    return "internal_error"


def cancellation(exc: BaseException) -> bool:
    """Ctrl+C, or the event loop's cancellation (asyncio's or trio's: what anyio's
    ``get_cancelled_exc_class()`` names on each, known without a running loop)."""
    if isinstance(exc, KeyboardInterrupt):
        return True
    # (Looked up with getattr: another thread may be importing either module now.)
    for module, name in (("asyncio", "CancelledError"), ("trio", "Cancelled")):
        cancelled = getattr(sys.modules.get(module), name, None)
        if cancelled is not None and isinstance(exc, cancelled):
            return True
    return False
