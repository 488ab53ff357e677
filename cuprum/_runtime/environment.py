"""The environment a child starts with: inherited or minimal, the overlay, secrets revealed.

``None`` (the common case: inherit ``os.environ`` unchanged) lets ``Popen`` pass the
parent's environment as it is, without building a copy.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from cuprum._core.secret import reveal
from cuprum._model.execution import ExecutionContext

__all__ = ["child_env"]


def child_env(ctx: ExecutionContext, overlay: Mapping[str, str] | None) -> dict[str, str] | None:
    """``os.environ`` (or, with ``inherit_env=False``, only its ``keep_env`` names)
    overlaid with ``overlay`` (the copy of ``ctx.env`` the engine checked at the spawn),
    secret values revealed; ``None`` for ``os.environ`` itself."""
    if ctx.inherit_env:
        if not overlay:
            return None
        env = dict(os.environ)
    else:
        env = {name: os.environ[name] for name in ctx.keep_env if name in os.environ}
    if overlay:
        for name, value in overlay.items():
            env[name] = reveal(value)  # type: ignore[assignment]  # bytes are fine for Popen
    return env
