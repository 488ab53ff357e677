"""What the request checks share: the refusal they raise, how a bad value and the
program are named in its message, and the number and OS-string primitives."""

from __future__ import annotations

import numbers
import os
import reprlib
from collections.abc import Sequence
from typing import TypeGuard

from cuprum._core.errors import InvalidArgumentError
from cuprum._model.spec import CommandSpec

__all__ = [
    "check_os_string",
    "described",
    "is_integer",
    "is_number",
    "refused",
    "who",
]


class _Refused(Exception):
    """A check failed; the caller adds the program to the message (:func:`refused`).
    Private: it never leaves the validators, which raise InvalidArgumentError."""


def who(stages: Sequence[CommandSpec]) -> str:
    """The program a run's error names: its own, or a pipeline's first stage."""
    if not stages:
        return "?"
    first = stages[0].program
    return first if len(stages) == 1 else f"{first} (first stage of a {len(stages)}-stage pipeline)"


def refused(stages: Sequence[CommandSpec], message: str) -> InvalidArgumentError:
    """The error for a run refused for ``message``, naming its program."""
    return InvalidArgumentError(f"{who(stages)}: {message}")


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 80


def described(value: object) -> str:
    """``value`` for a message: its (bounded) repr and its type."""
    try:
        text = _REPR.repr(value)
    except Exception:  # a hostile __repr__ must not hide the real error
        text = "<unprintable>"
    return f"{text} ({type(value).__name__})"


def is_number(value: object) -> TypeGuard[float]:
    """``int``, ``float`` or another real number type (numpy's), but not ``bool``."""
    kind = type(value)
    if kind is float or kind is int:  # the common case, without an ABC check
        return True
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def is_integer(value: object) -> TypeGuard[int]:
    """``int`` or another integral type (numpy's), but not ``bool``."""
    if type(value) is int:
        return True
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_os_string(what: str, text: str) -> None:
    """No NUL byte, and encodable with the file system encoding."""
    if "\x00" in text:
        raise _Refused(f"{what} contains a NUL byte")
    if not text.isascii():
        try:
            os.fsencode(text)
        except UnicodeEncodeError as exc:
            raise _Refused(
                f"{what} cannot be encoded for the operating system: {exc.reason}"
            ) from None
