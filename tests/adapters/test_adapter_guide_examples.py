"""The users' guide examples for adapters and builders run as written, then are checked.

Each block is kept here verbatim (as printed in the guide's "Telemetry adapters"
and "Core builders for common tools" sections) and run in a fresh interpreter,
with a check appended that inspects what the block built. When
``docs/users-guide.md`` carries these sections, the blocks must appear there
unchanged, so the guide and this test cannot drift apart.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

LOGGING_HOOK = """\
import logging

from cuprum import ECHO, ScopeConfig, scoped, sh
from cuprum.adapters.logging_adapter import structured_logging_hook

logging.basicConfig(level=logging.DEBUG)

with scoped(ScopeConfig(allowlist=frozenset([ECHO]))):
    hook = structured_logging_hook()
    with sh.observe(hook):
        sh.make(ECHO)("hello").run_sync()
"""

JSON_FORMATTER = """\
import logging

from cuprum.adapters.logging_adapter import JsonLoggingFormatter

handler = logging.StreamHandler()
handler.setFormatter(JsonLoggingFormatter())
logger = logging.getLogger("cuprum.exec")
logger.addHandler(handler)
"""

IN_MEMORY_METRICS = """\
from cuprum import ECHO, ScopeConfig, scoped, sh
from cuprum.adapters.metrics_adapter import InMemoryMetrics, MetricsHook

metrics = InMemoryMetrics()

with scoped(ScopeConfig(allowlist=frozenset([ECHO]))):
    with sh.observe(MetricsHook(metrics)):
        sh.make(ECHO)("hello").run_sync()

print(metrics.counters)  # {'cuprum_executions_total': 1.0, ...}
print(metrics.histograms)  # {'cuprum_duration_seconds': [...]}
"""

PROMETHEUS = """\
from prometheus_client import Counter, Histogram

from cuprum.adapters.metrics_adapter import MetricsCollector, MetricsHook


class PrometheusMetrics:
    def __init__(self) -> None:
        self._exec_total = Counter(
            "cuprum_executions_total",
            "Total command executions",
            ["program", "project"],
        )
        self._duration = Histogram(
            "cuprum_duration_seconds",
            "Execution duration",
            ["program", "project"],
        )

    def inc_counter(self, name, value, labels):
        if name == "cuprum_executions_total":
            self._exec_total.labels(**labels).inc(value)

    def observe_histogram(self, name, value, labels):
        if name == "cuprum_duration_seconds":
            self._duration.labels(**labels).observe(value)


hook = MetricsHook(PrometheusMetrics())
"""

IN_MEMORY_TRACER = """\
from cuprum import ECHO, ScopeConfig, scoped, sh
from cuprum.adapters.tracing_adapter import InMemoryTracer, TracingHook

tracer = InMemoryTracer()

with scoped(ScopeConfig(allowlist=frozenset([ECHO]))):
    with sh.observe(TracingHook(tracer)):
        sh.make(ECHO)("hello").run_sync()

span = tracer.spans[0]
print(span.name)  # 'cuprum.exec echo'
print(span.attributes)  # {'cuprum.program': 'echo', ...}
"""

OPENTELEMETRY = """\
from opentelemetry import trace

from cuprum.adapters.tracing_adapter import Span, Tracer, TracingHook


class OTelSpan:
    def __init__(self, otel_span) -> None:
        self._span = otel_span

    def set_attribute(self, key, value):
        self._span.set_attribute(key, value)

    def add_event(self, name, attributes=None):
        self._span.add_event(name, attributes=attributes or {})

    def set_status(self, *, ok):
        from opentelemetry.trace import StatusCode

        code = StatusCode.OK if ok else StatusCode.ERROR
        self._span.set_status(code)

    def end(self):
        self._span.end()


class OTelTracer:
    def __init__(self, tracer) -> None:
        self._tracer = tracer

    def start_span(self, name, attributes=None):
        span = self._tracer.start_span(name, attributes=attributes)
        return OTelSpan(span)


otel_tracer = trace.get_tracer("cuprum")
hook = TracingHook(OTelTracer(otel_tracer))
"""

BUILDERS = """\
from pathlib import Path

from cuprum.builders import (
    RsyncOptions,
    TarCreateOptions,
    git_checkout,
    rsync_sync,
    tar_create,
    tar_extract,
)

git_cmd = git_checkout("main", create_branch=True)
rsync_cmd = rsync_sync(
    Path("/srv/data"),
    Path("/backups/data"),
    options=RsyncOptions(archive=True, delete=True),
)
tar_cmd = tar_create(
    Path("/backups/data.tar.gz"),
    [Path("/srv/data")],
    options=TarCreateOptions(gzip=True),
)
restore_cmd = tar_extract(
    Path("/backups/data.tar.gz"),
    destination=Path("/srv/restore"),
)
"""

RUN_ECHO = """
from cuprum import ECHO, ScopeConfig, scoped, sh
with scoped(ScopeConfig(allowlist=frozenset([ECHO]))), sh.observe(hook):
    sh.make(ECHO)("hello").run_sync()
