"""Telemetry adapters: observe hooks for structured logging, metrics and tracing.

Each adapter is a plain synchronous observe hook (register it with
``sh.observe(hook)``). None of the three imports a telemetry library: metrics and
tracing talk to small ``Protocol`` interfaces that any backend can implement,
and ship in-memory reference implementations. See ``docs/adapters.md``.

- :mod:`cuprum.adapters.logging_adapter`: ``structured_logging_hook``,
  ``JsonLoggingFormatter``.
- :mod:`cuprum.adapters.metrics_adapter`: ``MetricsCollector``, ``MetricsHook``,
  ``InMemoryMetrics``.
- :mod:`cuprum.adapters.tracing_adapter`: ``Tracer``, ``Span``, ``TracingHook``,
  ``InMemoryTracer``.

Two optional backends import their library (and need its extra):

- :mod:`cuprum.adapters.prometheus` (``cuprum[prometheus]``): ``prometheus_hook``,
  ``PrometheusCollector``.
- :mod:`cuprum.adapters.otel` (``cuprum[otel]``): ``otel_tracing_hook``,
  ``traced_context`` and ``trace_env`` (W3C trace context for the child).
"""

from __future__ import annotations

__all__: list[str] = []
