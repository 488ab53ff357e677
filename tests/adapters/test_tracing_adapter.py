"""TracingHook: one span per process and attempt, ended on every terminal event."""

from __future__ import annotations

import sys
from pathlib import Path

import anyio
import pytest
from adapters_support import (
    PROJECT,
    PY,
    WAIT_FOREVER,
    cancel_on_line,
    lines_then_exit,
    missing,
    py,
)

from cuprum import (
    ConcurrentConfig,
    ExecEvent,
    ExecutionContext,
    ProgramNotFoundError,
    TimeoutExpired,
    run_concurrent,
    sh,
)
from cuprum.adapters.tracing_adapter import (
    Attributes,
    AttributeValue,
    InMemorySpan,
    InMemoryTracer,
    Span,
    Tracer,
    TracingHook,
)

pytestmark = pytest.mark.anyio

PRINT_PID = "import os\nfor _ in range(20):\n    print(os.getpid(), flush=True)"


def _lines(span: InMemorySpan, name: str = "stdout") -> list[str]:
    return [str(event.attributes["cuprum.line"]) for event in span.events if event.name == name]


async def test_one_span_per_command_with_attributes_and_output() -> None:
    tracer = InMemoryTracer()
    hook = TracingHook(tracer)
    with sh.observe(hook):
        result = await lines_then_exit("a", 3).run(context=ExecutionContext(tags={"k": "v"}))
    (span,) = tracer.spans
    assert span.name == f"cuprum.exec {PY}"
    assert span.ended
    assert span.ok is True
    attrs = span.attributes
    assert attrs["cuprum.program"] == PY
    assert attrs["cuprum.argv"] == result.argv
    assert attrs["cuprum.project"] == PROJECT
    assert attrs["cuprum.pid"] == result.pid
    assert attrs["cuprum.exit_code"] == 0
    assert isinstance(attrs["cuprum.duration_s"], float)
    assert attrs["cuprum.duration_s"] >= 0
    assert "cuprum.pipeline_stage_index" not in attrs
    assert "cuprum.error" not in attrs
    assert _lines(span) == ["a-0", "a-1", "a-2"]
    assert _lines(span, "stderr") == ["err-a"]
    assert hook.open_spans == 0


async def test_record_output_false_records_no_line_events() -> None:
    tracer = InMemoryTracer()
    with sh.observe(TracingHook(tracer, record_output=False)):
        await lines_then_exit("a", 3).run()
    (span,) = tracer.spans
    assert span.events == []
    assert span.ended
    assert span.ok is True


async def test_non_zero_exit_fails_the_span() -> None:
    tracer = InMemoryTracer()
    with sh.observe(TracingHook(tracer)):
        result = await lines_then_exit("a", 1, code=3).run()
    assert result.exit_code == 3
    (span,) = tracer.spans
    assert span.ended
    assert span.ok is False
    assert span.attributes["cuprum.exit_code"] == 3
    assert "cuprum.error" not in span.attributes


async def test_timeout_ends_the_span_as_failed() -> None:
    tracer = InMemoryTracer()
    hook = TracingHook(tracer)
    with sh.observe(hook), pytest.raises(TimeoutExpired):
        await py(WAIT_FOREVER).run(timeout=0.5)
    (span,) = tracer.spans
    assert span.ended
    assert span.ok is False
    assert span.attributes["cuprum.error"] == "timeout"
    assert isinstance(span.attributes["cuprum.pid"], int)
    assert span.attributes["cuprum.exit_code"] in (-9, -15)
    assert _lines(span) == ["ready"]
    assert hook.open_spans == 0


async def test_cancellation_ends_the_span_as_failed() -> None:
    tracer = InMemoryTracer()
    hook = TracingHook(tracer)
    with anyio.CancelScope() as scope:
        with sh.observe(hook), sh.observe(cancel_on_line(scope, "ready")):
            await py(WAIT_FOREVER).run()
    assert scope.cancelled_caught
    (span,) = tracer.spans
    assert span.ended
    assert span.ok is False
    assert span.attributes["cuprum.error"] == "cancelled"
    assert hook.open_spans == 0


async def test_spawn_failure_ends_the_span_without_a_pid() -> None:
    tracer = InMemoryTracer()
    hook = TracingHook(tracer)
    with sh.observe(hook), pytest.raises(ProgramNotFoundError):
        await missing().run()
    (span,) = tracer.spans
    assert span.ended
    assert span.ok is False
    assert span.attributes["cuprum.error"] == "spawn_failed"
    assert "not found" in str(span.attributes["cuprum.error_message"])
    assert "cuprum.pid" not in span.attributes
    assert hook.open_spans == 0


