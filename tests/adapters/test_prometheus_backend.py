"""``cuprum.adapters.prometheus`` against the real ``prometheus_client``."""

from __future__ import annotations

import pytest
from adapters_support import PROJECT, PY, lines_then_exit, missing
from prometheus_client import CollectorRegistry

from cuprum import ProgramNotFoundError, run_concurrent, sh
from cuprum.adapters.metrics_adapter import MetricsHook
from cuprum.adapters.prometheus import PrometheusCollector, prometheus_hook

pytestmark = pytest.mark.anyio


def _value(registry: CollectorRegistry, name: str, program: str = str(PY)) -> float:
    value = registry.get_sample_value(name, {"program": program, "project": PROJECT})
    return 0.0 if value is None else value


async def test_every_metric_reaches_the_registry(anyio_backend: str) -> None:
    registry = CollectorRegistry()
    with sh.observe(prometheus_hook(registry)):
        await run_concurrent(lines_then_exit("a", 3), lines_then_exit("b", 2, code=4))
        with pytest.raises(ProgramNotFoundError):
            await missing().run()
    assert _value(registry, "cuprum_executions_total") == 2.0
    assert _value(registry, "cuprum_failures_total") == 1.0
    assert _value(registry, "cuprum_stdout_lines_total") == 5.0
    assert _value(registry, "cuprum_stderr_lines_total") == 2.0
    assert _value(registry, "cuprum_duration_seconds_count") == 2.0
    assert _value(registry, "cuprum_duration_seconds_sum") > 0.0
    absent = str(missing().program)
    assert _value(registry, "cuprum_failures_total", absent) == 1.0
    assert _value(registry, "cuprum_executions_total", absent) == 0.0
    assert _value(registry, "cuprum_duration_seconds_count", absent) == 0.0


def test_buckets_and_a_shared_collector() -> None:
    registry = CollectorRegistry()
    collector = PrometheusCollector(registry, buckets=(0.5, 60.0))
    with sh.observe(MetricsHook(collector)):
        lines_then_exit("x", 1).run_sync()
    bucket = registry.get_sample_value(
        "cuprum_duration_seconds_bucket", {"program": str(PY), "project": PROJECT, "le": "60.0"}
    )
    assert bucket == 1.0
    assert set(collector.counters) == {
        "cuprum_executions_total",
        "cuprum_failures_total",
        "cuprum_stdout_lines_total",
        "cuprum_stderr_lines_total",
    }


def test_a_second_collector_on_one_registry_is_refused() -> None:
    registry = CollectorRegistry()
    PrometheusCollector(registry)
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        PrometheusCollector(registry)
