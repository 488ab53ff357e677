"""``GitRef``: a branch or ref name git will accept and no program can read as an option."""

from __future__ import annotations

import re
from typing import Any

from cuprum import InvalidArgumentError

__all__ = ["GitRef", "git_ref"]

_ALLOWED = re.compile(r"[A-Za-z0-9._/-]+")


def _problem(name: str) -> str | None:
    """Why ``name`` is not an acceptable ref, or ``None`` when it is."""
    if not name:
        return "is empty"
    if _ALLOWED.fullmatch(name) is None:
        bad = sorted({c for c in name if _ALLOWED.fullmatch(c) is None})
        return f"contains characters outside [A-Za-z0-9._/-]: {''.join(bad)!r}"
    if name.startswith("-"):
        return "starts with '-'"
    if ".." in name:
        return "contains '..'"
    if name.startswith("/") or name.endswith("/"):
        return "starts or ends with '/'"
    if "//" in name:
        return "contains '//'"
    if name.endswith("."):
        return "ends with '.'"
    for component in name.split("/"):
        if component.startswith("."):
            return f"has a component starting with '.': {component!r}"
        if component.endswith(".lock"):
            return f"has a component ending with '.lock': {component!r}"
    if name == "HEAD":
        return "is 'HEAD', which is not a branch name"
    return None


class GitRef(str):
    """A validated git ref name (a ``str``).

    Only ``[A-Za-z0-9._/-]`` is allowed, so whitespace, ``~ ^ : ? * [ \\``, control
    characters and ``@{`` never get through. Also rejected: a leading ``-``, ``..``,
    ``//``, a leading or trailing ``/``, a trailing ``.``, a path component that
    starts with ``.`` or ends with ``.lock``, and the name ``HEAD``. Everything
    accepted is also accepted by ``git check-ref-format --branch``.
    """

    __slots__ = ()

    def __new__(cls, name: str) -> GitRef:
        if not isinstance(name, str):
            raise InvalidArgumentError(f"git ref must be str, not {type(name).__name__}")
        name = str.__str__(name)  # its plain text: no str subclass override is consulted
        problem = _problem(name)
        if problem is not None:
            raise InvalidArgumentError(f"invalid git ref {name!r}: {problem}")
        return super().__new__(cls, name)

    def __repr__(self) -> str:
        return f"GitRef({str.__repr__(self)})"

    def __getnewargs__(self) -> tuple[Any, ...]:
        return (str.__str__(self),)


def git_ref(name: str) -> GitRef:
    """Validate ``name`` as a git ref and return it as a :class:`GitRef`.

    Raises :class:`cuprum.InvalidArgumentError` (a ``ValueError``).
    """
    return GitRef(name)
