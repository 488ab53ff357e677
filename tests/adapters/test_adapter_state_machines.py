"""Hooks fed interleaved event streams of many overlapping attempts stay exact.

A hypothesis state machine plays the runtime: it plans, starts, prints to and
ends attempts (single commands and pipelines) in any interleaving, including
attempts whose program, argv and tags are equal, and pids reused by a later
attempt. Each attempt's stages get their own ``tags`` mapping, as the runtime
gives them. The tracing, metrics and logging hooks must agree with a model after
every step. Real overlapping runs on threads close the file.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

import hypothesis.strategies as st
from adapters_support import PROJECT, PY, lines_then_exit
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from cuprum import ExecEvent, sh
from cuprum._core.events import ErrorKind, ExecPhase
from cuprum.adapters.logging_adapter import structured_logging_hook
from cuprum.adapters.metrics_adapter import (
    DURATION_SECONDS,
    EXECUTIONS_TOTAL,
    FAILURES_TOTAL,
    STDERR_LINES_TOTAL,
    STDOUT_LINES_TOTAL,
    InMemoryMetrics,
    MetricsHook,
)
from cuprum.adapters.tracing_adapter import InMemoryTracer, TracingHook


@dataclass
class StageModel:
    program: str
    argv: tuple[str, ...]
    tags: dict[str, object]
    span_index: int
    pid: int | None = None
    lines: dict[str, list[str]] = field(default_factory=lambda: {"stdout": [], "stderr": []})
    exit_code: int | None = None
    error: str | None = None


@dataclass
class AttemptModel:
    stages: list[StageModel]
    started: bool = False


class CountingHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


class AdapterMachine(RuleBasedStateMachine):
    @initialize()
    def setup(self) -> None:
        self.tracer = InMemoryTracer()
        self.tracing = TracingHook(self.tracer)
        self.metrics = InMemoryMetrics()
        self.metering = MetricsHook(self.metrics)
        self.logger = logging.getLogger(f"cuprum.tests.machine.{id(self)}")
        self.logger.setLevel(logging.DEBUG)
        self.logger.propagate = False
        self.handler = CountingHandler()
        self.logger.handlers[:] = [self.handler]
        self.logging = structured_logging_hook(logger=self.logger)
        self.live: list[AttemptModel] = []
        self.done: list[StageModel] = []
        self.emitted = 0
        self.next_pid = 100
        self.expected: Counter[tuple[str, str]] = Counter()
        self.durations: Counter[str] = Counter()

    def teardown(self) -> None:
        if hasattr(self, "handler"):
            self.logger.removeHandler(self.handler)

    # -- the runtime's side ------------------------------------------------------

    def emit(
        self,
        stage: StageModel,
        phase: ExecPhase,
        *,
        line: str | None = None,
        exit_code: int | None = None,
        duration_s: float | None = None,
        error: ErrorKind | None = None,
        message: str | None = None,
    ) -> None:
        event = ExecEvent(
            phase,
            stage.program,
            stage.argv,
            None,
            None,
            stage.tags,
            0.0,
            stage.pid,
            line=line,
            exit_code=exit_code,
            duration_s=duration_s,
            error=error,
            message=message,
        )
        for hook in (self.tracing, self.metering, self.logging):
            hook(event)
        self.emitted += 1

    def pick(self, data: st.DataObject, started: bool | None) -> AttemptModel:
        choices = [a for a in self.live if started is None or a.started == started]
        return data.draw(st.sampled_from(choices))

    def finish(self, attempt: AttemptModel) -> None:
        self.live.remove(attempt)
        self.done.extend(attempt.stages)

    @rule(
        program=st.sampled_from(["alpha", "beta"]),
        stages=st.integers(1, 3),
        tag=st.sampled_from(["x", "y"]),
    )
    def plan(self, program: str, stages: int, tag: str) -> None:
        models = []
        for index in range(stages):
            tags: dict[str, object] = {"project": f"p-{program}", "tag": tag}
            if stages > 1:
                tags |= {"pipeline_stage_index": index, "pipeline_stages": stages}
            models.append(
                StageModel(program, (program, "arg"), tags, span_index=len(self.tracer.spans))
            )
            self.emit(models[-1], "plan")
        self.live.append(AttemptModel(models))

    @precondition(lambda self: any(not a.started for a in self.live))
    @rule(data=st.data(), reuse=st.booleans())
    def start(self, data: st.DataObject, reuse: bool) -> None:
        attempt = self.pick(data, started=False)
        attempt.started = True
        for stage in attempt.stages:
            reusable = [s.pid for s in self.done if s.pid is not None]
            if reuse and reusable:
                stage.pid = data.draw(st.sampled_from(reusable))
            else:
                self.next_pid += 1
                stage.pid = self.next_pid
            self.emit(stage, "start")
            self.expected[(EXECUTIONS_TOTAL, stage.program)] += 1

    @precondition(lambda self: any(a.started for a in self.live))
    @rule(data=st.data(), stream=st.sampled_from(["stdout", "stderr"]), text=st.text(max_size=4))
    def line(self, data: st.DataObject, stream: ExecPhase, text: str) -> None:
        attempt = self.pick(data, started=True)
        stage = data.draw(st.sampled_from(attempt.stages))
        self.emit(stage, stream, line=text)
        stage.lines[stream].append(text)
        metric = STDOUT_LINES_TOTAL if stream == "stdout" else STDERR_LINES_TOTAL
        self.expected[(metric, stage.program)] += 1

    @precondition(lambda self: any(a.started for a in self.live))
    @rule(data=st.data(), codes=st.lists(st.integers(-15, 3), min_size=3, max_size=3))
    def exit(self, data: st.DataObject, codes: list[int]) -> None:
        attempt = self.pick(data, started=True)
        for stage, code in zip(attempt.stages, codes, strict=False):
            stage.exit_code = code
            self.emit(stage, "exit", exit_code=code, duration_s=0.5)
            self.durations[stage.program] += 1
            if code != 0:
                self.expected[(FAILURES_TOTAL, stage.program)] += 1
        self.finish(attempt)

    @precondition(lambda self: bool(self.live))
    @rule(data=st.data())
    def error(self, data: st.DataObject) -> None:
        attempt = self.pick(data, started=None)
        kinds: list[ErrorKind] = (
            ["timeout", "cancelled", "hook_failed", "capture_limit"]
            if attempt.started
            else ["spawn_failed", "cancelled"]
        )
        kind = data.draw(st.sampled_from(kinds))
        for stage in attempt.stages:
            stage.error = kind
            self.emit(stage, "error", error=kind, message=f"{kind}!", duration_s=0.25)
            self.expected[(FAILURES_TOTAL, stage.program)] += 1
            if stage.pid is not None:
                self.durations[stage.program] += 1
        self.finish(attempt)

    # -- what must hold after every step -----------------------------------------

    @invariant()
    def one_open_span_per_live_stage(self) -> None:
        if not hasattr(self, "tracer"):
            return
        live = [stage for attempt in self.live for stage in attempt.stages]
        assert self.tracing.open_spans == len(live)
        assert len(self.tracer.spans) == len(live) + len(self.done)
        for stage in live:
            span = self.tracer.spans[stage.span_index]
            assert not span.ended
            assert span.attributes.get("cuprum.pid") == stage.pid
            self.check_lines(stage)

    @invariant()
    def ended_spans_match_their_attempts(self) -> None:
        if not hasattr(self, "tracer"):
            return
        for stage in self.done:
            span = self.tracer.spans[stage.span_index]
            assert span.ended
            assert span.name == f"cuprum.exec {stage.program}"
            assert span.attributes["cuprum.project"] == stage.tags["project"]
            assert span.attributes.get("cuprum.pipeline_stage_index") == stage.tags.get(
                "pipeline_stage_index"
            )
            assert span.attributes.get("cuprum.exit_code") == stage.exit_code
            assert span.attributes.get("cuprum.error") == stage.error
            assert span.ok is (stage.error is None and stage.exit_code == 0)
            self.check_lines(stage)

    def check_lines(self, stage: StageModel) -> None:
        span = self.tracer.spans[stage.span_index]
        for stream in ("stdout", "stderr"):
            got = [e.attributes["cuprum.line"] for e in span.events if e.name == stream]
            assert got == stage.lines[stream]

    @invariant()
    def metrics_match_the_model(self) -> None:
        if not hasattr(self, "metrics"):
            return
        for (metric, program), value in self.expected.items():
            assert self.metrics.counter(metric, program=program) == value
        assert sum(self.metrics.counters.values()) == sum(self.expected.values())
        for program, count in self.durations.items():
            assert len(self.metrics.observations(DURATION_SECONDS, program=program)) == count

    @invariant()
    def one_log_record_per_event(self) -> None:
        if hasattr(self, "handler"):
            assert self.handler.count == self.emitted


AdapterMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=60, deadline=None)
TestAdapterMachine = AdapterMachine.TestCase


def test_hooks_shared_by_threads_running_overlapping_commands() -> None:
    tracer = InMemoryTracer()
    tracing = TracingHook(tracer)
    metrics = InMemoryMetrics()
    metering = MetricsHook(metrics)
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def worker(index: int) -> None:
        try:
            with sh.observe(tracing), sh.observe(metering):
                barrier.wait()
                for round_ in range(3):
                    backend: Literal["asyncio", "trio"] = (
                        "trio" if (index + round_) % 2 else "asyncio"
                    )
                    lines_then_exit(f"w{index}", 200).run_sync(backend=backend)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert metrics.counter(EXECUTIONS_TOTAL, program=PY, project=PROJECT) == 12.0
    assert metrics.counter(STDOUT_LINES_TOTAL) == 12 * 200.0
    assert metrics.counter(STDERR_LINES_TOTAL) == 12.0
    assert len(metrics.histograms[DURATION_SECONDS]) == 12
    assert len(tracer.spans) == 12
    assert tracing.open_spans == 0
    for span in tracer.spans:
        assert span.ended
        assert span.ok
        lines = [e.attributes["cuprum.line"] for e in span.events if e.name == "stdout"]
        argv = span.attributes["cuprum.argv"]
        assert isinstance(argv, tuple)
        tag = argv[-3]
        assert lines == [f"{tag}-{i}" for i in range(200)]
