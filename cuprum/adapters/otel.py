"""The OpenTelemetry backend for :class:`~cuprum.adapters.tracing_adapter.TracingHook`,
and W3C trace context for the child's environment.

Needs the extra ``cuprum[otel]`` (``opentelemetry-api``; install the SDK or a
distro to export). :func:`otel_tracing_hook` traces each process as an
OpenTelemetry span, a child of the span current when the run starts.
:func:`traced_context` (or :func:`trace_env`) puts ``TRACEPARENT`` and
``TRACESTATE`` in the child's environment, so a traced child continues the
current trace, as the OpenTelemetry convention for environment carriers has it.
"""

from __future__ import annotations

import dataclasses
import re

from opentelemetry import propagate, trace
from opentelemetry.trace import Status, StatusCode

from cuprum import ExecutionContext
from cuprum.adapters.tracing_adapter import Attributes, AttributeValue, TracingHook

__all__ = ["OTelSpan", "OTelTracer", "otel_tracing_hook", "trace_env", "traced_context"]

_NOT_ENV = re.compile(r"[^A-Z0-9_]")


class OTelSpan:
    """A :class:`~cuprum.adapters.tracing_adapter.Span` over an OpenTelemetry span."""

    __slots__ = ("span",)

    def __init__(self, span: trace.Span) -> None:
        self.span: trace.Span = span

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        """Set one attribute on the OpenTelemetry span."""
        self.span.set_attribute(key, value)

    def add_event(self, name: str, attributes: Attributes | None = None) -> None:
        """Add a span event."""
        self.span.add_event(name, attributes=dict(attributes or {}))

    def set_status(self, *, ok: bool) -> None:
        """``StatusCode.OK`` or ``StatusCode.ERROR``."""
        self.span.set_status(Status(StatusCode.OK if ok else StatusCode.ERROR))

    def end(self) -> None:
        """End the OpenTelemetry span."""
        self.span.end()


class OTelTracer:
    """A :class:`~cuprum.adapters.tracing_adapter.Tracer` over an OpenTelemetry tracer.

    Spans start as children of the current span (OpenTelemetry's current context).
    """

    __slots__ = ("tracer",)

    def __init__(self, tracer: trace.Tracer) -> None:
        self.tracer: trace.Tracer = tracer

    def start_span(self, name: str, attributes: Attributes | None = None) -> OTelSpan:
        """Start an OpenTelemetry span and wrap it."""
        return OTelSpan(self.tracer.start_span(name, attributes=attributes))


def otel_tracing_hook(
    tracer_provider: trace.TracerProvider | None = None,
    *,
    record_output: bool = True,
) -> TracingHook:
    """An observe hook that traces every process as an OpenTelemetry span.

    ``tracer_provider`` defaults to the global one (``trace.set_tracer_provider``).
    Spans and their attributes are :class:`~cuprum.adapters.tracing_adapter.TracingHook`'s;
    ``record_output=False`` leaves out the per-line span events.
    """
    tracer = trace.get_tracer("cuprum", tracer_provider=tracer_provider)
    return TracingHook(OTelTracer(tracer), record_output=record_output)


def trace_env() -> dict[str, str]:
    """The current trace context as environment variables (``TRACEPARENT``, ``TRACESTATE``).

    Built by the globally configured propagator (W3C trace context and baggage by
    default), with each key upper-cased; empty when no span is current.
    """
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return {_NOT_ENV.sub("_", key.upper()): value for key, value in carrier.items()}


def traced_context(context: ExecutionContext | None = None) -> ExecutionContext:
    """``context`` (default: an empty one) with :func:`trace_env` added to its ``env``.

    Build it inside the span the child should continue, and pass it to the run:
    ``cmd.run(context=traced_context())``.
    """
    base = ExecutionContext() if context is None else context
    overlay = trace_env()
    if not overlay:
        return base
    return dataclasses.replace(base, env={**(base.env or {}), **overlay})
