"""``cuprum.adapters.otel`` against the real OpenTelemetry SDK (in-memory exporter),
and W3C trace context reaching a real child."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from adapters_support import PY, py
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, StatusCode, TraceFlags, TraceState

from cuprum import ExecutionContext, TimeoutExpired, sh
from cuprum.adapters.otel import otel_tracing_hook, trace_env, traced_context

pytestmark = pytest.mark.anyio

PRINT_CONTEXT = (
    "import os\n"
    "print(os.environ.get('TRACEPARENT', '-'))\n"
    "print(os.environ.get('TRACESTATE', '-'))\n"
    "print(os.environ.get('KEEP', '-'))"
)


@pytest.fixture
def otel() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


def _traceparent(span: trace.Span) -> str:
    ctx = span.get_span_context()
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"


async def test_spans_are_exported_as_children_of_the_current_span(
    anyio_backend: str, otel: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    provider, exporter = otel
    with provider.get_tracer("app").start_as_current_span("job") as job:
        with sh.observe(otel_tracing_hook(provider)):
            await py("print('hi')").run()
            await py("raise SystemExit(3)").run()
            with pytest.raises(TimeoutExpired):
                await py("import time; time.sleep(30)").run(timeout=0.3)
    ok, failed, slow, outer = exporter.get_finished_spans()
    assert outer is not None and outer.name == "job"
    assert ok.name == f"cuprum.exec {PY}" and ok.status.status_code is StatusCode.OK
    assert ok.attributes is not None and ok.attributes["cuprum.argv"] == (
        str(PY),
        "-c",
        "print('hi')",
    )
    assert [e.attributes["cuprum.line"] for e in ok.events if e.attributes] == ["hi"]
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes is not None and failed.attributes["cuprum.exit_code"] == 3
    assert slow.attributes is not None and slow.attributes["cuprum.error"] == "timeout"
    job_id = job.get_span_context().span_id
    assert all(s.parent is not None and s.parent.span_id == job_id for s in (ok, failed, slow))


async def test_record_output_false(
    anyio_backend: str, otel: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    provider, exporter = otel
    with sh.observe(otel_tracing_hook(provider, record_output=False)):
        await py("print('quiet')").run()
    (span,) = exporter.get_finished_spans()
    assert list(span.events) == []


async def test_a_child_continues_the_current_trace(
    anyio_backend: str, otel: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    provider, _ = otel
    base = ExecutionContext(env={"KEEP": "kept"}, tags={"who": "test"})
    with provider.get_tracer("app").start_as_current_span("deploy") as span:
        ctx = traced_context(base)
        result = await py(PRINT_CONTEXT).run(context=ctx)
    traceparent, tracestate, keep = (result.stdout or "").splitlines()
    assert traceparent == _traceparent(span)
    assert tracestate == "-"  # an empty trace state is not passed
    assert keep == "kept" and ctx.tags == {"who": "test"}


async def test_the_trace_state_is_passed_too(anyio_backend: str) -> None:
    parent = SpanContext(
        trace_id=0x0AF7651916CD43DD8448EB211C80319C,
        span_id=0xB7AD6B7169203331,
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
        trace_state=TraceState([("vendor", "v1"), ("other", "x")]),
    )
    with trace.use_span(NonRecordingSpan(parent)):
        assert set(trace_env()) == {"TRACEPARENT", "TRACESTATE"}
        result = await py(PRINT_CONTEXT).run(context=traced_context())
    traceparent, tracestate, _ = (result.stdout or "").splitlines()
    assert traceparent == "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    assert tracestate == "vendor=v1,other=x"


def test_without_a_current_span_nothing_is_added() -> None:
    assert trace.get_current_span() is trace.INVALID_SPAN
    assert trace_env() == {}
    base = ExecutionContext(env={"A": "1"})
    assert traced_context(base) is base
    assert "TRACEPARENT" not in os.environ
    assert (py(PRINT_CONTEXT).run_sync(context=traced_context()).stdout or "").split()[0] == "-"
