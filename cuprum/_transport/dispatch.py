"""Choosing how a pipeline hop moves: ``direct``, ``python`` or ``rust``.

``CUPRUM_STREAM_BACKEND=auto|direct|python|rust`` forces a strategy (read at each
run). ``auto`` picks ``direct`` unless the parent must see the hop, then ``rust``
when the native extension is importable, else ``python``.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Literal, Protocol

from cuprum._core.errors import StreamBackendError  # re-exported: defined there

__all__ = [
    "Relay",
    "Strategy",
    "StreamBackendError",
    "choose_strategy",
    "configured",
    "pure_python",
    "relay_for",
]

Strategy = Literal["direct", "python", "rust"]
_STRATEGIES: dict[str, Strategy] = {"direct": "direct", "python": "python", "rust": "rust"}
ENV_VAR = "CUPRUM_STREAM_BACKEND"


class Relay(Protocol):
    """What ``python_relay`` and ``rust_relay`` both are (see :mod:`.python`)."""

    def __call__(
        self, reader_fd: int, writer_fd: int, *, on_chunk: Callable[[bytes], None] | None = None
    ) -> Awaitable[int]: ...


def _rust_available() -> bool:
    from cuprum._transport.native import is_available

    return is_available()


def configured() -> str:
    """The strategy requested by the environment (``auto`` when unset)."""
    value = os.environ.get(ENV_VAR, "auto").strip().lower() or "auto"
    if value != "auto" and value not in _STRATEGIES:
        raise StreamBackendError(f"{ENV_VAR}={value!r} is not one of auto, direct, python, rust")
    return value


def pure_python() -> bool:
    """Whether the environment asks for the ``python`` strategy: then the run does in
    Python what the native extension would otherwise do (per-line events too), as a
    pure install does. Never raises (a bad value is for ``choose_strategy`` to refuse)."""
    return os.environ.get(ENV_VAR, "").strip().lower() == "python"


def choose_strategy(*, parent_must_see: bool) -> Strategy:
    """Resolve the strategy for this run's hops."""
    value = configured()
    if value == "rust" and not _rust_available():
        raise StreamBackendError(
            f"{ENV_VAR}=rust but the cuprum_native extension is not installed "
            "(install the native wheel, or build it with `maturin develop`)"
        )
    if value == "direct" and parent_must_see:
        raise StreamBackendError(
            f"{ENV_VAR}=direct cannot serve stage_events=True: the parent must see "
            "intermediate hops; use auto, python or rust"
        )
    if value != "auto":
        return _STRATEGIES[value]
    if not parent_must_see:
        return "direct"
    return "rust" if _rust_available() else "python"


def relay_for(strategy: Strategy) -> Relay:
    """The relay function of a relaying strategy (``python`` or ``rust``)."""
    if strategy == "rust":
        from cuprum._transport.rust import rust_relay

        return rust_relay
    if strategy == "python":
        from cuprum._transport.python import python_relay

        return python_relay
    raise ValueError(f"{strategy!r} is not a relaying strategy: use 'python' or 'rust'")
