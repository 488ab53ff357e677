"""Conversations: ``expect()`` patterns in a program's output as it arrives, then answer.

Matching never blocks the event loop: it searches what the handle holds, then
awaits more output with anyio (asyncio and trio alike) and searches again, under
an optional ``timeout``. A ``str`` or ``bytes`` pattern is matched literally; a
compiled ``re.Pattern`` is searched. Text patterns see decoded output (from a
terminal with ``\\r\\n`` as ``\\n``), bytes patterns the raw bytes. Output after the
match stays with the handle for the next ``expect()`` or read, as the very bytes
read (see :mod:`.expect_text`); so does all of it when nothing matched (a timeout,
the end of output, a cancellation).

Each new piece of output is searched together with just enough of what came
before to find a match spanning the two: ``len(literal) - 1`` characters for a
literal, ``window`` for a regex (all of it by default), so a literal ``expect()``
after megabytes of output costs time proportional to the output, not its square.
The character before what is kept is searched along, as context only, so that
``^`` or ``\\b`` do not match at the edge of a window as if the output began there.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, AnyStr, Generic, NoReturn, TypeAlias

import anyio

from cuprum._core.errors import ExpectEOF, ExpectTimeout, InvalidArgumentError
from cuprum._core.secret import Secret, reveal
from cuprum._runtime.terminal import Pty
from cuprum._runtime.validate import described

__all__ = ["ExpectMatch", "Pattern", "Patterns", "check_timeout", "expect", "wait_noecho"]


Pattern: TypeAlias = str | bytes | re.Pattern[str] | re.Pattern[bytes]
"""A literal ``str``/``bytes``, or a compiled regex (``re.compile(...)``) of either."""


@dataclass(frozen=True, slots=True)
class ExpectMatch(Generic[AnyStr]):
    """What ``expect()`` found: which pattern, the output before it, and the match.

    ``index``: the pattern's position in the list given (0 for a single one).
    ``before``: the output from where the search began up to the match.
    ``matched``: the text (or bytes) matched. ``match``: the ``re.Match`` for a
    regex (``None`` for a literal); use its groups — with ``window=`` its positions
    are within the text searched: the part of the output kept, the character before
    it (only as context, for ``^``, ``\\b``, lookbehinds) and what came since.
    """

    index: int
    pattern: Pattern
    before: AnyStr
    matched: AnyStr
    match: re.Match[AnyStr] | None = None


class Patterns:
    """The patterns of one ``expect()`` call, checked: all text or all bytes."""

    __slots__ = ("binary", "items", "lookback", "shown")

    def __init__(
        self, program: str, patterns: Pattern | Sequence[Pattern], window: int | None
    ) -> None:
        if isinstance(patterns, str | bytes | re.Pattern):
            patterns = [patterns]
        elif not _listed(patterns):
            raise InvalidArgumentError(
                f"{program}: expect() takes a pattern (a str, bytes or re.Pattern) or a "
                f"list of them, got {described(patterns)}"
            )
        shown = tuple(patterns)  # as given: a Secret shows as ***
        if not shown:
            raise InvalidArgumentError(f"{program}: expect() needs at least one pattern, got []")
        # A Secret pattern is searched for by its value (its text is the redaction).
        items: list[Pattern] = [reveal(i) if type(i) is Secret else i for i in shown]
        kinds = {_kind(program, item) for item in items}
        if len(kinds) > 1:
            raise InvalidArgumentError(
                f"{program}: expect() patterns must be all text (str) or all bytes, not both"
            )
        if window is not None and (type(window) is not int or window < 0):
            raise InvalidArgumentError(
                f"{program}: expect() window must be an int >= 0, got {window!r}"
            )
        self.shown = shown
        self.items = items
        self.binary = kinds == {bytes}
        lookback: int | None = 0
        for item in items:
            if isinstance(item, re.Pattern):
                lookback = None if window is None or lookback is None else max(lookback, window)
            elif lookback is not None:
                lookback = max(lookback, len(item) - 1)
        self.lookback = lookback  # None: search everything seen (a regex without a window)

    def search(
        self, text: AnyStr, pos: int = 0
    ) -> tuple[int, int, int, re.Match[AnyStr] | None] | None:
        """The earliest match in ``text`` from ``pos`` on (ties: the first pattern): start,
        end, index, match. What comes before ``pos`` is only context, as for
        ``re.Pattern.search``: ``^``, ``\\b`` and lookbehinds see it."""
        best: tuple[int, int, int, re.Match[AnyStr] | None] | None = None
        for index, item in enumerate(self.items):
            if isinstance(item, re.Pattern):
                found: re.Match[AnyStr] | None = item.search(text, pos)  # type: ignore[call-overload]
                if found is not None and (best is None or found.start() < best[0]):
                    best = (found.start(), found.end(), index, found)
            else:
                start = text.find(item, pos)  # type: ignore[arg-type]
                if start >= 0 and (best is None or start < best[0]):
                    best = (start, start + len(item), index, None)
        return best


def _listed(patterns: object) -> bool:
    """Whether ``patterns`` is a list of them (a set has no order, a bytearray's items
    are ints)."""
    return isinstance(patterns, Sequence) and not isinstance(patterns, bytearray)


def _kind(program: str, pattern: object) -> type:
    if isinstance(pattern, re.Pattern):
        return bytes if isinstance(pattern.pattern, bytes) else str
    if isinstance(pattern, str | bytes):
        if not pattern:
            raise InvalidArgumentError(f"{program}: an empty expect() pattern would match at once")
        return type(pattern)
    raise InvalidArgumentError(
        f"{program}: an expect() pattern must be a str, bytes or re.Pattern, "
        f"got {described(pattern)}"
    )


def check_timeout(program: str, method: str, timeout: object) -> float | None:
    """``timeout=`` of ``method``: ``None`` (no limit) or seconds, a real number >= 0.

    A negative one is refused rather than expiring at once: pexpect reads ``-1``
    as "the default timeout", which here is ``None``.
    """
    if timeout is None:
        return None
    if not isinstance(timeout, numbers.Real) or isinstance(timeout, bool):
        raise InvalidArgumentError(
            f"{program}: {method} timeout must be a number of seconds or None, "
            f"got {described(timeout)}"
        )
    try:
        seconds = float(timeout)
    except OverflowError:  # an int past any float: no limit in practice
        seconds = math.inf
    if math.isnan(seconds) or seconds < 0:
        raise InvalidArgumentError(
            f"{program}: {method} timeout must be >= 0 seconds or None (no limit), got {timeout!r}"
        )
    return seconds


async def expect(
    patterns: Patterns,
    held: AnyStr,
    more: Callable[[], Awaitable[AnyStr]],
    unread: Callable[[AnyStr, int], None],
    *,
    program: str,
    timeout: float | None,
    secrets: tuple[Secret[Any], ...] = (),
) -> ExpectMatch[AnyStr]:
    """Search ``held``, then each piece ``more()`` returns (empty at EOF), for ``patterns``.

    ``unread(whole, position)`` takes back ``whole[position:]`` of the output seen
    (a text one, as the bytes read): the rest after a match, or everything when none
    was found (the error's ``before`` shows it too, its message ``secrets`` as ``***``).
    """
    parts = [held]
    region, offset, pos = held, 0, 0  # the text searched next (see _next_region)
    settled = False  # the output has been given back (a match, or the end of output)
    try:
        with anyio.fail_after(timeout):
            while True:
                found = patterns.search(region, pos)
                if found is not None:
                    start, end, index, match = found
                    whole = held[:0].join(parts)
                    settled = True
                    unread(whole, offset + end)
                    return ExpectMatch(
                        index,
                        patterns.shown[index],  # as given (a Secret stays one)
                        whole[: offset + start],
                        region[start:end],
                        match,
                    )
                piece = await more()
                if not piece:
                    settled = True
                    _at_eof(program, patterns, held[:0].join(parts), unread, secrets)
                parts.append(piece)
                region, offset, pos = _next_region(patterns, parts, region, offset, pos)
    except TimeoutError:
        if settled:
            raise
        whole = held[:0].join(parts)
        unread(whole, 0)
        raise ExpectTimeout(
            program, patterns.shown, whole, timeout or 0.0, secrets=secrets
        ) from None
    except BaseException:  # cancelled: keep the output for whoever reads next
        if not settled:
            unread(held[:0].join(parts), 0)
        raise


def _next_region(
    patterns: Patterns, parts: list[AnyStr], region: AnyStr, offset: int, pos: int
) -> tuple[AnyStr, int, int]:
    """What to search once ``parts[-1]`` has come: the text, where it starts in the
    whole, and where in it the search starts. Before that is the character before
    the part kept, which ``^``, ``\\b`` and lookbehinds see: without it, the first
    character of a window would look like the start of the output."""
    keep = patterns.lookback
    if keep is None:
        return parts[0][:0].join(parts), 0, 0
    cut = max(pos, len(region) - keep)
    context = min(cut, 1)
    return region[cut - context :] + parts[-1], offset + cut - context, context


def _at_eof(
    program: str,
    patterns: Patterns,
    whole: AnyStr,
    unread: Callable[[AnyStr, int], None],
    secrets: tuple[Secret[Any], ...],
) -> NoReturn:
    unread(whole, 0)
    raise ExpectEOF(program, patterns.shown, whole, secrets=secrets)


async def wait_noecho(
    pty: Pty, *, program: str, timeout: float | None, finished: Callable[[], bool]
) -> None:
    """Wait until the terminal stops echoing input (a password prompt is up).

    Polls the terminal's ECHO flag (a few ms apart, awaiting anyio's sleep, so the
    loop runs meanwhile): no event says when a program changes it.
    """
    delay = 0.001
    with anyio.move_on_after(timeout):
        while pty.echoes():
            if finished():
                raise ExpectEOF(program, (), "")
            await anyio.sleep(delay)
            delay = min(delay * 2, 0.02)
        return
    raise ExpectTimeout(program, (), "", timeout or 0.0, waited_for="echo not turned off")
