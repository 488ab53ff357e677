"""Where a command's standard streams come from and go to (beyond capture)."""

from __future__ import annotations

import enum
import os
from collections.abc import AsyncIterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal, TypeAlias

__all__ = [
    "DEVNULL",
    "INHERIT",
    "STDOUT",
    "AppendTo",
    "OnLimit",
    "Redirect",
    "StderrTarget",
    "StdinSource",
    "Stream",
]


class Stream(enum.Enum):
    """Special stream targets: ``DEVNULL``, ``INHERIT`` (the parent's own) and ``STDOUT``."""

    DEVNULL = "devnull"
    INHERIT = "inherit"
    STDOUT = "stdout"

    def __repr__(self) -> str:
        return f"cuprum.{self.name}"


DEVNULL = Stream.DEVNULL
"""Discard output (or give the child an empty stdin)."""
INHERIT = Stream.INHERIT
"""Give the child the parent's own stream (its terminal, usually)."""
STDOUT = Stream.STDOUT
"""``stderr=STDOUT`` merges stderr into stdout, like ``2>&1``."""


@dataclass(frozen=True, slots=True)
class AppendTo:
    """Redirect to a file opened for appending (``>>``); a bare path truncates (``>``)."""

    path: str | os.PathLike[str]


Redirect: TypeAlias = Literal[Stream.DEVNULL, Stream.INHERIT] | Path | AppendTo | BinaryIO
"""A file path (truncated), :class:`AppendTo`, an open binary file, ``DEVNULL``, ``INHERIT``."""

StderrTarget: TypeAlias = Redirect | Literal[Stream.STDOUT]

StdinSource: TypeAlias = (
    bytes | str | Path | BinaryIO | AsyncIterable[bytes] | Literal[Stream.DEVNULL, Stream.INHERIT]
)
"""``bytes``; ``str`` (encoded with the context encoding); a path or open binary file
(handed to the child as its fd, no copying); an async iterable of bytes (fed with
backpressure); ``DEVNULL`` (the default) or ``INHERIT``."""

OnLimit = Literal["truncate", "raise"]
