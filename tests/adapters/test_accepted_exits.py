"""An exit code the command accepts (``accept=``) is a success in telemetry too:
the ``exit`` event's ``ok``, the metrics failure counter, the span status, the log level."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from prometheus_client import CollectorRegistry

from cuprum import GREP, ExecEvent, sh
from cuprum.adapters.logging_adapter import structured_logging_hook
from cuprum.adapters.otel import otel_tracing_hook
from cuprum.adapters.prometheus import prometheus_hook

pytestmark = pytest.mark.anyio


@pytest.fixture
def exporter() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    yield provider, spans
    provider.shutdown()


def _failures(registry: CollectorRegistry, program: str) -> float:
    found = [
        s.value
        for metric in registry.collect()
        for s in metric.samples
        if s.name == "cuprum_failures_total" and s.labels.get("program") == program
    ]
    return sum(found)


async def test_grep_exiting_1_with_accept_is_a_success_everywhere(
    anyio_backend: str,
    exporter: tuple[TracerProvider, InMemorySpanExporter],
    caplog: pytest.LogCaptureFixture,
) -> None:
    provider, spans = exporter
    registry = CollectorRegistry()
    events: list[ExecEvent] = []
    grep = sh.make(GREP, accept=(0, 1))
    logger = logging.getLogger("cuprum.test.accepted")
    hooks = (
        events.append,
        prometheus_hook(registry),
        otel_tracing_hook(provider),
        structured_logging_hook(logger=logger),
    )
    with caplog.at_level(logging.INFO, logger=logger.name), sh.observe(*hooks):
        result = await grep("needle").run(stdin=b"hay\n")
        refused = await grep("[").run(stdin=b"hay\n")  # a bad pattern: 2, not accepted
    assert (result.exit_code, result.ok, refused.exit_code, refused.ok) == (1, True, 2, False)
    exits = [ev for ev in events if ev.phase == "exit"]
    assert [(ev.exit_code, ev.ok) for ev in exits] == [(1, True), (2, False)]
    assert all(ev.ok is None for ev in events if ev.phase != "exit")
    assert _failures(registry, str(GREP)) == 1.0
    statuses = [span.status.status_code for span in spans.get_finished_spans()]
    assert statuses == [StatusCode.OK, StatusCode.ERROR]
    levels = [r.levelno for r in caplog.records if getattr(r, "cuprum_phase", "") == "exit"]
    assert levels == [logging.INFO, logging.WARNING]
    oks = [
        getattr(r, "cuprum_ok", None)
        for r in caplog.records
        if getattr(r, "cuprum_phase", "") == "exit"
    ]
    assert oks == [True, False]


async def test_a_pipeline_stage_is_judged_by_its_own_accept(anyio_backend: str) -> None:
    events: list[ExecEvent] = []
    grep = sh.make(GREP, accept=(0, 1))
    with sh.observe(events.append):
        await (grep("needle") | sh.make(GREP)("x")).run(stdin=b"hay\n")
    exits = sorted(
        (ev.tags["pipeline_stage_index"], ev.exit_code, ev.ok)
        for ev in events
        if ev.phase == "exit"
    )
    assert exits == [(0, 1, True), (1, 1, False)]
