"""Shared pieces of the security tests: programs in temporary directories, and every
observer cuprum has, attached to real backends, so a test can search all they saw."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from cuprum import (
    ExecEvent,
    Program,
    ProgramCatalogue,
    ProjectSettings,
    SafeCmd,
    logging_hook,
    sh,
)
from cuprum.adapters.logging_adapter import JsonLoggingFormatter, structured_logging_hook
from cuprum.adapters.metrics_adapter import (
    DURATION_SECONDS,
    EXECUTIONS_TOTAL,
    FAILURES_TOTAL,
    LABEL_NAMES,
    STDERR_LINES_TOTAL,
    STDOUT_LINES_TOTAL,
    MetricsHook,
)
from cuprum.adapters.otel import OTelTracer
from cuprum.adapters.tracing_adapter import TracingHook

PY = Program(sys.executable)
SH = Program("sh")
ENV = Program("env")
PROJECT = ProjectSettings(name="security-tests", programs=(PY, SH, ENV))
CATALOGUE = ProgramCatalogue(projects=(PROJECT,))


def py(code: str, *args: str) -> SafeCmd:
    """``python -c code args...`` with the interpreter running the tests."""
    return sh.make(PY, catalogue=CATALOGUE)("-c", code, *args)


def script(path: Path, text: str, mode: int = 0o755) -> Path:
    """A file at ``path`` holding ``text``, with ``mode``."""
    path.write_text(text)
    path.chmod(mode)
    return path


def tool(name: str, *search_path: Path, **settings: Any) -> tuple[ProgramCatalogue, SafeCmd]:
    """A catalogue listing ``name`` (looked up in ``search_path``) and a command for it."""
    program = Program(name)
    project = ProjectSettings(
        name=f"tool-{name}",
        programs=(program,),
        search_path=tuple(str(d) for d in search_path),
        **settings,
    )
    catalogue = ProgramCatalogue(projects=(project,))
    return catalogue, sh.make(program, catalogue=catalogue)()


class Recorder:
    """An observe hook that keeps every event."""

    def __init__(self) -> None:
        self.events: list[ExecEvent] = []

    def __call__(self, event: ExecEvent) -> None:
        self.events.append(event)

    @property
    def phases(self) -> list[str]:
        return [e.phase for e in self.events]


class _Prometheus:
    def __init__(self, registry: CollectorRegistry) -> None:
        labels = list(LABEL_NAMES)
        names = (EXECUTIONS_TOTAL, FAILURES_TOTAL, STDOUT_LINES_TOTAL, STDERR_LINES_TOTAL)
        self.counters = {n: Counter(n, n, labels, registry=registry) for n in names}
        self.duration = Histogram(DURATION_SECONDS, "duration", labels, registry=registry)

    def inc_counter(self, name: str, value: float, labels: Mapping[str, str]) -> None:
        self.counters[name].labels(**labels).inc(value)

    def observe_histogram(self, name: str, value: float, labels: Mapping[str, str]) -> None:
        self.duration.labels(**labels).observe(value)


class Observed:
    """Everything cuprum reported while it was attached: events, log records (plain and
    JSON, through real handlers), spans (OpenTelemetry SDK), metrics (prometheus-client)."""

    def __init__(self) -> None:
        self.recorder = Recorder()
        self.plain = io.StringIO()
        self.json = io.StringIO()
        self.records: list[logging.LogRecord] = []
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider()
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.registry = CollectorRegistry()

    def texts(self) -> list[tuple[str, str]]:
        """``(where, text)`` for every piece of reported text."""
        found: list[tuple[str, str]] = []
        for event in self.recorder.events:
            found.append((f"event {event.phase}", repr(event)))
            found += [(f"event {event.phase}.{k}", str(v)) for k, v in _fields(event)]
        found.append(("plain log", self.plain.getvalue()))
        found.append(("json log", self.json.getvalue()))
        for record in self.records:
            found.append(("log record", json.dumps(record.__dict__, default=repr)))
            found.append(("log message", record.getMessage()))
        for span in self.exporter.get_finished_spans():
            found.append((f"span {span.name}", span.to_json()))
        found.append(("metrics", generate_latest(self.registry).decode()))
        return found

    def assert_never_shows(self, value: str) -> None:
        leaks = [where for where, text in self.texts() if value in text]
        assert not leaks, f"{value!r} shown in {leaks}"
        assert self.recorder.events, "nothing was observed"
        assert self.exporter.get_finished_spans(), "no span was exported"


def _fields(event: ExecEvent) -> Iterator[tuple[str, object]]:
    for name in event.__slots__:
        yield name, getattr(event, name)


class _Keep(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__()
        self._records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.format(record)  # what a real handler does: fills message, exc_text
        self._records.append(record)


@contextmanager
def observed() -> Iterator[Observed]:
    """Attach every observer (and the logging hook) for the block."""
    seen = Observed()
    logger = logging.getLogger(f"cuprum.security-tests.{id(seen)}")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    plain = logging.StreamHandler(seen.plain)
    plain.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    as_json = logging.StreamHandler(seen.json)
    as_json.setFormatter(JsonLoggingFormatter())
    handlers: list[logging.Handler] = [plain, as_json, _Keep(seen.records)]
    for handler in handlers:
        logger.addHandler(handler)
    tracer = OTelTracer(seen.provider.get_tracer("cuprum-security-tests"))
    with ExitStack() as stack:
        stack.enter_context(sh.observe(seen.recorder))
        stack.enter_context(sh.observe(structured_logging_hook(logger=logger)))
        stack.enter_context(sh.observe(TracingHook(tracer)))
        stack.enter_context(sh.observe(MetricsHook(_Prometheus(seen.registry))))
        stack.enter_context(logging_hook(logger=logger, start_level=logging.INFO))
        yield seen
    seen.provider.shutdown()
    for handler in handlers:
        logger.removeHandler(handler)
