"""``CuprumError``, the base of every cuprum error, and how its subclasses copy and pickle.

An error whose constructor takes arguments of its own records them
(:meth:`CuprumError._keep_args`); ``copy``, ``deepcopy`` and ``pickle`` then rebuild it
through its class from them, so it crosses a process pool as itself. Where the
arguments include the run's ``secrets``, its text and ``bytes`` arguments (output,
stderr, ...) are pickled with each secret's value as ``***``: a pickle leaves the
process, so it holds the redaction only (as a :class:`~cuprum._core.secret.Secret`
does); a copy stays in it and keeps them as they are.

A ``repr`` that may quote a secret is built from values already redacted
(:func:`redacted`): ``repr`` escapes what it shows (``\\n``, quotes, a ``bytes``
value's non-ASCII), so searching its text for a value would miss it.
"""

from __future__ import annotations

import copy
from typing import Any, TypeVar, cast

from cuprum._core.secret import Secret, redact_value

__all__ = ["CuprumError", "args_repr", "redacted"]

T = TypeVar("T")


class CuprumError(Exception):
    """Base class of cuprum's own errors.

    Every one survives ``copy.copy``, ``copy.deepcopy`` and ``pickle`` with its type,
    message and attributes (a pickle shows each of the run's ``secrets`` as ``***``).
    """

    _init_args: tuple[tuple[Any, ...], dict[str, Any]]

    def _keep_args(self, *args: Any, **kwargs: Any) -> None:
        """Record the constructor's arguments; called last, so the outermost wins."""
        self._init_args = (args, kwargs)

    def __reduce__(self) -> tuple[Any, ...]:
        saved = self.__dict__.get("_init_args")
        if saved is None:  # constructed as its standard base is: that base's way works
            return cast("tuple[Any, ...]", super().__reduce__())
        args, kwargs = saved
        secrets = kwargs.get("secrets")
        if secrets:
            args = tuple(_Guarded.wrap(arg, secrets) for arg in args)
            kwargs = {
                key: value if key == "secrets" else _Guarded.wrap(value, secrets)
                for key, value in kwargs.items()
            }
        notes = self.__dict__.get("__notes__")
        state = {"__notes__": notes} if notes else None
        return (_rebuild, (type(self), args, kwargs), state)


def _rebuild(cls: type[CuprumError], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The error ``cls(*args, **kwargs)`` (a shallow copy hands over guarded values)."""
    args = tuple(_Guarded.unwrap(arg) for arg in args)
    kwargs = {key: _Guarded.unwrap(value) for key, value in kwargs.items()}
    return cls(*args, **kwargs)


def _same(value: object) -> object:
    return value


class _Guarded:
    """An argument that may quote a secret: itself in a copy, redacted in a pickle."""

    __slots__ = ("secrets", "value")

    def __init__(self, value: str | bytes, secrets: tuple[Secret[Any], ...]) -> None:
        self.value = value
        self.secrets = secrets

    @staticmethod
    def wrap(value: object, secrets: tuple[Secret[Any], ...]) -> object:
        return _Guarded(value, secrets) if isinstance(value, str | bytes) else value

    @staticmethod
    def unwrap(value: object) -> object:
        return value.value if isinstance(value, _Guarded) else value

    def __reduce__(self) -> tuple[Any, ...]:
        return (_same, (redact_value(self.value, self.secrets),))

    def __deepcopy__(self, memo: dict[int, Any]) -> object:
        return copy.deepcopy(self.value, memo)


def redacted(value: T, secrets: tuple[Secret[Any], ...]) -> T:
    """``value`` with each secret's value as ``***``: text, ``bytes``, and those in a
    list or tuple (an argv); a :class:`~cuprum.Secret` shows ``***`` already."""
    if not secrets or type(value) is Secret:
        return value
    if isinstance(value, str | bytes):
        return cast("T", redact_value(value, secrets))
    if isinstance(value, list | tuple):
        return cast("T", type(value)(redacted(item, secrets) for item in value))
    return value


def args_repr(exc: BaseException, secrets: tuple[Secret[Any], ...]) -> str:
    """``repr(exc)`` as ``BaseException`` words it, from its arguments redacted."""
    args = redacted(exc.args, secrets)
    shown = f"({args[0]!r})" if len(args) == 1 else repr(args)
    return f"{type(exc).__name__}{shown}"
