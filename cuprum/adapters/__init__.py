"""Telemetry adapters: observe hooks for structured logging, metrics and tracing.

Each adapter is a plain synchronous observe hook (register it with
``sh.observe(hook)``). None of them imports a telemetry library: metrics and
tracing talk to small ``Protocol`` interfaces that any backend can implement,
and ship in-memory reference implementations. See ``docs/adapters.md``.

- :mod:`cuprum.adapters.logging_adapter`: ``structured_logging_hook``,
  ``JsonLoggingFormatter``.
- :mod:`cuprum.adapters.metrics_adapter`: ``MetricsCollector``, ``MetricsHook``,
  ``InMemoryMetrics``.
- :mod:`cuprum.adapters.tracing_adapter`: ``Tracer``, ``Span``, ``TracingHook``,
  ``InMemoryTracer``.
"""

from __future__ import annotations

__all__: list[str] = []
