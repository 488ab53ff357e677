"""Per-line cost of the telemetry adapters' observe hooks.

    python benchmarks/bench_hooks.py [--lines N] [--repeats R] [--backend B] [--json]

A child prints N lines; the same run is timed with no observe hook, with a no-op
hook (what the runtime's per-line events cost by themselves), with a batch
observer that counts (``on_lines``: no event per line) and with each adapter
hook (the metrics and tracing hooks and the structured logger take lines in
batches too). ``--pure`` sets ``CUPRUM_STREAM_BACKEND=python``: everything in
Python, as on a pure install. Configurations are interleaved round by round and the median of
R rounds is reported, so drift on a busy machine hits every row alike. A second
figure calls each hook directly with a prebuilt ``stdout`` event: the hook's own
cost per line, free of process and pipe noise.

Columns: ``run_s`` median wall time; ``vs_none`` and ``vs_noop`` the extra
nanoseconds per line over the no-hook and no-op-hook runs; ``call_ns`` the direct
per-call cost. Standalone: ``run_all.py`` lists it as skipped.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import logging
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any, Literal

from cuprum import ExecEvent, Program, ProgramCatalogue, ProjectSettings, SafeCmd, sh
from cuprum.adapters.logging_adapter import JsonLoggingFormatter, structured_logging_hook
from cuprum.adapters.metrics_adapter import InMemoryMetrics, MetricsHook
from cuprum.adapters.tracing_adapter import InMemoryTracer, TracingHook

Hook = Callable[[ExecEvent], None]
Backend = Literal["asyncio", "trio"]

PY = Program(sys.executable)
CATALOGUE = ProgramCatalogue(projects=(ProjectSettings("bench-hooks", (PY,)),))
CHILD = (
    "import sys\n"
    "n = int(sys.argv[1])\n"
    "line = 'x' * 40 + '\\n'\n"
    "out = sys.stdout\n"
    "for start in range(0, n, 10000):\n"
    "    out.write(line * min(10000, n - start))\n"
)


class _FormatAndDrop(logging.Handler):
    """Formats every record (the real cost of a JSON log line) and keeps nothing."""

    def emit(self, record: logging.LogRecord) -> None:
        self.format(record)


def _logger(name: str, level: int, handler: logging.Handler | None) -> logging.Logger:
    logger = logging.getLogger(f"cuprum.bench.{name}")
    logger.handlers[:] = [handler] if handler is not None else []
    logger.setLevel(level)
    logger.propagate = False
    return logger


def _prometheus_hook() -> Hook | None:
    try:
        from prometheus_client import CollectorRegistry, Counter, Histogram
    except ImportError:
        return None
    registry = CollectorRegistry()
    labels = ["program", "project"]
    counters: dict[str, Any] = {
        name: Counter(name, name, labels, registry=registry)
        for name in (
            "cuprum_executions_total",
            "cuprum_failures_total",
            "cuprum_stdout_lines_total",
            "cuprum_stderr_lines_total",
        )
    }
    duration = Histogram("cuprum_duration_seconds", "duration", labels, registry=registry)

    class Prometheus:
        def inc_counter(self, name: str, value: float, labels: Any) -> None:
            counters[name].labels(**labels).inc(value)

        def observe_histogram(self, name: str, value: float, labels: Any) -> None:
            duration.labels(**labels).observe(value)

    return MetricsHook(Prometheus())


def _otel_hook() -> Hook | None:
    try:
        from opentelemetry.sdk.trace import TracerProvider
    except ImportError:
        return None
    # No span processor: spans are recorded in memory and dropped when they end.
    tracer = TracerProvider().get_tracer("bench")

    class Span:
        def __init__(self, span: Any) -> None:
            self._span = span

        def set_attribute(self, key: str, value: Any) -> None:
            self._span.set_attribute(key, value)

        def add_event(self, name: str, attributes: Any = None) -> None:
            self._span.add_event(name, attributes=attributes or {})

        def set_status(self, *, ok: bool) -> None:
            from opentelemetry.trace import StatusCode

            self._span.set_status(StatusCode.OK if ok else StatusCode.ERROR)

        def end(self) -> None:
            self._span.end()

    class Tracer:
        def start_span(self, name: str, attributes: Any = None) -> Span:
            return Span(tracer.start_span(name, attributes=attributes))

    return TracingHook(Tracer())


def _noop(ev: ExecEvent) -> None:
    return None


class _BatchCounter:
    """A batch observer (``on_lines``): counts lines a batch at a time."""

    def __init__(self) -> None:
        self.lines = 0

    def __call__(self, ev: ExecEvent) -> None:
        return None

    def on_lines(self, batch: Any) -> None:
        self.lines += batch.count


def configurations() -> dict[str, Callable[[], Hook | None]]:
    """Row name -> a factory for a fresh hook (``None``: no observe hook at all)."""
    rows: dict[str, Callable[[], Hook | None]] = {
        "no hook": lambda: None,
        "no-op hook": lambda: _noop,
        "batch counter (on_lines)": _BatchCounter,
        "logging, DEBUG off": lambda: structured_logging_hook(
            logger=_logger("off", logging.INFO, None)
        ),
        "logging, JSON formatted": lambda: structured_logging_hook(
            logger=_logger("json", logging.DEBUG, _handler())
        ),
        "metrics, InMemoryMetrics": lambda: MetricsHook(InMemoryMetrics()),
        "tracing, record_output=False": lambda: TracingHook(InMemoryTracer(), record_output=False),
        "tracing, InMemoryTracer": lambda: TracingHook(InMemoryTracer()),
    }
    if _prometheus_hook() is not None:
        rows["metrics, prometheus_client"] = _prometheus_hook
    if _otel_hook() is not None:
        rows["tracing, OpenTelemetry SDK"] = _otel_hook
    return rows


def _handler() -> logging.Handler:
    handler = _FormatAndDrop()
    handler.setFormatter(JsonLoggingFormatter())
    return handler


@contextlib.contextmanager
def _observing(hook: Hook | None) -> Iterator[None]:
    if hook is None:
        yield
        return
    with sh.observe(hook):
        yield


def _time_run(cmd: SafeCmd, hook: Hook | None, backend: Backend, lines: int) -> float:
    gc.collect()
    with _observing(hook):
        started = time.perf_counter()
        result = cmd.run_sync(backend=backend)
        elapsed = time.perf_counter() - started
    assert result.exit_code == 0
    assert result.stdout is not None
    assert len(result.stdout) == 41 * lines
    return elapsed


def _time_calls(hook: Hook, calls: int) -> float:
    """Nanoseconds per direct call of ``hook`` with one attempt's stdout events."""
    tags = {"project": "bench-hooks"}
    argv = (str(PY), "-c", "bench")

    def event(phase: Any, **fields: Any) -> ExecEvent:
        return ExecEvent(phase, PY, argv, None, None, tags, 0.0, 4242, **fields)

    hook(event("plan"))
    hook(event("start"))
    line = event("stdout", line="x" * 40)
    gc.collect()
    started = time.perf_counter_ns()
    for _ in range(calls):
        hook(line)
    elapsed = time.perf_counter_ns() - started
    hook(event("exit", exit_code=0, duration_s=0.1))
    return elapsed / calls


