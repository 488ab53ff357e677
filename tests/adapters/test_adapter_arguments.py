"""A hook built from a wrong argument is refused when it is built, naming the
parameter, rather than ending the first run it sees with ``hook_failed``."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from adapters_support import py

from cuprum import InvalidArgumentError, logging_hook, sh
from cuprum.adapters.logging_adapter import structured_logging_hook
from cuprum.adapters.metrics_adapter import InMemoryMetrics, MetricsHook
from cuprum.adapters.tracing_adapter import InMemoryTracer, TracingHook

pytestmark = pytest.mark.anyio

LEVEL = "must be an int (logging.INFO, ...), got"
BAD_LOGGING = [
    ({"logger": "myapp"}, "logger must be a logging.Logger or None, got 'myapp' (str)"),
    ({"level": "INFO"}, f"level {LEVEL} 'INFO' (str)"),
    ({"output_level": None}, f"output_level {LEVEL} None"),
    ({"failure_level": True}, f"failure_level {LEVEL} True"),
]


@pytest.mark.parametrize(("kwargs", "message"), BAD_LOGGING)
def test_structured_logging_hook_refuses(kwargs: dict[str, Any], message: str) -> None:
    pattern = f"^structured_logging_hook: {re.escape(message)}"
    with pytest.raises(InvalidArgumentError, match=pattern):
        structured_logging_hook(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"logger": "myapp"}, "logger must be a logging.Logger or None, got 'myapp' (str)"),
        ({"start_level": "INFO"}, "start_level must be an int (logging.INFO, ...), got 'INFO'"),
        ({"exit_level": None}, "exit_level must be an int (logging.INFO, ...), got None"),
    ],
)
def test_logging_hook_refuses(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=f"^logging_hook: {re.escape(message)}"):
        logging_hook(**kwargs)


async def test_logging_hook_still_takes_a_logger_adapter(
    anyio_backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="adapted")
    adapter = logging.LoggerAdapter(logging.getLogger("adapted"), {"who": "me"})
    with logging_hook(logger=adapter):  # type: ignore[arg-type]
        await py("-c", "pass").run()
    assert [r.getMessage().split()[1] for r in caplog.records if r.name == "adapted"] == [
        "start",
        "exit",
    ]


@pytest.mark.parametrize("collector", [None, object(), "prometheus"])
def test_metrics_hook_refuses_what_is_not_a_collector(collector: object) -> None:
    with pytest.raises(InvalidArgumentError, match=r"^MetricsHook: collector must be a"):
        MetricsHook(collector)  # type: ignore[arg-type]


def test_tracing_hook_refuses_what_is_not_a_tracer() -> None:
    with pytest.raises(InvalidArgumentError, match=r"^TracingHook: tracer must be a Tracer"):
        TracingHook(None)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match=r"^TracingHook: record_output must be True"):
        TracingHook(InMemoryTracer(), record_output="no")  # type: ignore[arg-type]


async def test_the_right_arguments_still_observe_a_run(anyio_backend: str) -> None:
    metrics, tracer = InMemoryMetrics(), InMemoryTracer()
    with sh.observe(MetricsHook(metrics), TracingHook(tracer, record_output=False)):
        await py("-c", "print('x')").run()
    assert metrics.counters["cuprum_executions_total"] == 1.0
    assert [span.ended for span in tracer.spans] == [True]
