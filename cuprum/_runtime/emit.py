"""Event emission for one run: every ``ExecEvent`` the engine sends to observe hooks.

Fields that do not change during a run (cwd, the env overlay, each stage's argv
and tags) are fixed here once. Output lines reach observers through one
:class:`LineSink` per stream (:meth:`Emitter.line_emitter`), in batches: per-line
hooks get one ``ExecEvent`` per line, built only when such a hook exists;
batch observers (:class:`~cuprum._core.events.LineBatchObserver`, ``observe_batches``)
get one :class:`~cuprum._core.events.LineBatch` per batch, whose text is decoded
only if they read it. :class:`HopCollector` is what observes a relayed hop.
A hook that raises while the run goes on stops it: its exception leaves here
tagged ``hook_failed`` (:func:`~.failures.fail`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from cuprum._core.events import (
    BatchHook,
    ErrorKind,
    ExecEvent,
    ExecPhase,
    LineBatch,
    ObserveHook,
    deliver_lines,
)
from cuprum._core.secret import Secret, redact, redactor, shown_env
from cuprum._model.execution import ExecutionContext
from cuprum._runtime.failures import fail
from cuprum._runtime.stage import Stage
from cuprum._runtime.streams import StreamCollector
from cuprum._transport.dispatch import pure_python
from cuprum._transport.lines import HopLines, Lines
from cuprum._transport.native import LineEventsFunction, line_events

__all__ = ["Emitter", "HopCollector", "LineSink"]


class Emitter:
    """Sends one run's events to its observe hooks (nothing at all without hooks)."""

    __slots__ = ("_scrub", "batch_hooks", "cwd", "env", "hooks", "line_hooks", "secrets")

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
        self._scrub = [redactor(secrets) if secrets else None]
        # A hook with ``on_lines`` takes its lines in batches, the others one event each.
        self.line_hooks: tuple[ObserveHook, ...] = ()
        self.batch_hooks: tuple[BatchHook, ...] = ()
        self.cwd: str | None = None
        self.env: dict[str, str] | None = None  # the overlay, never the whole env; secrets as ***
        if hooks:  # without, no event is ever built: nothing more to fix
            self.line_hooks = tuple(hook for hook in hooks if not hasattr(hook, "on_lines"))
            self.batch_hooks = tuple(hook.on_lines for hook in hooks if hasattr(hook, "on_lines"))
            self.cwd = os.fspath(ctx.cwd) if ctx.cwd is not None else None
            self.env = shown_env(ctx.env)

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
        except BaseException as exc:  # a SystemExit too; Ctrl+C and cancellation stay bare
            fail("hook_failed", exc)

    def each(self, stages: Iterable[Stage], phase: ExecPhase) -> None:
        """``phase`` for each stage in turn (``plan``, ``start``)."""
        if self.hooks:
            for stage in stages:
                self.emit(stage, phase)

    def started_before_failing(self, stages: Iterable[Stage]) -> None:
        """``start`` for the stages a failed start had spawned (their processes existed),
        on a path already raising: a hook that raises here is skipped, as in :meth:`errors`."""
        if not self.hooks:
            return
        for stage in stages:
            event = self.event(stage, "start")
            for hook in self.hooks:
                with contextlib.suppress(Exception):
                    hook(event)

    def line_emitter(self, stage: Stage, phase: ExecPhase, *, tagged: bool = True) -> LineSink:
        """The line sink of one of ``stage``'s streams, every constant field bound once.

        ``tagged=False``: a hook's exception propagates as itself (for lines the
        stream handle feeds in the caller's task, outside the run).
        """
        return LineSink(self, stage, phase, tagged=tagged)

    def add_secrets(self, secrets: Sequence[Secret[Any]]) -> None:
        """Secrets sent to the program while it runs: redacted from now on too."""
        if secrets:
            self.secrets = (*self.secrets, *secrets)
            self._scrub[0] = redactor(self.secrets)

    def exits(self, stages: Sequence[Stage], accepted: Callable[[int], frozenset[int]]) -> None:
        """Every hook gets every stage's ``exit``, even if one raises (a ``SystemExit``
        too); the first error is raised afterwards (the processes are already reaped),
        the first that is not an ``Exception`` if any, as it would win bare (see
        :func:`~.failures.unwrap`). ``accepted(index)``: the stage's accepted exit
        codes, for the event's ``ok``."""
        if not self.hooks:
            return
        first: BaseException | None = None
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
                except BaseException as exc:
                    if first is None or (
                        isinstance(first, Exception) and not isinstance(exc, Exception)
                    ):
                        first = exc
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


#: Where ``line`` sits in ``ExecEvent``'s fields (and in a native template).
_LINE_INDEX = [f.name for f in dataclasses.fields(ExecEvent)].index("line")
_NONES = (None,) * (len(dataclasses.fields(ExecEvent)) - _LINE_INDEX)


@functools.cache
def _native_events() -> tuple[LineEventsFunction, list[int]] | None:
    """The extension's line-event builder, with ``ExecEvent``'s slot offsets (once)."""
    values = tuple(object() for _ in dataclasses.fields(ExecEvent))
    return line_events(ExecEvent(*values), values)  # type: ignore[arg-type]


def _event_builder() -> tuple[LineEventsFunction, list[int]] | None:
    """The native builder, unless the run is asked to be pure Python."""
    return None if pure_python() else _native_events()


