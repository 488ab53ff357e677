"""TracingHook driving the real OpenTelemetry SDK, checked through an in-memory exporter."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from adapters_support import PY, WAIT_FOREVER, cancel_on_line, lines_then_exit, missing, py
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from cuprum import ProgramNotFoundError, TimeoutExpired, run_concurrent, sh
from cuprum.adapters.tracing_adapter import Attributes, AttributeValue, TracingHook

pytestmark = pytest.mark.anyio


class OTelSpan:
    """The guide's adapter, with types."""

    def __init__(self, otel_span: Any) -> None:
        self._span = otel_span

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        self._span.set_attribute(key, value)

    def add_event(self, name: str, attributes: Attributes | None = None) -> None:
        self._span.add_event(name, attributes=attributes or {})

    def set_status(self, *, ok: bool) -> None:
        self._span.set_status(StatusCode.OK if ok else StatusCode.ERROR)

    def end(self) -> None:
        self._span.end()


class OTelTracer:
    def __init__(self, tracer: Any) -> None:
        self._tracer = tracer

    def start_span(self, name: str, attributes: Attributes | None = None) -> OTelSpan:
        return OTelSpan(self._tracer.start_span(name, attributes=attributes))


@pytest.fixture
def otel() -> Iterator[tuple[TracingHook, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield TracingHook(OTelTracer(provider.get_tracer("cuprum-tests"))), exporter
    provider.shutdown()


def _finished(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return list(exporter.get_finished_spans())


def _lines(span: ReadableSpan, name: str = "stdout") -> list[str]:
    return [
        str((event.attributes or {})["cuprum.line"]) for event in span.events if event.name == name
    ]


async def test_successful_run_exports_a_complete_span(
    otel: tuple[TracingHook, InMemorySpanExporter],
) -> None:
    hook, exporter = otel
    with sh.observe(hook):
        result = await lines_then_exit("o", 2).run()
    (span,) = _finished(exporter)
    assert span.name == f"cuprum.exec {PY}"
    attrs = dict(span.attributes or {})
    assert attrs["cuprum.program"] == PY
    assert attrs["cuprum.argv"] == result.argv
    assert attrs["cuprum.pid"] == result.pid
    assert attrs["cuprum.exit_code"] == 0
    assert attrs["cuprum.project"] == "adapter-tests"
    assert span.status.status_code is StatusCode.OK
    assert _lines(span) == ["o-0", "o-1"]
    assert _lines(span, "stderr") == ["err-o"]
    assert span.end_time is not None
    assert span.start_time is not None
    assert span.end_time >= span.start_time


async def test_failures_export_error_spans(
    otel: tuple[TracingHook, InMemorySpanExporter],
) -> None:
    hook, exporter = otel
    with sh.observe(hook):
        await lines_then_exit("f", 0, code=2).run()
        with pytest.raises(TimeoutExpired):
            await py(WAIT_FOREVER).run(timeout=0.5)
        with pytest.raises(ProgramNotFoundError):
            await missing().run()
        with anyio.CancelScope() as scope, sh.observe(cancel_on_line(scope, "ready")):
            await py(WAIT_FOREVER).run()
    spans = _finished(exporter)
    assert len(spans) == 4
    assert all(span.status.status_code is StatusCode.ERROR for span in spans)
    errors = [dict(span.attributes or {}).get("cuprum.error") for span in spans]
    assert errors == [None, "timeout", "spawn_failed", "cancelled"]
    assert dict(spans[0].attributes or {})["cuprum.exit_code"] == 2


async def test_concurrent_runs_export_one_span_each(
    otel: tuple[TracingHook, InMemorySpanExporter],
) -> None:
    hook, exporter = otel
    commands = [lines_then_exit("same", 5) for _ in range(6)]
    with sh.observe(hook):
        batch = await run_concurrent(*commands)
    spans = _finished(exporter)
    assert len(spans) == 6
    assert {dict(s.attributes or {})["cuprum.pid"] for s in spans} == {r.pid for r in batch.results}
    for span in spans:
        assert _lines(span) == [f"same-{i}" for i in range(5)]
        assert _lines(span, "stderr") == ["err-same"]
    assert hook.open_spans == 0
