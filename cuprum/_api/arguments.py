"""Turning a builder's Python arguments into argv, refusing what would be mangled.

``str()`` of a list is ``"['a', 'b']"`` and of bytes ``"b'x'"``: never what the
caller meant, so such values are refused with :class:`InvalidArgumentError`
naming the program and the position (or flag). So is text the operating system
cannot encode (a lone surrogate such as ``"\\ud800"``), at build time rather than
as a bare ``UnicodeEncodeError`` when the program is spawned, and a value whose
own conversion fails (``__str__`` or ``__fspath__`` raising or returning a non-text,
an ``int`` too long for ``str()``): the original error is the ``__cause__``.

Every argument comes out a plain ``str`` or a :class:`Secret`: the text of a ``str``
subclass is taken as it is (``str.__str__``), so no override of ``__str__``,
``__contains__`` or ``encode`` decides what was checked or what the child gets.
"""

from __future__ import annotations

import os
import re
import reprlib
from collections.abc import Iterator, Mapping, Sequence, Set, ValuesView
from typing import TypeAlias

from cuprum._core.errors import InvalidArgumentError
from cuprum._core.secret import Secret

__all__ = ["Arg", "check_argv", "shown", "to_argv"]

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
    """Positional ``args``, then ``--flag-name=value`` for each of ``flags``.

    A flag's value is checked here, so a refusal names the flag (``--mode``); the
    positional arguments are checked with the rest of the argv, by :func:`check_argv`.
    """
    argv = [
        arg if type(arg) is str else _convert(program, arg, f"argument {i}")
        for i, arg in enumerate(args)
    ]
    for name, value in flags.items():
        flag = _flag(program, name)
        text = value if type(value) is str else _convert(program, value, flag)
        _check_arg(program, flag, text)
        if isinstance(text, Secret) and not isinstance(text.reveal(), str):
            raise InvalidArgumentError(
                f"{program}: {flag} is a bytes Secret, which cannot be joined to the flag's "
                "text; pass the whole argument as one (Secret(b'--flag=' + value))"
            )
        argv.append(f"{flag}=" + text)  # "+", not an f-string: "--flag=" + Secret is a Secret
    return tuple(argv)


_FLAG_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


def _flag(program: str, name: str) -> str:
    """``--flag-name`` for the keyword ``flag_name``. Only ASCII letters, digits, ``_``
    and ``-``, starting with a letter or digit: so the argument reads as one flag and
    its value, never as two (``a=b``: ``--a=b=1`` is ``--a`` with ``b=1``), another
    option (``-x``: ``---x``) or the end of options (an empty name: ``--``)."""
    if not isinstance(name, Secret):
        text = str.__str__(name)  # a str subclass's text, as it is
        if _FLAG_NAME.fullmatch(text):
            return "--" + text.replace("_", "-")
    shown_name = ascii(name if len(name) <= 40 else name[:40] + "...")
    raise InvalidArgumentError(
        f"{program}: keyword argument {shown_name} is not a flag name: {_flag_problem(name)}; "
        "a flag name is ASCII letters, digits, '_' and '-', starting with a letter or digit"
    )


def _flag_problem(name: str) -> str:
    """Why ``name`` is refused, in a few words."""
    if isinstance(name, Secret):
        return "it is a Secret (a flag's value may be one, its name may not)"
    text = str.__str__(name)
    if not text:
        return "it is empty ('--' ends the options)"
    if text[0] in "-_":
        return f"it starts with {text[0]!r} (the flag would be '--{text.replace('_', '-')}')"
    if "=" in text:
        flag = ascii(text.partition("=")[0].replace("_", "-"))[1:-1]
        return f"it holds '=' (the argument would read as the flag --{flag} and a value)"
    bad = next(char for char in text if not (char.isascii() and (char.isalnum() or char in "-_")))
    return f"it holds {bad!a}"


