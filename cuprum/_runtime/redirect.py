"""Redirect targets (``stdout=``/``stderr=``): the child-side fd each one stands for."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from typing import Any

from cuprum._model.io import AppendTo, Stream

__all__ = ["open_target"]


def open_target(keep: Callable[[int], int], target: Any, default_fd: int) -> int:
    """A child-side fd for ``target``; a path is opened here and handed to ``keep``
    (the plan closes it once the child runs)."""
    if target is Stream.DEVNULL:
        return subprocess.DEVNULL
    if target is Stream.INHERIT:
        return default_fd
    if isinstance(target, AppendTo | str | os.PathLike):
        append = isinstance(target, AppendTo)
        path = target.path if isinstance(target, AppendTo) else target
        flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC
        return keep(os.open(path, flags | (os.O_APPEND if append else os.O_TRUNC), 0o666))
    if hasattr(target, "fileno"):
        if hasattr(target, "flush"):
            target.flush()
        return int(target.fileno())
    raise TypeError(f"cannot redirect to {target!r}")
