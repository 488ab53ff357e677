"""MetricsHook: the five metrics with program/project labels, in memory and in Prometheus."""

from __future__ import annotations

from collections.abc import Mapping

import anyio
import pytest
from adapters_support import (
    MISSING,
    PROJECT,
    PY,
    WAIT_FOREVER,
    cancel_on_line,
    lines_then_exit,
    missing,
    py,
)
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from cuprum import ECHO, ProgramNotFoundError, TimeoutExpired, run_concurrent, sh
from cuprum.adapters.metrics_adapter import (
    DURATION_SECONDS,
    EXECUTIONS_TOTAL,
    FAILURES_TOTAL,
    LABEL_NAMES,
    STDERR_LINES_TOTAL,
    STDOUT_LINES_TOTAL,
    InMemoryMetrics,
    MetricsCollector,
    MetricsHook,
)

pytestmark = pytest.mark.anyio

LABELS = {"program": PY, "project": PROJECT}


async def test_successful_run_counts_execution_lines_and_duration() -> None:
    metrics = InMemoryMetrics()
    with sh.observe(MetricsHook(metrics)):
        result = await lines_then_exit("m", 4).run()
    assert metrics.counters == {
        EXECUTIONS_TOTAL: 1.0,
        STDOUT_LINES_TOTAL: 4.0,
        STDERR_LINES_TOTAL: 1.0,
    }
    assert metrics.histograms == {DURATION_SECONDS: [result.duration_s]}
    key = tuple(sorted(LABELS.items()))
    assert metrics.labelled_counters[(EXECUTIONS_TOTAL, key)] == 1.0
    assert metrics.counter(STDOUT_LINES_TOTAL, program=PY) == 4.0
    assert metrics.observations(DURATION_SECONDS, project=PROJECT) == [result.duration_s]


async def test_every_kind_of_failure_is_counted() -> None:
    metrics = InMemoryMetrics()
    with sh.observe(MetricsHook(metrics)):
        await lines_then_exit("m", 0, code=5).run()
        with pytest.raises(TimeoutExpired):
            await py(WAIT_FOREVER).run(timeout=0.5)
        with pytest.raises(ProgramNotFoundError):
            await missing().run()
        with anyio.CancelScope() as scope, sh.observe(cancel_on_line(scope, "ready")):
            await py(WAIT_FOREVER).run()
    assert metrics.counter(FAILURES_TOTAL, program=PY) == 3.0
    assert metrics.counter(FAILURES_TOTAL, program=MISSING) == 1.0
    # The program that never started is not an execution and has no duration.
    assert metrics.counter(EXECUTIONS_TOTAL) == 3.0
    assert metrics.counter(EXECUTIONS_TOTAL, program=MISSING) == 0.0
    assert len(metrics.observations(DURATION_SECONDS, program=PY)) == 3
    assert metrics.observations(DURATION_SECONDS, program=MISSING) == []


async def test_pipeline_stages_are_counted_with_their_own_labels() -> None:
    metrics = InMemoryMetrics()
    pipeline = sh.make(ECHO)("a") | py("import sys\nprint(sys.stdin.read().strip() * 2)")
    with sh.observe(MetricsHook(metrics)):
        result = await pipeline.run()
    assert result.stdout == "aa\n"
    assert metrics.counter(EXECUTIONS_TOTAL) == 2.0
    assert metrics.counter(EXECUTIONS_TOTAL, program="echo", project="core-ops") == 1.0
    assert metrics.counter(EXECUTIONS_TOTAL, program=PY, project=PROJECT) == 1.0
    assert metrics.counter(STDOUT_LINES_TOTAL, program=PY) == 1.0
    assert len(metrics.histograms[DURATION_SECONDS]) == 2


async def test_overlapping_runs_add_up() -> None:
    metrics = InMemoryMetrics()
    commands = [lines_then_exit(f"c{i}", i, code=i % 2) for i in range(10)]
    with sh.observe(MetricsHook(metrics)):
        batch = await run_concurrent(*commands)
    assert len(batch.failures) == 5
    assert metrics.counter(EXECUTIONS_TOTAL) == 10.0
    assert metrics.counter(FAILURES_TOTAL) == 5.0
    assert metrics.counter(STDOUT_LINES_TOTAL) == float(sum(range(10)))
    assert metrics.counter(STDERR_LINES_TOTAL) == 10.0
    assert sorted(metrics.histograms[DURATION_SECONDS]) == sorted(
        r.duration_s for r in batch.results
    )


class PrometheusMetrics:
    """All five metrics in a private registry; the typed form of the guide's example."""

    def __init__(self, registry: CollectorRegistry) -> None:
        labels = list(LABEL_NAMES)
        self.counters = {
            name: Counter(name, name, labels, registry=registry)
            for name in (EXECUTIONS_TOTAL, FAILURES_TOTAL, STDOUT_LINES_TOTAL, STDERR_LINES_TOTAL)
        }
        self.duration = Histogram(DURATION_SECONDS, "duration", labels, registry=registry)

    def inc_counter(self, name: str, value: float, labels: Mapping[str, str]) -> None:
        self.counters[name].labels(**labels).inc(value)

    def observe_histogram(self, name: str, value: float, labels: Mapping[str, str]) -> None:
        assert name == DURATION_SECONDS
        self.duration.labels(**labels).observe(value)


async def test_prometheus_client_exposition() -> None:
    registry = CollectorRegistry()
    collector: MetricsCollector = PrometheusMetrics(registry)
    with sh.observe(MetricsHook(collector)):
        await run_concurrent(lines_then_exit("p", 3), lines_then_exit("q", 2, code=1))
        with pytest.raises(ProgramNotFoundError):
            await missing().run()
    text = generate_latest(registry).decode()
    py_labels = f'program="{PY}",project="{PROJECT}"'
    missing_labels = f'program="{MISSING}",project="{PROJECT}"'
    assert f"cuprum_executions_total{{{py_labels}}} 2.0" in text
    assert f"cuprum_failures_total{{{py_labels}}} 1.0" in text
    assert f"cuprum_failures_total{{{missing_labels}}} 1.0" in text
    assert f"cuprum_stdout_lines_total{{{py_labels}}} 5.0" in text
    assert f"cuprum_stderr_lines_total{{{py_labels}}} 2.0" in text
    assert f"cuprum_duration_seconds_count{{{py_labels}}} 2.0" in text
    assert f"cuprum_duration_seconds_count{{{missing_labels}}}" not in text


def test_label_mappings_are_read_only_and_exactly_program_and_project() -> None:
    seen: list[Mapping[str, str]] = []

    class Recording:
        def inc_counter(self, name: str, value: float, labels: Mapping[str, str]) -> None:
            seen.append(labels)

        def observe_histogram(self, name: str, value: float, labels: Mapping[str, str]) -> None:
            seen.append(labels)

    with sh.observe(MetricsHook(Recording())):
        lines_then_exit("r", 2).run_sync()
    assert seen
    assert all(tuple(labels) == LABEL_NAMES for labels in seen)
    with pytest.raises(TypeError):
        seen[0]["program"] = "other"  # type: ignore[index]
