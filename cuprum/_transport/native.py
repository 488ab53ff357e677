"""The optional native extension ``cuprum._streams_rs`` (the ``cuprum_native`` crate).

The extension ships only in the native wheel (or an in-place ``maturin develop``
build). :func:`is_available` never raises; :func:`pump` hands the ``rust`` relay
the native pump or raises :class:`NativeUnavailableError` naming what is missing.
:class:`PumpFunction` is the typed description of the compiled function (the
extension has no stub of its own); ``docs/native.md`` has its semantics.
This module imports nothing else from cuprum but its errors.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import AsyncIterator, Awaitable, Callable
from types import ModuleType
from typing import Protocol

from cuprum._core.errors import NativeUnavailableError  # re-exported: defined there

__all__ = [
    "EXTENSION",
    "LineCursorFunction",
    "LineEventsFunction",
    "NativeUnavailableError",
    "PumpFunction",
    "is_available",
    "line_cursor",
    "line_events",
    "line_marks",
    "pump",
]

EXTENSION = "cuprum._streams_rs"


class PumpFunction(Protocol):
    """``cuprum._streams_rs.rust_pump_stream``.

    Moves bytes from ``reader_fd`` to ``writer_fd`` until EOF and returns the
    count. Releases the GIL; closes none of the descriptors. ``tap_fd`` also
    receives every byte; once ``stop_fd`` is readable the call raises
    ``InterruptedError``. EPIPE on the writer ends the transfer with the count so
    far; other failures raise ``OSError`` with ``errno`` set. (Tests and
    benchmarks force a transfer strategy with the module's private
    ``_pump_in_mode(mode, reader_fd, writer_fd, ...)``.)
    """

    def __call__(
        self,
        reader_fd: int,
        writer_fd: int,
        *,
        buffer_size: int = ...,
        tap_fd: int | None = ...,
        stop_fd: int | None = ...,
    ) -> int: ...


class LineEventsFunction(Protocol):
    """``cuprum._streams_rs.deliver_line_events``.

    For each str in ``lines``, a new ``event_type`` instance (no ``__init__`` runs)
    whose slots, at ``offsets`` (from ``slot_offsets(instance, values)``), hold
    ``template``'s values but the line at ``line_index``; every hook is called with
    it, in order; a hook's exception propagates at once. See docs/native.md.
    """

    def __call__(  # noqa: PLR0917 - the compiled function's own signature
        self,
        event_type: type,
        offsets: list[int],
        template: tuple[object, ...],
        line_index: int,
        lines: list[str],
        hooks: tuple[object, ...],
        /,
    ) -> None: ...


class LineCursorFunction(Protocol):
    """``cuprum._streams_rs.line_cursor``.

    An async iterator of the lines in ``source.ready`` (re-read whenever the one it
    holds runs out); when none are left, ``__anext__`` returns ``refill()``, which
    returns the next line or raises ``StopAsyncIteration``. Each ready line's
    awaitable completes at once, without an event-loop checkpoint, as an async
    generator's would. See docs/native.md.
    """

    def __call__(
        self, source: object, refill: Callable[[], Awaitable[str]], /
    ) -> AsyncIterator[str]: ...


@functools.cache
def _load() -> ModuleType | BaseException:
    """Import the extension once; the module, or the reason it is unusable."""
    try:
        return importlib.import_module(EXTENSION)
    except Exception as exc:  # ImportError, or OSError from the dynamic loader
        return exc


def is_available() -> bool:
    """Whether the native extension can be used (cached; never raises)."""
    return isinstance(_load(), ModuleType)


def module() -> ModuleType:
    """The extension module; :class:`NativeUnavailableError` without it."""
    loaded = _load()
    if isinstance(loaded, BaseException):
        raise NativeUnavailableError(
            f"the native extension {EXTENSION} is not available ({loaded}); install "
            "the cuprum native wheel, or build it in place with `maturin develop --release`"
        ) from loaded
    return loaded


def pump() -> PumpFunction:
    """The native ``rust_pump_stream``; :class:`NativeUnavailableError` without it."""
    function: PumpFunction = module().rust_pump_stream
    return function


def line_events(
    instance: object, values: tuple[object, ...]
) -> tuple[LineEventsFunction, list[int]] | None:
    """The native line-event builder and the slot offsets of ``instance`` (built with
    the distinct ``values``, one per slot), or ``None``: no extension, an extension
    without it, or a layout it refuses. Never raises."""
    loaded = _load()
    if isinstance(loaded, BaseException):
        return None
    try:
        offsets: list[int] = loaded.slot_offsets(instance, values)
        function: LineEventsFunction = loaded.deliver_line_events
    except (AttributeError, ValueError):
        return None
    return function, offsets


def line_marks() -> Callable[[bytes], tuple[int, int, int]] | None:
    """The native ``line_marks`` (``(count, first, last)`` of a chunk's newlines), or
    ``None`` without the extension (or with one that lacks it). Never raises."""
    loaded = _load()
    if isinstance(loaded, BaseException):
        return None
    function: Callable[[bytes], tuple[int, int, int]] | None = getattr(loaded, "line_marks", None)
    return function


def line_cursor() -> LineCursorFunction | None:
    """The native ``line_cursor``, or ``None`` without the extension (or with one
    that lacks it). Never raises."""
    loaded = _load()
    if isinstance(loaded, BaseException):
        return None
    function: LineCursorFunction | None = getattr(loaded, "line_cursor", None)
    return function
