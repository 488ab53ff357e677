"""The errors of a conversation's ``expect()`` (see :mod:`cuprum._core.errors`, which
re-exports them)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cuprum._core.error_base import CuprumError
from cuprum._core.secret import Secret, redact, redact_value

__all__ = ["ExpectEOF", "ExpectError", "ExpectTimeout"]


class ExpectError(CuprumError):
    """``expect()`` found none of its patterns; ``before`` is the output seen meanwhile.

    ``program`` names the program, ``patterns`` are those asked for, ``before``
    is the unmatched output (``str``, or ``bytes`` for bytes patterns), which
    stays unread: a later ``expect()`` or read sees it again. The message quotes
    the end of it with the value of each of the run's ``secrets`` as ``***``.
    """

    def __init__(
        self,
        program: str,
        patterns: Sequence[object],
        before: str | bytes,
        message: str,
        *,
        secrets: tuple[Secret[Any], ...] = (),
    ) -> None:
        super().__init__(redact(f"{program}: {message}", secrets))
        self.program = program
        self.patterns: tuple[object, ...] = tuple(patterns)
        self.before = before
        self.secrets = secrets
        self._keep_args(program, self.patterns, before, message, secrets=secrets)


class ExpectTimeout(ExpectError, TimeoutError):
    """No pattern matched within ``timeout`` seconds (or, for ``wait_noecho()``, the
    terminal still echoed: ``waited_for`` says what was awaited instead of patterns)."""

    def __init__(
        self,
        program: str,
        patterns: Sequence[object],
        before: str | bytes,
        timeout: float,
        *,
        waited_for: str | None = None,
        secrets: tuple[Secret[Any], ...] = (),
    ) -> None:
        tail = redact_value(before, secrets)[-80:]
        what = waited_for if waited_for is not None else f"none of {_shown(patterns)} seen"
        message = f"{what} within {timeout} seconds (last output: {tail!r})"
        super().__init__(program, patterns, before, message, secrets=secrets)
        self.timeout = timeout
        self._keep_args(
            program, self.patterns, before, timeout, waited_for=waited_for, secrets=secrets
        )


class ExpectEOF(ExpectError, EOFError):
    """The program's output ended (it exited, or closed it) before any pattern matched."""

    def __init__(
        self,
        program: str,
        patterns: Sequence[object],
        before: str | bytes,
        *,
        secrets: tuple[Secret[Any], ...] = (),
    ) -> None:
        tail = redact_value(before, secrets)[-80:]
        message = f"output ended before any of {_shown(patterns)} (last output: {tail!r})"
        super().__init__(program, patterns, before, message, secrets=secrets)
        self._keep_args(program, self.patterns, before, secrets=secrets)


def _shown(patterns: Sequence[object]) -> str:
    """The patterns for a message: literals as their repr, regexes as ``re'...'``."""
    shown = []
    for pattern in patterns[:5]:
        source = getattr(pattern, "pattern", None)
        shown.append(f"re{source!r}" if source is not None else repr(pattern))
    more = f" (+{len(patterns) - 5} more)" if len(patterns) > 5 else ""
    return "[" + ", ".join(shown) + "]" + more
