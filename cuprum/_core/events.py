"""Structured execution events delivered to observe hooks."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

__all__ = ["TERMINAL_PHASES", "ErrorKind", "ExecEvent", "ExecPhase", "ObserveHook"]

ExecPhase = Literal["plan", "start", "stdout", "stderr", "stdin_closed", "exit", "error"]
"""``plan`` then ``start`` then output lines, then exactly one terminal phase:
``exit`` after the program ran, or ``error`` when it could not start, timed out
or was cancelled (``error`` names which). ``stdin_closed`` reports input that was
dropped because the child closed its stdin early."""

ErrorKind = Literal["spawn_failed", "timeout", "cancelled", "capture_limit", "hook_failed"]
"""Why an attempt ended in ``error``: the program could not start; the deadline
passed; the run was cancelled; ``on_limit="raise"`` stopped it; or an exception
from a hook (or other code running inside the run) stopped it."""

TERMINAL_PHASES: frozenset[str] = frozenset({"exit", "error"})


@dataclass(frozen=True, slots=True)
class ExecEvent:
    """One thing that happened to one command (or one pipeline stage).

    ``tags`` always holds ``project`` and, in a pipeline, ``pipeline_stage_index``
    and ``pipeline_stages``, merged with :attr:`ExecutionContext.tags`. Every event
    of one stage of one attempt carries the *same* ``tags`` mapping object, so an
    observer can tell overlapping attempts apart by ``id(event.tags)`` (the tracing
    adapter does) even before a pid exists.
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

    @property
    def is_terminal(self) -> bool:
        """Whether this is the last event of its attempt (``exit`` or ``error``)."""
        return self.phase in TERMINAL_PHASES


ObserveHook = Callable[[ExecEvent], None]
