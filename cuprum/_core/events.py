"""Structured execution events delivered to observe hooks."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from cuprum._core.programs import display_name
from cuprum._core.usage import LimitName, ResourceUsage

__all__ = ["TERMINAL_PHASES", "ErrorKind", "ExecEvent", "ExecPhase", "ObserveHook", "line_event"]

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


# Line events are the one event built per line of output, so their cost is the
# cost of observing a stream. A frozen dataclass's __init__ assigns each field
# through object.__setattr__; the slots' own descriptors do the same job in
# about half the time. tests/core/test_events.py checks that line_event and the
# constructor agree, field for field, so a new field cannot be forgotten here.
_new = object.__new__
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
(
    _set_phase,
    _set_program,
    _set_argv,
    _set_cwd,
    _set_env,
    _set_tags,
    _set_timestamp,
    _set_pid,
    _set_line,
    _set_exit_code,
    _set_duration_s,
    _set_error,
    _set_message,
    _set_usage,
    _set_limit,
    _set_ok,
) = (getattr(ExecEvent, name).__set__ for name in _FIELDS)


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
    event = _new(ExecEvent)
    _set_phase(event, phase)
    _set_program(event, program)
    _set_argv(event, argv)
    _set_cwd(event, cwd)
    _set_env(event, env)
    _set_tags(event, tags)
    _set_timestamp(event, timestamp)
    _set_pid(event, pid)
    _set_line(event, line)
    _set_exit_code(event, None)
    _set_duration_s(event, None)
    _set_error(event, None)
    _set_message(event, None)
    _set_usage(event, None)
    _set_limit(event, None)
    _set_ok(event, None)
    return event
