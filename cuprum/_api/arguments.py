"""Turning a builder's Python arguments into argv, refusing what would be mangled.

``str()`` of a list is ``"['a', 'b']"`` and of bytes ``"b'x'"``: never what the
caller meant, so such values are refused with :class:`InvalidArgumentError`
naming the program and the position (or flag). So is text the operating system
cannot encode (a lone surrogate such as ``"\\ud800"``), at build time rather than
as a bare ``UnicodeEncodeError`` when the program is spawned.
"""

from __future__ import annotations

import os
import reprlib
from collections.abc import Iterator, Mapping, Sequence, Set, ValuesView
from typing import TypeAlias

from cuprum._core.errors import InvalidArgumentError
from cuprum._core.secret import Secret

__all__ = ["Arg", "check_argv", "to_argv"]

Arg: TypeAlias = str | os.PathLike[str] | int | float
"""What a builder takes as one argument: text, a path, or a number. Anything else
(a UUID, an enum) is converted with ``str()`` at run time, but say so yourself:
``str(value)``; collections and bytes are refused."""

# Values whose str() is never a meaningful argument: the containers (one argument
# per item was almost certainly meant), raw bytes and iterators.
_MANGLED = (Sequence, Set, Mapping, ValuesView, Iterator, memoryview)

_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 60
_REPR.maxlist = _REPR.maxtuple = _REPR.maxset = _REPR.maxdict = 4


def to_argv(program: str, args: tuple[object, ...], flags: Mapping[str, object]) -> tuple[str, ...]:
    """Positional ``args``, then ``--flag-name=value`` for each of ``flags``."""
    argv = [
        arg if type(arg) is str else _convert(program, arg, f"argument {i}")
        for i, arg in enumerate(args)
    ]
    for name, value in flags.items():
        flag = f"--{name.replace('_', '-')}"
        text = value if type(value) is str else _convert(program, value, flag)
        argv.append(f"{flag}=" + text)  # "+", not an f-string: "--flag=" + Secret is a Secret
    return tuple(argv)


def _convert(program: str, value: object, what: str) -> str:
    if value is None:
        raise InvalidArgumentError(
            f"{program}: {what} is None; decide whether to skip or substitute it before "
            "calling the builder"
        )
    if isinstance(value, os.PathLike):
        path = os.fspath(value)
        return path if isinstance(path, str) else os.fsdecode(path)
    if isinstance(value, Secret):  # str() would be its redaction
        return value
    if isinstance(value, str):  # a str subclass (a Program, say)
        return str(value)
    if isinstance(value, _MANGLED):
        raise InvalidArgumentError(_mangled(program, value, what))
    return str(value)


def _mangled(program: str, value: object, what: str) -> str:
    kind = type(value).__name__
    shown = _REPR.repr(value)
    if isinstance(value, bytes | bytearray | memoryview):
        fix = "decode it first (os.fsdecode(value) keeps any byte)"
    elif isinstance(value, Mapping):
        fix = f"pass its items as flags ({program}(**mapping)) or as separate arguments"
    else:
        fix = f"pass its items as separate arguments ({program}(*items))"
    return f"{program}: {what} is a {kind} ({shown}), not one argument; {fix}"


def check_argv(program: str, argv: tuple[str, ...]) -> None:
    """Every argument a ``str`` without NUL that the OS can encode; the program too."""
    if "\x00" in program or not program.isascii():
        _check_text(ascii(program), "the program name", program)
    for position, arg in enumerate(argv):
        if not isinstance(arg, str):
            raise InvalidArgumentError(
                f"{program}: argument {position} is {type(arg).__name__}, not str: {arg!r}"
            )
        _check_text(program, f"argument {position}", arg)


def _check_text(who: str, what: str, text: str) -> None:
    if "\x00" in text:
        raise InvalidArgumentError(f"{who}: {what} contains a NUL byte")
    if not text.isascii():
        try:
            os.fsencode(text)
        except UnicodeEncodeError as exc:
            raise InvalidArgumentError(
                f"{who}: {what} {_REPR.repr(text)} cannot be encoded for the "
                f"operating system ({exc.reason} at index {exc.start}); "
                "os.fsdecode() of real bytes gives text that can"
            ) from None
