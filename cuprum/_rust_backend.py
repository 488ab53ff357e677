"""Probe for the optional native extension ``cuprum._streams_rs``.

The extension ships only in the native wheel (or an in-place ``maturin develop``
build). :func:`is_available` never raises; :func:`pump` hands the relay the
native pump or raises :class:`NativeUnavailableError` naming what is missing.
This module imports nothing else from cuprum but its errors.
"""

from __future__ import annotations

import functools
import importlib
from types import ModuleType
from typing import Literal, Protocol

from cuprum._core.errors import NativeUnavailableError  # re-exported: defined there

__all__ = ["EXTENSION", "NativeUnavailableError", "PumpFunction", "is_available", "pump"]

EXTENSION = "cuprum._streams_rs"


class PumpFunction(Protocol):
    """Signature of ``cuprum._streams_rs.rust_pump_stream``."""

    def __call__(
        self,
        reader_fd: int,
        writer_fd: int,
        *,
        buffer_size: int = ...,
        tap_fd: int | None = ...,
        stop_fd: int | None = ...,
        _mode: Literal["auto", "splice", "copy"] = ...,
    ) -> int: ...


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


def pump() -> PumpFunction:
    """The native ``rust_pump_stream``; :class:`NativeUnavailableError` without it."""
    loaded = _load()
    if isinstance(loaded, BaseException):
        raise NativeUnavailableError(
            f"the native extension {EXTENSION} is not available ({loaded}); install "
            "the cuprum native wheel, or build it in place with `maturin develop --release`"
        ) from loaded
    function: PumpFunction = loaded.rust_pump_stream
    return function
