"""``SafePath``: a filesystem path that cannot be mistaken for an option."""

from __future__ import annotations

import os
from typing import Any, TypeVar

from cuprum import InvalidArgumentError

__all__ = ["PathArg", "SafePath", "as_safe_path", "options_of", "safe_path"]


class SafePath(str):
    """A validated path; a ``str`` (and ``os.PathLike``) everywhere one is expected.

    Every instance has passed these checks: not empty, no NUL character, no ``..``
    segment, does not start with ``-``, and absolute unless it was made with
    ``allow_relative=True``. Builders accept a ``SafePath`` as it is, so a relative
    one made deliberately is honoured without further switches.
    """

    __slots__ = ()

    def __new__(cls, path: str | os.PathLike[str], *, allow_relative: bool = False) -> SafePath:
        text = _validate(path, allow_relative=allow_relative)
        return super().__new__(cls, text)

    def __fspath__(self) -> str:
        return str.__str__(self)

    def __repr__(self) -> str:
        return f"SafePath({str.__repr__(self)})"

    @property
    def is_absolute(self) -> bool:
        """Whether the path starts at the filesystem root."""
        return self.startswith("/")

    def __getnewargs_ex__(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        # Copies and pickles rebuild through __new__; the value is already valid.
        return (str.__str__(self),), {"allow_relative": True}


def _validate(path: object, *, allow_relative: bool, name: str = "path") -> str:
    """``path`` as text, once valid; ``name`` is what the messages call it."""
    check_switches(f"{name}: ", allow_relative=allow_relative)
    # The checks below read the plain text (str.__str__), so no override of a str
    # subclass's methods decides what passes; a failing __fspath__ is named.
    if isinstance(path, str):  # a SafePath too
        text = str.__str__(path)
    elif isinstance(path, os.PathLike):
        try:
            text = os.fspath(path)
        except Exception as exc:  # a user's __fspath__ may raise anything
            raise InvalidArgumentError(
                f"{name} ({type(path).__name__}) is not a usable path: os.fspath() raised "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        if not isinstance(text, str):
            raise InvalidArgumentError(
                f"{name} must be text, not {type(text).__name__} (from {type(path).__name__})"
            )
        text = str.__str__(text)
    else:
        raise InvalidArgumentError(f"{name} must be str or os.PathLike, not {type(path).__name__}")
    if not text:
        raise InvalidArgumentError(f"{name} is empty")
    if "\x00" in text:
        raise InvalidArgumentError(f"{name} contains a NUL character: {text!r}")
    if text.startswith("-"):
        raise InvalidArgumentError(
            f"{name} starts with '-' and could be read as an option: {text!r}"
        )
    if ".." in text.split("/"):
        raise InvalidArgumentError(f"{name} contains a '..' segment: {text!r}")
    if not allow_relative and not text.startswith("/"):
        raise InvalidArgumentError(
            f"{name} is relative: {text!r}; pass allow_relative=True to accept relative paths"
        )
    return text


def safe_path(path: str | os.PathLike[str], *, allow_relative: bool = False) -> SafePath:
    """Validate ``path`` and return it as a :class:`SafePath`.

    Rejects empty paths, NUL characters, ``..`` segments and a leading ``-``;
    requires an absolute path unless ``allow_relative=True``. Raises
    :class:`cuprum.InvalidArgumentError` (a ``ValueError``).
    """
    return SafePath(path, allow_relative=allow_relative)


PathArg = str | os.PathLike[str]
"""What builders accept for a path: ``str``, ``pathlib.Path`` or a :class:`SafePath`."""


def as_safe_path(path: PathArg, *, allow_relative: bool, name: str = "path") -> SafePath:
    """A builder's view of a path argument: a ``SafePath`` passes as it is. ``name``
    (``"tar_create: archive"``) names the function and parameter in the error."""
    if isinstance(path, SafePath):
        return path
    text = _validate(path, allow_relative=allow_relative, name=name)
    return SafePath(text, allow_relative=True)  # valid already, relative or not


Options = TypeVar("Options")


def options_of(who: str, options: object, kind: type[Options]) -> Options:
    """A builder's ``options``: an instance of ``kind``, or its defaults for ``None``."""
    if options is None:
        return kind()
    if not isinstance(options, kind):
        raise InvalidArgumentError(
            f"{who}: options must be {kind.__name__} or None, not {type(options).__name__}"
        )
    return options


def check_switches(who: str, **switches: object) -> None:
    """Refuse a switch that is not a ``bool``: ``"no"`` or ``"False"`` is truthy and
    would add the flag. ``who`` names the builder (``"git_checkout: "``) or the
    options class (``"rsync: RsyncOptions."``), the keyword follows it."""
    for name, value in switches.items():
        if not isinstance(value, bool):
            raise InvalidArgumentError(
                f"{who}{name} is a switch (True or False), not {type(value).__name__} {value!r}"
            )
