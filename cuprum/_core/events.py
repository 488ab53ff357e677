"""Structured execution events delivered to observe hooks."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from cuprum._core.programs import display_name
from cuprum._core.usage import LimitName, ResourceUsage

__all__ = [
    "TERMINAL_PHASES",
    "BatchHook",
    "ErrorKind",
    "ExecEvent",
    "ExecPhase",
    "LineBatch",
    "LineBatchObserver",
    "ObserveHook",
    "deliver_lines",
    "line_event",
    "noise_pattern",
]

ExecPhase = Literal["plan", "start", "stdout", "stderr", "stdin_closed", "exit", "error"]
"""``plan`` then ``start`` then output lines, then exactly one terminal phase:
``exit`` after the program ran, or ``error`` when it could not start, timed out
or was cancelled (``error`` names which). ``stdin_closed`` reports input that was
dropped because the child closed its stdin early."""

ErrorKind = Literal[
    "spawn_failed",
    "timeout",
    "cancelled",
    "capture_limit",
    "hook_failed",
    "stdin_failed",
    "relay_failed",
    "output_failed",
    "remote_failed",
    "internal_error",
]
"""Why an attempt ended in ``error``, from what actually failed (docs/users-guide.md,
"Structured events", describes each kind)."""

TERMINAL_PHASES: frozenset[str] = frozenset({"exit", "error"})


@dataclass(frozen=True, slots=True)
class ExecEvent:
    """One thing that happened to one command (or one pipeline stage).

    ``tags`` always holds ``project`` and, in a pipeline, ``pipeline_stage_index``
    and ``pipeline_stages``, merged with :attr:`ExecutionContext.tags`. Every event
    of one stage of one attempt carries the *same* ``tags`` mapping object, so an
    observer can tell overlapping attempts apart by ``id(event.tags)`` (the tracing
    adapter does) even before a pid exists.

    A :class:`~cuprum.Secret` never shows here: ``argv`` and ``env`` hold ``***`` in
    its place, and ``line`` and ``message`` have the value of each of the run's
    secrets replaced by ``***``.
    An ``exit`` event carries the command's ``usage`` and the ``limit`` that
    stopped it, as its :class:`~cuprum.CommandResult` does.
    """

    phase: ExecPhase
    program: str
    argv: tuple[str, ...]
    cwd: str | None
    env: Mapping[str, str] | None
    tags: Mapping[str, object]
    timestamp: float
    pid: int | None = None
    line: str | None = None
    exit_code: int | None = None
    duration_s: float | None = None
    error: ErrorKind | None = None
    message: str | None = None
    # -- containment: set on ``exit`` --
    usage: ResourceUsage | None = None
    limit: LimitName | None = None
    #: On ``exit``: whether the exit code is one the command accepts (``accept=``,
    #: ``{0}`` by default), as ``ok``/``check`` judge it; ``None`` on other phases.
    ok: bool | None = None

    @property
    def display_name(self) -> str:
        """How telemetry labels the program: its ``Program.display_name``, which is
        the program itself unless the catalogue gave it one (``python`` for a
        virtualenv's interpreter path, say)."""
        return display_name(self.program)

    @property
    def succeeded(self) -> bool:
        """Whether this ``exit`` counts as success: :attr:`ok` when set, else (an event
        built without it) a zero exit code. ``False`` for every other phase."""
        if self.phase != "exit":
            return False
        return self.ok if self.ok is not None else self.exit_code == 0

    @property
    def is_terminal(self) -> bool:
        """Whether this is the last event of its attempt (``exit`` or ``error``)."""
        return self.phase in TERMINAL_PHASES


ObserveHook = Callable[[ExecEvent], None]


@functools.cache
def noise_pattern(rules: tuple[str, ...]) -> re.Pattern[str] | None:
    """The project's ``noise_rules`` as one pattern (``re.search``: any rule matches);
    ``None`` without rules. A rule that is not a valid regex raises ``re.error``."""
    if not rules:
        return None
    return re.compile("|".join(f"(?:{rule})" for rule in rules))


def _no_lines() -> Sequence[str]:
    return ()


@dataclass(frozen=True, slots=True, eq=False)
class LineBatch:
    """The lines one read of a stream completed, for observers that need no event per line.

    ``count`` is known at once; ``lines`` (the decoded lines, without their newline,
    exactly the ``line`` of the ``stdout``/``stderr`` events they stand for) is decoded
    on first use, so a counter never pays for text. ``noise`` and ``kept`` apply the
    project's ``noise_rules`` (``re.search``, any rule) to them. The identifying fields
    are those of the stage's events (:class:`ExecEvent`): ``tags`` is the very same mapping
    object, ``timestamp`` the time of the read.
    """

    phase: Literal["stdout", "stderr"]
    program: str
    argv: tuple[str, ...]
    tags: Mapping[str, object]
    pid: int | None
    timestamp: float
    count: int
    noise_rules: tuple[str, ...] = ()
    _decode: Callable[[], Sequence[str]] = field(default=_no_lines, repr=False)
    _cache: list[tuple[str, ...]] = field(default_factory=list, init=False, repr=False)

    @property
    def lines(self) -> tuple[str, ...]:
        """The batch's lines, in order (decoded once, on first use)."""
        cache = self._cache
        if not cache:
            cache.append(tuple(self._decode()))
        return cache[0]

    @property
    def kept(self) -> tuple[str, ...]:
        """The lines that match none of the project's ``noise_rules`` (all without rules)."""
        pattern = noise_pattern(self.noise_rules)
        if pattern is None:
            return self.lines
        search = pattern.search
        return tuple(line for line in self.lines if search(line) is None)

    @property
    def noise(self) -> int:
        """How many of the lines match the project's ``noise_rules``."""
        if not self.noise_rules:
            return 0
        return self.count - len(self.kept)

    @property
    def display_name(self) -> str:
        """The program's label for telemetry, as :attr:`ExecEvent.display_name`."""
        return display_name(self.program)


BatchHook = Callable[[LineBatch], None]
"""What ``sh.observe_batches`` registers: called with each :class:`LineBatch`."""


@runtime_checkable
class LineBatchObserver(Protocol):
    """An observe hook that takes its output lines in batches.

    Registered with ``sh.observe`` like any hook, it gets every event but the line
    events through ``__call__``, and the lines through :meth:`on_lines` instead, one
    :class:`LineBatch` per read: the metrics adapter is one.
    """

    def __call__(self, event: ExecEvent, /) -> None: ...

    def on_lines(self, batch: LineBatch, /) -> None:
        """The lines one read of a stream completed, instead of one event per line."""


# Line events are the one event built per line of output, so their cost is the
# cost of observing a stream. A frozen dataclass's __init__ assigns each field
# through object.__setattr__ (about 1 us for 16 fields here). _Draft is an
# ExecEvent with object's own __setattr__/__delattr__ back, so plain attribute
# stores fill it (the interpreter's fast slot store); switching its __class__ to
# ExecEvent, which adds no slot, is then a cheap check, and the event is frozen
# like any other: about 0.2 us an event. tests/core/test_events.py checks that
# line_event and the constructor agree, field for field, so a new field cannot be
# forgotten here.
#: Every field of ExecEvent, in order: the fields line_event sets.
_FIELDS = (
    "phase",
    "program",
    "argv",
    "cwd",
    "env",
    "tags",
    "timestamp",
    "pid",
    "line",
    "exit_code",
    "duration_s",
    "error",
    "message",
    "usage",
    "limit",
    "ok",
)


class _Draft(ExecEvent):
    """An ExecEvent under construction: the same slots, stores that are not frozen."""

    __slots__ = ()
    __setattr__ = object.__setattr__
    __delattr__ = object.__delattr__
    __init__ = object.__init__


def line_event(  # noqa: PLR0917 - ExecEvent's own positional order, on a per-line path
    phase: ExecPhase,
    program: str,
    argv: tuple[str, ...],
    cwd: str | None,
    env: Mapping[str, str] | None,
    tags: Mapping[str, object],
    timestamp: float,
    pid: int | None,
    line: str,
) -> ExecEvent:
    """``ExecEvent(phase, program, argv, cwd, env, tags, timestamp, pid, line)``, faster."""
    event: Any = _Draft()
    event.phase = phase
    event.program = program
    event.argv = argv
    event.cwd = cwd
    event.env = env
    event.tags = tags
    event.timestamp = timestamp
    event.pid = pid
    event.line = line
    event.exit_code = event.duration_s = event.error = event.message = None
    event.usage = event.limit = event.ok = None
    event.__class__ = ExecEvent
    result: ExecEvent = event
    return result


def deliver_lines(  # noqa: PLR0917 - the constant fields of one stage's lines
    hooks: Sequence[ObserveHook],
    phase: ExecPhase,
    program: str,
    argv: tuple[str, ...],
    cwd: str | None,
    env: Mapping[str, str] | None,
    tags: Mapping[str, object],
    timestamp: float,
    pid: int | None,
    lines: Iterable[str],
) -> None:
    """One line event per line to every hook, in order: :func:`line_event` inlined,
    since this loop is the whole per-line cost of observing a stream. One hook (the
    common case) is called without the loop over hooks: about 45 ns a line less."""
    draft = _Draft
    final = ExecEvent
    only = hooks[0] if len(hooks) == 1 else None
    for line in lines:
        event: Any = draft()
        event.phase = phase
        event.program = program
        event.argv = argv
        event.cwd = cwd
        event.env = env
        event.tags = tags
        event.timestamp = timestamp
        event.pid = pid
        event.line = line
        event.exit_code = event.duration_s = event.error = event.message = None
        event.usage = event.limit = event.ok = None
        event.__class__ = final
        if only is not None:
            only(event)
            continue
        for hook in hooks:
            hook(event)