class LineSink:
    """Where one stream's lines go: per-line events and line batches.

    Called with one line (``sink(line)``), a list of decoded lines (:meth:`batch`,
    the collectors' way) or a :class:`~cuprum._transport.lines.Lines` batch whose
    text is decoded on demand (:meth:`lines`, a relayed hop's way). One read gives
    one batch: per-line hooks see each of its lines, then batch observers the batch.
    """

    __slots__ = (
        "_argv",
        "_batch_hooks",
        "_cwd",
        "_env",
        "_line_hooks",
        "_native",
        "_phase",
        "_pid",
        "_program",
        "_rules",
        "_scrub",
        "_tagged",
        "_tags",
    )

    def __init__(self, emitter: Emitter, stage: Stage, phase: ExecPhase, *, tagged: bool) -> None:
        self._line_hooks = emitter.line_hooks
        self._batch_hooks = emitter.batch_hooks
        self._program, self._argv, self._tags = stage.cmd.program, stage.argv, stage.tags
        self._pid = stage.pid
        self._cwd, self._env = emitter.cwd, emitter.env
        self._phase = phase
        self._tagged = tagged
        self._rules: tuple[str, ...] = tuple(getattr(stage.cmd.project, "noise_rules", ()))
        self._scrub = emitter._scrub  # box[0] is None without secrets: nothing to do per line
        self._native = _event_builder() if self._line_hooks else None

    def __call__(self, line: str) -> None:
        self.batch([line])

    def batch(self, lines: list[str]) -> None:
        """Deliver lines already decoded."""
        if lines:
            self._send(len(lines), lines, None)

    def lines(self, batch: Lines) -> None:
        """Deliver a hop's batch: its text is decoded only if an observer needs it."""
        self._send(batch.count, None, batch)

    def _send(self, count: int, text: list[str] | None, batch: Lines | None) -> None:
        try:
            now = time.time()
            shown: list[str] | None = None  # the text, secrets redacted
            if self._line_hooks:
                if text is None:
                    assert batch is not None
                    text = batch.text()
                shown = self._scrubbed(text)
                self._deliver(shown, now)
            if self._batch_hooks:
                self._send_batch(count, text, shown, batch, now)
        except BaseException as exc:  # a SystemExit too; Ctrl+C and cancellation stay bare
            if self._tagged:
                fail("hook_failed", exc)
            raise

    def _deliver(self, text: list[str], now: float) -> None:
        """One ``ExecEvent`` per line to every per-line hook: built by the extension
        when it is there (its slots written directly), else by ``deliver_lines``."""
        phase, program, argv, cwd, env = (
            self._phase,
            self._program,
            self._argv,
            self._cwd,
            self._env,
        )
        if self._native is not None:
            build, offsets = self._native
            # line (replaced per line), then the fields a line event leaves at None
            template = (phase, program, argv, cwd, env, self._tags, now, self._pid, *_NONES)
            build(ExecEvent, offsets, template, _LINE_INDEX, text, self._line_hooks)
            return
        deliver_lines(
            self._line_hooks, phase, program, argv, cwd, env, self._tags, now, self._pid, text
        )

    def _send_batch(
        self,
        count: int,
        text: list[str] | None,
        shown: list[str] | None,
        batch: Lines | None,
        now: float,
    ) -> None:
        def decode() -> list[str]:  # on first use of LineBatch.lines
            if shown is not None:
                return shown
            if text is not None:
                return self._scrubbed(text)
            assert batch is not None
            return self._scrubbed(batch.text())

        event = LineBatch(
            self._phase,  # type: ignore[arg-type]  # only stdout and stderr have lines
            self._program,
            self._argv,
            self._tags,
            self._pid,
            now,
            count,
            self._rules,
            decode,
        )
        for hook in self._batch_hooks:
            hook(event)

    def _scrubbed(self, text: list[str]) -> list[str]:
        scrub = self._scrub[0]
        if scrub is None:
            return text
        return [scrub(line) for line in text]


class HopCollector(StreamCollector):
    """The observer of a relayed hop (``stage_events``): never captured; its chunks are
    split by :class:`~cuprum._transport.lines.HopLines`, the one definition every
    relay shares, and each batch goes to the stage's :class:`LineSink`.

    Once a hook has raised on one of its lines (the run is failing with that), the
    last partial line :meth:`close` delivers may make a hook raise again: that error
    is dropped, so the run's is the first, as for the lines a teardown drains."""

    __slots__ = ("_failed", "_hop_lines", "_sink")

    def __init__(self, **fields: Any) -> None:
        super().__init__(**fields)
        self._hop_lines = HopLines(self.encoding, self.errors)
        self._sink: LineSink | Callable[[str], None] | None = None
        self._failed = False
        self.feed = self._feed_hop

    def bind_lines(self, on_line: Callable[[str], None]) -> None:
        self._sink = on_line

    def _feed_hop(self, data: bytes) -> None:
        batch = self._hop_lines.feed(data)
        if batch is not None:
            try:
                self._deliver(batch)
            except Exception:
                self._failed = True
                raise

    def _deliver(self, batch: Lines) -> None:
        sink = self._sink
        if isinstance(sink, LineSink):
            sink.lines(batch)
        elif sink is not None:
            for line in batch.text():
                sink(line)

    def close(self) -> None:
        batch = self._hop_lines.close()
        if batch is None:
            return
        if not self._failed:
            self._deliver(batch)
            return
        with contextlib.suppress(Exception):
            self._deliver(batch)