async def test_each_pipeline_stage_gets_its_own_span() -> None:
    tracer = InMemoryTracer()
    upstream = lines_then_exit("up", 3)
    downstream = py("import sys\nfor line in sys.stdin:\n    print('down', line.strip())")
    with sh.observe(TracingHook(tracer)):
        result = await (upstream | downstream).run()
    assert result.ok
    first, second = tracer.spans
    assert first.attributes["cuprum.pipeline_stage_index"] == 0
    assert second.attributes["cuprum.pipeline_stage_index"] == 1
    assert first.attributes["cuprum.pipeline_stages"] == 2
    assert first.attributes["cuprum.pid"] != second.attributes["cuprum.pid"]
    assert all(span.ended and span.ok for span in tracer.spans)
    # Only the last stage's stdout reaches the parent; each stage's stderr is its own.
    assert _lines(first) == []
    assert _lines(first, "stderr") == ["err-up"]
    assert _lines(second) == ["down up-0", "down up-1", "down up-2"]


async def test_stage_events_put_intermediate_lines_on_their_own_span() -> None:
    tracer = InMemoryTracer()
    pipeline = lines_then_exit("up", 2) | py("import sys\nsys.stdout.write(sys.stdin.read())")
    with sh.observe(TracingHook(tracer)):
        await pipeline.run(stage_events=True)
    first, second = tracer.spans
    assert _lines(first) == ["up-0", "up-1"]
    assert _lines(second) == ["up-0", "up-1"]


async def test_identical_concurrent_commands_get_separate_spans() -> None:
    tracer = InMemoryTracer()
    hook = TracingHook(tracer)
    commands = [py(PRINT_PID) for _ in range(8)]
    with sh.observe(hook):
        batch = await run_concurrent(*commands)
    assert batch.ok
    assert len(tracer.spans) == 8
    pids = {span.attributes["cuprum.pid"] for span in tracer.spans}
    assert pids == {result.pid for result in batch.results}
    for span in tracer.spans:
        assert span.ended
        assert span.ok
        # Every line a child printed is its own pid: lines never land on another span.
        assert _lines(span) == [str(span.attributes["cuprum.pid"])] * 20
    assert hook.open_spans == 0


async def test_fail_fast_ends_every_started_span(tmp_path: Path) -> None:
    tracer = InMemoryTracer()
    hook = TracingHook(tracer)
    go = tmp_path / "go"
    ready = 0

    def release_when_all_ready(event: ExecEvent) -> None:
        # The failing child exits once every waiter has printed "ready".
        nonlocal ready
        if event.line == "ready":
            ready += 1
            if ready == 3:
                go.touch()

    failing = py(
        "import os, sys, time\nwhile not os.path.exists(sys.argv[1]):\n    time.sleep(0.005)\n"
        "sys.exit(1)",
        str(go),
    )
    waiters = [py(WAIT_FOREVER) for _ in range(3)]
    with sh.observe(hook), sh.observe(release_when_all_ready):
        batch = await run_concurrent(*waiters, failing, config=ConcurrentConfig(fail_fast=True))
    assert not batch.ok
    assert len(tracer.spans) == 4
    assert all(span.ended for span in tracer.spans)
    assert hook.open_spans == 0
    errors = [span.attributes.get("cuprum.error") for span in tracer.spans]
    assert errors.count("cancelled") == 3
    (failed,) = [span for span in tracer.spans if "cuprum.error" not in span.attributes]
    assert failed.attributes["cuprum.exit_code"] == 1
    assert failed.ok is False


class _CountingTracer:
    """A typed Tracer implemented outside the adapter, to check the protocols."""

    def __init__(self) -> None:
        self.inner = InMemoryTracer()

    def start_span(self, name: str, attributes: Attributes | None = None) -> Span:
        return self.inner.start_span(name, attributes)


def test_protocols_accept_independent_implementations() -> None:
    tracer: Tracer = _CountingTracer()
    span: Span = tracer.start_span("x", {"a": 1})
    value: AttributeValue = ("argv", "words")
    span.set_attribute("b", value)
    span.add_event("e")
    span.set_status(ok=True)
    span.end()
    assert isinstance(span, InMemorySpan)
    assert span.attributes == {"a": 1, "b": ("argv", "words")}
    with pytest.raises(RuntimeError, match="ended twice"):
        span.end()


def test_run_sync_on_both_backends_and_trio_spans_end() -> None:
    tracer = InMemoryTracer()
    with sh.observe(TracingHook(tracer)):
        lines_then_exit("s", 1).run_sync()
        lines_then_exit("t", 1).run_sync(backend="trio")
    assert [(_lines(span), span.ended) for span in tracer.spans] == [
        (["s-0"], True),
        (["t-0"], True),
    ]
    assert sys.executable in tracer.spans[0].name


async def test_dropped_stdin_is_recorded_on_the_span() -> None:
    tracer = InMemoryTracer()
    child = py("import os\nos.close(0)\nprint('closed', flush=True)")
    with sh.observe(TracingHook(tracer, record_output=False)):
        result = await child.run(stdin=b"x" * (4 << 20))
    assert result.ok
    (span,) = tracer.spans
    assert [event.name for event in span.events] == ["stdin_closed"]
    assert "dropped" in str(span.events[0].attributes["cuprum.message"])
    assert span.ended
    assert span.ok
