"""Event emission for one run: every ``ExecEvent`` the engine sends to observe hooks.

Fields that do not change during a run (cwd, the env overlay, each stage's argv
and tags) are fixed here once. Line events, the one event built per line of
output, get a callback with every constant bound (:meth:`Emitter.line_emitter`).
A hook that raises while the run goes on stops it: its exception leaves here
tagged ``hook_failed`` (:func:`~.failures.fail`).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from cuprum._core.events import ErrorKind, ExecEvent, ExecPhase, ObserveHook, line_event
from cuprum._core.secret import Secret, redact, redactor, shown_env
from cuprum._model.execution import ExecutionContext
from cuprum._runtime.failures import fail
from cuprum._runtime.stage import Stage

__all__ = ["Emitter"]


class Emitter:
    """Sends one run's events to its observe hooks (nothing at all without hooks)."""

    __slots__ = ("_scrub", "cwd", "env", "hooks", "secrets")

    def __init__(
        self,
        hooks: tuple[ObserveHook, ...],
        ctx: ExecutionContext,
        secrets: tuple[Secret[Any], ...] = (),
    ) -> None:
        self.hooks = hooks
        self.secrets = secrets  # the run's: lines and messages quoting one show ***
        # The line scrubber, in a box every line emitter shares: a secret sent to
        # the program while it runs (the stream handle's send) joins it there.
        self._scrub = [redactor(secrets)]
        self.cwd = os.fspath(ctx.cwd) if ctx.cwd is not None else None
        self.env = shown_env(ctx.env)  # the overlay, never the whole env; secrets as ***

    def event(self, stage: Stage, phase: ExecPhase, **fields: Any) -> ExecEvent:
        return ExecEvent(
            phase,
            stage.cmd.program,
            stage.argv,
            self.cwd,
            self.env,
            stage.tags,
            time.time(),
            stage.pid,
            **fields,
        )

    def emit(self, stage: Stage, phase: ExecPhase, **fields: Any) -> None:
        """One event to every hook; a hook's exception propagates tagged ``hook_failed``."""
        if not self.hooks:
            return
        event = self.event(stage, phase, **fields)
        try:
            for hook in self.hooks:
                hook(event)
        except Exception as exc:
            fail("hook_failed", exc)

    def each(self, stages: Iterable[Stage], phase: ExecPhase) -> None:
        """``phase`` for each stage in turn (``plan``, ``start``)."""
        if self.hooks:
            for stage in stages:
                self.emit(stage, phase)

    def line_emitter(
        self, stage: Stage, phase: ExecPhase, *, tagged: bool = True
    ) -> Callable[[str], None]:
        """A per-line event callback with every constant field bound once.

        ``tagged=False``: a hook's exception propagates as itself (for lines the
        stream handle feeds in the caller's task, outside the run).
        """
        hooks = self.hooks
        program, argv, tags, pid = stage.cmd.program, stage.argv, stage.tags, stage.pid
        cwd, env = self.cwd, self.env
        now = time.time
        box = self._scrub  # box[0] is None without secrets: nothing to do per line

        def emit_line(line: str) -> None:
            scrub = box[0]
            if scrub is not None:
                line = scrub(line)
            event = line_event(phase, program, argv, cwd, env, tags, now(), pid, line)
            try:
                for hook in hooks:
                    hook(event)
            except Exception as exc:
                fail("hook_failed", exc)

        def emit_line_untagged(line: str) -> None:
            scrub = box[0]
            if scrub is not None:
                line = scrub(line)
            event = line_event(phase, program, argv, cwd, env, tags, now(), pid, line)
            for hook in hooks:
                hook(event)

        return emit_line if tagged else emit_line_untagged

    def add_secrets(self, secrets: Sequence[Secret[Any]]) -> None:
        """Secrets sent to the program while it runs: redacted from now on too."""
        if secrets:
            self.secrets = (*self.secrets, *secrets)
            self._scrub[0] = redactor(self.secrets)

    def exits(self, stages: Sequence[Stage], accepted: Callable[[int], frozenset[int]]) -> None:
        """Every hook gets every stage's ``exit``, even if one raises; the first error
        is raised afterwards (the processes are already reaped). ``accepted(index)``:
        the stage's accepted exit codes, for the event's ``ok``."""
        if not self.hooks:
            return
        first: Exception | None = None
        for stage in stages:
            assert stage.child is not None
            code = stage.child.exit_code
            event = self.event(
                stage,
                "exit",
                exit_code=code,
                duration_s=stage.duration,
                usage=stage.usage,
                limit=stage.limit,
                ok=code is not None and code in accepted(stage.index),
            )
            for hook in self.hooks:
                try:
                    hook(event)
                except Exception as exc:
                    first = first or exc
        if first is not None:
            raise first

    def errors(self, stages: Sequence[Stage], kind: ErrorKind, message: str) -> None:
        """One ``error`` event per stage, on a path that is already raising.

        A hook that raises here (perhaps the one whose failure brought us here) is
        skipped, so every other hook still sees the end and the original error is
        the one that propagates.
        """
        if not self.hooks:
            return
        message = redact(message, self.secrets)
        for stage in stages:
            code = stage.child.exit_code if stage.child is not None else None
            event = self.event(
                stage,
                "error",
                exit_code=code,
                duration_s=stage.duration,
                error=kind,
                message=message,
            )
            for hook in self.hooks:
                with contextlib.suppress(Exception):
                    hook(event)
