"""A program's display name labels it in events, logs, metrics and spans."""

from __future__ import annotations

import logging
import sys

import pytest

from cuprum import ExecEvent, Program, ProgramCatalogue, ScopeConfig, logging_hook, scoped, sh
from cuprum.adapters.logging_adapter import structured_logging_hook
from cuprum.adapters.metrics_adapter import InMemoryMetrics, MetricsHook
from cuprum.adapters.tracing_adapter import InMemoryTracer, TracingHook

pytestmark = pytest.mark.anyio

PYTHON = Program(sys.executable, display_name="python")
CATALOGUE = ProgramCatalogue.of(PYTHON, project="labelled")


async def test_events_carry_the_display_name_and_adapters_use_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    events: list[ExecEvent] = []
    metrics, tracer = InMemoryMetrics(), InMemoryTracer()
    cmd = sh.make(PYTHON, catalogue=CATALOGUE)("-c", "print('hi')")
    caplog.set_level(logging.DEBUG)
    with (
        scoped(ScopeConfig()),
        sh.observe(events.append, MetricsHook(metrics), TracingHook(tracer)),
        sh.observe(structured_logging_hook()),
        logging_hook(),
    ):
        result = await cmd.run()
    assert result.stdout == "hi\n"
    assert {ev.display_name for ev in events} == {"python"}
    assert all(ev.program == sys.executable for ev in events)  # the real program
    assert metrics.labelled_counters
    assert all(dict(key)["program"] == "python" for _, key in metrics.labelled_counters)
    (span,) = tracer.spans
    assert span.name == "cuprum.exec python"
    assert span.attributes["cuprum.program"] == "python"
    assert span.attributes["cuprum.argv"] == (sys.executable, "-c", "print('hi')")
    programs = {getattr(r, "cuprum_program", None) for r in caplog.records}
    assert programs == {"python"}


def test_a_program_without_a_display_name_is_labelled_by_itself() -> None:
    plain = Program(sys.executable)
    events: list[ExecEvent] = []
    catalogue = ProgramCatalogue.of(plain)
    with sh.observe(events.append):
        sh.make(plain, catalogue=catalogue)("-c", "pass").run_sync()
    assert {ev.display_name for ev in events} == {sys.executable}


def test_observe_takes_several_hooks_and_detaches_them_together() -> None:
    from cuprum import current_context

    first: list[str] = []
    second: list[str] = []
    before = current_context().observe_hooks
    with sh.observe(lambda ev: first.append(ev.phase), lambda ev: second.append(ev.phase)):
        assert len(current_context().observe_hooks) == len(before) + 2
        sh.make(PYTHON, catalogue=CATALOGUE)("-c", "pass").run_sync()
    assert first == second == ["plan", "start", "exit"]
    assert current_context().observe_hooks == before