"""

CHECKS: dict[str, tuple[str, str, str]] = {
    # name: (code before the block, verbatim block, check after it)
    "logging_hook": ("", LOGGING_HOOK, ""),
    "json_formatter": (
        "",
        JSON_FORMATTER,
        "logger.setLevel(logging.DEBUG)\n"
        "logger.propagate = False\n"
        "from cuprum.adapters.logging_adapter import structured_logging_hook\n"
        "hook = structured_logging_hook()\n" + RUN_ECHO,
    ),
    "in_memory_metrics": (
        "",
        IN_MEMORY_METRICS,
        "assert metrics.counters['cuprum_executions_total'] == 1.0\n"
        "assert metrics.counters['cuprum_stdout_lines_total'] == 1.0\n"
        "assert len(metrics.histograms['cuprum_duration_seconds']) == 1\n",
    ),
    "prometheus": (
        "",
        PROMETHEUS,
        RUN_ECHO + "from prometheus_client import generate_latest\n"
        "text = generate_latest().decode()\n"
        'labels = \'program="echo",project="core-ops"\'\n'
        "assert 'cuprum_executions_total{' + labels + '} 1.0' in text, text\n"
        "assert 'cuprum_duration_seconds_count{' + labels + '} 1.0' in text, text\n"
        "print('PROMETHEUS OK')\n",
    ),
    "in_memory_tracer": (
        "",
        IN_MEMORY_TRACER,
        "assert span.name == 'cuprum.exec echo'\n"
        "assert list(span.attributes)[0] == 'cuprum.program'\n"
        "assert span.attributes['cuprum.argv'] == ('echo', 'hello')\n"
        "assert span.ended and span.ok\n",
    ),
    "opentelemetry": (
        # The SDK provider and an in-memory exporter are installed before the block,
        # so the block's trace.get_tracer("cuprum") records real spans.
        "from opentelemetry import trace as _trace\n"
        "from opentelemetry.sdk.trace import TracerProvider\n"
        "from opentelemetry.sdk.trace.export import SimpleSpanProcessor\n"
        "from opentelemetry.sdk.trace.export.in_memory_span_exporter import "
        "InMemorySpanExporter\n"
        "exporter = InMemorySpanExporter()\n"
        "_provider = TracerProvider()\n"
        "_provider.add_span_processor(SimpleSpanProcessor(exporter))\n"
        "_trace.set_tracer_provider(_provider)\n",
        OPENTELEMETRY,
        RUN_ECHO + "from opentelemetry.trace import StatusCode\n"
        "(span,) = exporter.get_finished_spans()\n"
        "assert span.name == 'cuprum.exec echo'\n"
        "assert span.attributes['cuprum.program'] == 'echo'\n"
        "assert span.attributes['cuprum.argv'] == ('echo', 'hello')\n"
        "assert span.attributes['cuprum.exit_code'] == 0\n"
        "assert span.status.status_code is StatusCode.OK\n"
        "assert [e.attributes['cuprum.line'] for e in span.events] == ['hello']\n"
        "print('OTEL OK')\n",
    ),
    "builders": (
        "",
        BUILDERS,
        "assert git_cmd.argv_with_program == ('git', 'checkout', '-b', 'main', '--')\n"
        "assert rsync_cmd.argv_with_program[-3:] == ('--', '/srv/data/', '/backups/data')\n"
        "assert '--delete' in rsync_cmd.argv and '--archive' in rsync_cmd.argv\n"
        "assert tar_cmd.argv[-2:] == ('--', '/srv/data') and '--gzip' in tar_cmd.argv\n"
        "assert '--directory=/srv/restore' in restore_cmd.argv\n"
        "assert {c.project.name for c in (git_cmd, rsync_cmd, tar_cmd)} == "
        "{'vcs', 'archive-sync'}\n",
    ),
}


def _run(name: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    before, block, after = CHECKS[name]
    proc = subprocess.run(
        [sys.executable, "-c", f"{before}\n{block}\n{after}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_guide_example_runs(name: str, tmp_path: Path) -> None:
    _run(name, tmp_path)


def test_logging_example_logs_every_phase(tmp_path: Path) -> None:
    stderr = _run("logging_hook", tmp_path).stderr
    assert "INFO:cuprum.exec:cuprum plan echo" in stderr
    assert "DEBUG:cuprum.exec:cuprum stdout echo: hello" in stderr
    assert "INFO:cuprum.exec:cuprum exit echo" in stderr


def test_json_example_writes_json_lines(tmp_path: Path) -> None:
    rows = [json.loads(line) for line in _run("json_formatter", tmp_path).stderr.splitlines()]
    assert [row["cuprum_phase"] for row in rows] == ["plan", "start", "stdout", "exit"]
    assert rows[2]["cuprum_line"] == "hello"
    assert rows[3]["cuprum_exit_code"] == 0
    assert all(row["cuprum_tags"]["project"] == "core-ops" for row in rows)


def test_metrics_example_prints_what_the_guide_shows(tmp_path: Path) -> None:
    out = _run("in_memory_metrics", tmp_path).stdout.splitlines()
    assert out[0].startswith("{'cuprum_executions_total': 1.0, ")
    assert out[1].startswith("{'cuprum_duration_seconds': [")


def test_tracer_example_prints_what_the_guide_shows(tmp_path: Path) -> None:
    out = _run("in_memory_tracer", tmp_path).stdout.splitlines()
    assert out[0] == "cuprum.exec echo"
    assert out[1].startswith("{'cuprum.program': 'echo', ")
