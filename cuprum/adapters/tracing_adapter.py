"""Tracing spans from execution events, for any tracing backend.

:class:`TracingHook` opens one span per process (per pipeline stage, per
attempt) when it is planned and ends it on that process's terminal event:
``exit``, or ``error`` for a spawn failure, timeout, cancellation or failing
hook. It talks to the :class:`Tracer` and :class:`Span` protocols;
:class:`InMemoryTracer` is a reference implementation.

Telling overlapping runs apart: the runtime builds one ``tags`` mapping per stage
per attempt and hands that same object to every event of that stage, so the
identity of ``ev.tags`` names the attempt even when program, argv and pid say
nothing (``plan`` and spawn failures have no pid; two identical commands may
run side by side). The hook keeps a reference to the mapping while its span is
open, so the identity cannot be reused before the terminal event.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from cuprum import ExecEvent, InvalidArgumentError, LineBatch

__all__ = [
    "AttributeValue",
    "Attributes",
    "InMemorySpan",
    "InMemoryTracer",
    "Span",
    "SpanEvent",
    "Tracer",
    "TracingHook",
]

AttributeValue = str | bool | int | float | Sequence[str]
Attributes = Mapping[str, AttributeValue]


class Span(Protocol):
    """One unit of traced work; what :meth:`Tracer.start_span` returns."""

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        """Set or replace one attribute."""

    def add_event(self, name: str, attributes: Attributes | None = None) -> None:
        """Record a timestamped event inside the span."""

    def set_status(self, *, ok: bool) -> None:
        """Mark the span as succeeded (``ok=True``) or failed."""

    def end(self) -> None:
        """Finish the span; the hook calls this exactly once per span."""


class Tracer(Protocol):
    """Creates spans; implement it over any tracing library."""

    def start_span(self, name: str, attributes: Attributes | None = None) -> Span:
        """Start a span called ``name`` with initial ``attributes``."""


class _Open:
    __slots__ = ("pid_set", "span", "tags")

    def __init__(self, span: Span, tags: Mapping[str, object]) -> None:
        self.span = span
        self.tags = tags  # held so that id(tags) stays unique while the span is open
        self.pid_set = False


class TracingHook:
    """An observe hook that traces each process as one span.

    Span name: ``cuprum.exec <program>`` (its display name). Attributes when the span starts:
    ``cuprum.program``, ``cuprum.argv``, ``cuprum.project`` and, in a pipeline,
    ``cuprum.pipeline_stage_index`` and ``cuprum.pipeline_stages``; then
    ``cuprum.pid`` at ``start``; ``cuprum.exit_code``, ``cuprum.ok`` (exit only) and
    ``cuprum.duration_s`` at the end, plus ``cuprum.error`` and ``cuprum.error_message`` for an
    ``error``. Status: ok for an accepted exit code (``ExecEvent.ok``: ``accept=``, 0 by default),
    failed otherwise. With
    ``record_output=True`` (the default) every output line becomes a span event
    named ``stdout`` or ``stderr`` with attribute ``cuprum.line``; a
    ``stdin_closed`` event is always recorded. It takes output lines in batches
    (:meth:`on_lines`: a :class:`~cuprum.LineBatchObserver`), so no event is built
    per line for it.
    """

    __slots__ = ("_open", "_record_output", "_tracer")

    def __init__(self, tracer: Tracer, *, record_output: bool = True) -> None:
        # Refused here: a wrong tracer would otherwise end the first run it sees.
        if not hasattr(tracer, "start_span"):
            raise InvalidArgumentError(
                "TracingHook: tracer must be a Tracer (no start_span()), "
                f"got {tracer!r} ({type(tracer).__name__})"
            )
        if not isinstance(record_output, bool):
            raise InvalidArgumentError(
                "TracingHook: record_output must be True or False, "
                f"got {record_output!r} ({type(record_output).__name__})"
            )
        self._tracer = tracer
        self._record_output = record_output
        self._open: dict[int, _Open] = {}

    @property
    def open_spans(self) -> int:
        """How many spans are started and not yet ended."""
        return len(self._open)

    def _begin(self, ev: ExecEvent | LineBatch) -> _Open:
        tags = ev.tags
        attributes: dict[str, AttributeValue] = {
            "cuprum.program": ev.display_name,
            "cuprum.argv": ev.argv,
            "cuprum.project": str(tags.get("project", "")),
        }
        for key in ("pipeline_stage_index", "pipeline_stages"):
            value = tags.get(key)
            if isinstance(value, int):
                attributes[f"cuprum.{key}"] = value
        state = _Open(self._tracer.start_span(f"cuprum.exec {ev.display_name}", attributes), tags)
        self._open[id(tags)] = state
        return state

    def on_lines(self, batch: LineBatch) -> None:
        """A batch of output lines: one span event per line (``record_output``), else
        nothing at all (the lines are not even decoded)."""
        if self._record_output:
            state = self._open.get(id(batch.tags)) or self._begin(batch)
            add_event = state.span.add_event
            phase = batch.phase
            for line in batch.lines:
                add_event(phase, {"cuprum.line": line})

    def __call__(self, ev: ExecEvent) -> None:
        phase = ev.phase
        if phase in {"stdout", "stderr"}:
            if self._record_output:
                state = self._open.get(id(ev.tags)) or self._begin(ev)
                state.span.add_event(phase, {"cuprum.line": ev.line or ""})
            return
        if phase == "plan":
            if id(ev.tags) not in self._open:
                self._begin(ev)
            return
        state = self._open.get(id(ev.tags)) or self._begin(ev)
        span = state.span
        if ev.pid is not None and not state.pid_set:
            span.set_attribute("cuprum.pid", ev.pid)
            state.pid_set = True
        if phase == "stdin_closed":
            span.add_event("stdin_closed", {"cuprum.message": ev.message or ""})
        elif phase in {"exit", "error"}:
            del self._open[id(ev.tags)]
            try:
                if ev.exit_code is not None:
                    span.set_attribute("cuprum.exit_code", ev.exit_code)
                if ev.ok is not None:
                    span.set_attribute("cuprum.ok", ev.ok)
                if ev.duration_s is not None:
                    span.set_attribute("cuprum.duration_s", ev.duration_s)
                if phase == "error":
                    span.set_attribute("cuprum.error", ev.error or "error")
                    span.set_attribute("cuprum.error_message", ev.message or "")
                span.set_status(ok=ev.succeeded)
            finally:
                span.end()


class SpanEvent(NamedTuple):
    """An event recorded inside an :class:`InMemorySpan`."""

    name: str
    attributes: Mapping[str, AttributeValue]
    timestamp: float


@dataclass(slots=True, eq=False)
class InMemorySpan:
    """A :class:`Span` that records everything done to it."""

    name: str
    attributes: dict[str, AttributeValue] = field(default_factory=dict)
    events: list[SpanEvent] = field(default_factory=list)
    ok: bool | None = None
    start_time: float = field(default_factory=time.time)
    end_time: float | None = None

    @property
    def ended(self) -> bool:
        """Whether :meth:`end` has been called."""
        return self.end_time is not None

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        """Set or replace one attribute."""
        self.attributes[key] = value

    def add_event(self, name: str, attributes: Attributes | None = None) -> None:
        """Append a :class:`SpanEvent`."""
        self.events.append(SpanEvent(name, dict(attributes or {}), time.time()))

    def set_status(self, *, ok: bool) -> None:
        """Set :attr:`ok`."""
        self.ok = ok

    def end(self) -> None:
        """Finish the span; ending it twice raises ``RuntimeError``."""
        if self.end_time is not None:
            raise RuntimeError(f"span {self.name!r} ended twice")
        self.end_time = time.time()


class InMemoryTracer:
    """A :class:`Tracer` that keeps every span it started in :attr:`spans`."""

    def __init__(self) -> None:
        self.spans: list[InMemorySpan] = []

    def start_span(self, name: str, attributes: Attributes | None = None) -> InMemorySpan:
        """Start and remember a new :class:`InMemorySpan`."""
        span = InMemorySpan(name, dict(attributes or {}))
        self.spans.append(span)
        return span

    @property
    def finished_spans(self) -> list[InMemorySpan]:
        """The spans that have ended, in the order they were started."""
        return [span for span in self.spans if span.ended]

    @property
    def open_spans(self) -> list[InMemorySpan]:
        """The spans not yet ended."""
        return [span for span in self.spans if not span.ended]