@dataclass(frozen=True)
class Row:
    name: str
    run_s: float
    vs_none_ns: float | None
    vs_noop_ns: float | None
    call_ns: float | None


def measure(lines: int, repeats: int, backend: Backend) -> list[Row]:
    cmd = sh.make(PY, catalogue=CATALOGUE)("-c", CHILD, str(lines))
    rows = configurations()
    _time_run(cmd, None, backend, lines)  # warm up the loop, caches and page cache
    times: dict[str, list[float]] = {name: [] for name in rows}
    for round_ in range(repeats):
        order = list(rows) if round_ % 2 == 0 else list(reversed(rows))
        for name in order:
            times[name].append(_time_run(cmd, rows[name](), backend, lines))
    medians = {name: statistics.median(samples) for name, samples in times.items()}
    out: list[Row] = []
    for name, factory in rows.items():
        hook = factory()
        batched = hasattr(hook, "on_lines")  # takes no line events: no direct-call figure
        call_ns = None if hook is None or batched else _time_calls(hook, min(lines, 200_000))
        per_line = 1e9 / lines
        out.append(
            Row(
                name,
                medians[name],
                None if hook is None else (medians[name] - medians["no hook"]) * per_line,
                None
                if hook is None or name == "no-op hook"
                else (medians[name] - medians["no-op hook"]) * per_line,
                call_ns,
            )
        )
    return out


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def table(rows: list[Row], lines: int, repeats: int, backend: Backend) -> str:
    head = f"{'configuration':32} {'run_s':>8} {'vs_none':>9} {'vs_noop':>9} {'call_ns':>9}"
    body = [
        f"{r.name:32} {r.run_s:8.3f} {_fmt(r.vs_none_ns, '9.0f')} "
        f"{_fmt(r.vs_noop_ns, '9.0f')} {_fmt(r.call_ns, '9.0f')}"
        for r in rows
    ]
    title = (
        f"observe hooks: {lines} lines per run, median of {repeats}, {backend}, "
        f"python {platform.python_version()}; per-line figures in ns"
    )
    return "\n".join([title, head, *body])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--pure", action="store_true", help="CUPRUM_STREAM_BACKEND=python")
    args = parser.parse_args(argv)
    if args.pure:
        os.environ["CUPRUM_STREAM_BACKEND"] = "python"
    backend: Backend = args.backend
    rows = measure(args.lines, args.repeats, backend)
    if args.json:
        payload = {
            "lines": args.lines,
            "repeats": args.repeats,
            "backend": backend,
            "python": platform.python_version(),
            "machine": platform.machine(),
            "rows": [asdict(row) for row in rows],
        }
        print(json.dumps(payload, indent=2))
    else:
        print(table(rows, args.lines, args.repeats, backend))
    return 0


if __name__ == "__main__":
    sys.exit(main())