def _convert(program: str, value: object, what: str) -> str:
    """One argument as a plain ``str`` (or a ``Secret``), or an ``InvalidArgumentError``."""
    if value is None:
        raise InvalidArgumentError(
            f"{program}: {what} is None; decide whether to skip or substitute it before "
            "calling the builder"
        )
    if isinstance(value, Secret):  # str() would be its redaction
        return value
    if isinstance(value, os.PathLike):
        try:
            path = os.fspath(value)
        except Exception as exc:  # a user's __fspath__ may raise anything
            raise _failed(program, what, value, "os.fspath()", exc) from exc
        return _plain(path) if isinstance(path, str) else os.fsdecode(path)
    if isinstance(value, str):  # a str subclass (a Program, say): its text as it is
        return str.__str__(value)
    if isinstance(value, _MANGLED):
        raise InvalidArgumentError(_mangled(program, value, what))
    try:
        text = str(value)
    except Exception as exc:  # a user's __str__, an int past str()'s limit
        raise _failed(program, what, value, "str()", exc) from exc
    return _plain(text)


def _plain(text: str) -> str:
    """``text`` as a plain ``str``; a ``Secret`` stays one (the child gets its value)."""
    return text if type(text) is str or isinstance(text, Secret) else str.__str__(text)


def _failed(
    program: str, what: str, value: object, how: str, exc: Exception
) -> InvalidArgumentError:
    return InvalidArgumentError(
        f"{program}: {what} ({type(value).__name__}) cannot be converted to text: "
        f"{how} raised {type(exc).__name__}: {exc}"
    )


def shown(value: object) -> str:
    """A short ``repr`` of ``value``; one that fails (an ``int`` past ``repr()``'s
    digit limit, say) is shown as its type."""
    try:
        return _REPR.repr(value)
    except Exception:  # reprlib catches a failing __repr__ only for some types
        return f"<{type(value).__name__} object>"


def _mangled(program: str, value: object, what: str) -> str:
    kind = type(value).__name__
    if isinstance(value, bytes | bytearray | memoryview):
        fix = "decode it first (os.fsdecode(value) keeps any byte)"
    elif isinstance(value, Mapping):
        fix = f"pass its items as flags ({program}(**mapping)) or as separate arguments"
    else:
        fix = f"pass its items as separate arguments ({program}(*items))"
    return f"{program}: {what} is a {kind} ({shown(value)}), not one argument; {fix}"


def check_argv(program: str, argv: tuple[str, ...]) -> tuple[str, ...]:
    """``argv`` once every argument is a ``str`` without NUL that the OS can encode
    (a ``Secret``'s value too); the program name as well.

    Returns ``argv`` itself when it holds only plain ``str`` (the common case, one
    pass), else a copy holding the text of each ``str`` subclass (``Secret`` kept).
    """
    if "\x00" in program or not program.isascii():
        _check_text(ascii(program), "the program name", program)
    for arg in argv:
        if type(arg) is not str or not arg.isascii() or "\x00" in arg:
            return _checked(program, argv)
    return argv


def _checked(program: str, argv: tuple[object, ...]) -> tuple[str, ...]:
    """The slow path of :func:`check_argv`: each argument checked and named."""
    checked: list[str] = []
    for position, arg in enumerate(argv):
        if not isinstance(arg, str):
            raise InvalidArgumentError(
                f"{program}: argument {position} is {type(arg).__name__}, not str: {shown(arg)}"
            )
        text = _plain(arg)
        _check_arg(program, f"argument {position}", text)
        checked.append(text)
    return tuple(checked)


def _check_arg(program: str, what: str, arg: str) -> None:
    """``arg`` (a plain ``str`` or a ``Secret``) can reach the program intact."""
    if isinstance(arg, Secret):
        value = arg.reveal()
        if isinstance(value, bytes):
            if b"\x00" in value:
                raise InvalidArgumentError(f"{program}: {what} (a Secret) contains a NUL byte")
            return
        _check_text(program, what, value, quote=False)
    _check_text(program, what, arg)


def _check_text(who: str, what: str, text: str, *, quote: bool = True) -> None:
    """No NUL, encodable; ``quote=False`` keeps the text (a secret's) out of the message."""
    if "\x00" in text:
        secret = "" if quote else " (a Secret)"
        raise InvalidArgumentError(f"{who}: {what}{secret} contains a NUL byte")
    if not text.isascii():
        try:
            os.fsencode(text)
        except UnicodeEncodeError as exc:
            quoted = _REPR.repr(text) if quote else "(a Secret)"
            where = f" at index {exc.start}" if quote else ""
            error = InvalidArgumentError(
                f"{who}: {what} {quoted} cannot be encoded for the operating system "
                f"({exc.reason}{where}); os.fsdecode() of real bytes gives text that can"
            )
            # the UnicodeEncodeError holds the text: not chained for a secret
            raise error from (exc if quote else None)
