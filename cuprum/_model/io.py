"""Where a command's standard streams come from and go to (beyond capture)."""

from __future__ import annotations

import enum
import os
from collections.abc import AsyncIterable
from dataclasses import dataclass
from typing import Final, Literal, Protocol, TypeAlias

__all__ = [
    "DEVNULL",
    "INHERIT",
    "PIPE",
    "STDOUT",
    "AppendTo",
    "HasFileno",
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
    PIPE = "pipe"

    def __repr__(self) -> str:
        return f"cuprum.{self.name}"


# Final keeps each marker's Literal type, so `stderr=STDOUT` type-checks against
# parameters typed Literal[Stream.STDOUT] (a plain assignment widens it to Stream).
DEVNULL: Final = Stream.DEVNULL
"""Discard output (or give the child an empty stdin)."""
INHERIT: Final = Stream.INHERIT
"""Give the child the parent's own stream (its terminal, usually)."""
STDOUT: Final = Stream.STDOUT
"""``stderr=STDOUT`` merges stderr into stdout, like ``2>&1``."""
PIPE: Final = Stream.PIPE
"""``stdin=PIPE`` (streaming only): the handle writes the child's stdin (and a stream
handle's own request reads stdout with ``stdout=PIPE``)."""


@dataclass(frozen=True, slots=True)
class AppendTo:
    """Redirect to a file opened for appending (``>>``); a bare path truncates (``>``)."""

    path: str | os.PathLike[str]


class HasFileno(Protocol):
    """An open file, socket or anything else backed by a file descriptor."""

    def fileno(self) -> int:
        """The descriptor the child is given (cuprum never closes it)."""
        ...


Redirect: TypeAlias = (
    Literal[Stream.DEVNULL, Stream.INHERIT] | str | os.PathLike[str] | AppendTo | HasFileno
)
"""A file path (truncated), :class:`AppendTo`, an open file, ``DEVNULL``, ``INHERIT``."""

StderrTarget: TypeAlias = Redirect | Literal[Stream.STDOUT]

StdinSource: TypeAlias = (
    bytes
    | bytearray
    | memoryview
    | str
    | os.PathLike[str]
    | HasFileno
    | AsyncIterable[bytes]
    | Literal[Stream.DEVNULL, Stream.INHERIT, Stream.PIPE]
)
"""``bytes``; ``str`` (encoded with the context encoding); a path or open binary file
(handed to the child as its fd, no copying); an async iterable of bytes (fed with
backpressure); ``DEVNULL`` (the default), ``INHERIT``, or ``PIPE`` when streaming."""

OnLimit = Literal["truncate", "raise"]
"""What a stream over ``capture_limit`` does: keep the first bytes, or stop the run."""
