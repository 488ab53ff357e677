"""Prometheus-style metrics from execution events, for any metrics backend.

:class:`MetricsHook` is an observe hook that reports to a :class:`MetricsCollector`
(two methods: ``inc_counter`` and ``observe_histogram``). :class:`InMemoryMetrics`
is a reference collector for tests and examples. Every metric carries exactly
two labels, ``program`` and ``project``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from types import MappingProxyType
from typing import Protocol

from cuprum import ExecEvent, InvalidArgumentError, LineBatch

__all__ = [
    "DURATION_SECONDS",
    "EXECUTIONS_TOTAL",
    "FAILURES_TOTAL",
    "LABEL_NAMES",
    "STDERR_LINES_TOTAL",
    "STDOUT_LINES_TOTAL",
    "InMemoryMetrics",
    "MetricsCollector",
    "MetricsHook",
]

EXECUTIONS_TOTAL = "cuprum_executions_total"
"""Counter: one per process started (each pipeline stage counts)."""
FAILURES_TOTAL = "cuprum_failures_total"
"""Counter: one per ``exit`` whose code is not accepted (``ExecEvent.ok``: ``accept=``,
``{0}`` by default) and per ``error`` (spawn failure, timeout,
cancellation, failing hook)."""
DURATION_SECONDS = "cuprum_duration_seconds"
"""Histogram: run time of every process that was spawned, observed when it ends
(``exit``, or ``error`` carrying a pid)."""
STDOUT_LINES_TOTAL = "cuprum_stdout_lines_total"
"""Counter: stdout lines observed (in batches: one increment per read)."""
STDERR_LINES_TOTAL = "cuprum_stderr_lines_total"
"""Counter: stderr lines observed (in batches: one increment per read)."""

LABEL_NAMES: tuple[str, str] = ("program", "project")
"""The labels of every metric, in this order."""


class MetricsCollector(Protocol):
    """What :class:`MetricsHook` reports to; implement it over any metrics library."""

    def inc_counter(self, name: str, value: float, labels: Mapping[str, str]) -> None:
        """Add ``value`` to counter ``name`` for this label set."""

    def observe_histogram(self, name: str, value: float, labels: Mapping[str, str]) -> None:
        """Record one ``value`` in histogram ``name`` for this label set."""


class MetricsHook:
    """An observe hook that turns events into the five ``cuprum_*`` metrics.

    Stateless per event, so overlapping commands (``run_concurrent``, pipelines,
    threads) need no bookkeeping. The label mappings handed to the collector are
    read-only and shared between calls. It is a
    :class:`~cuprum.LineBatchObserver`: registered with ``sh.observe``, it counts
    output lines one batch at a time (:meth:`on_lines`, one ``inc_counter`` per
    read), so no event is built per line for it.
    """

    __slots__ = ("_collector", "_labels")

    def __init__(self, collector: MetricsCollector) -> None:
        # Refused here: a wrong collector would otherwise end the first run it sees.
        missing = [m for m in ("inc_counter", "observe_histogram") if not hasattr(collector, m)]
        if missing:
            raise InvalidArgumentError(
                f"MetricsHook: collector must be a MetricsCollector (no {missing[0]}()), "
                f"got {collector!r} ({type(collector).__name__})"
            )
        self._collector = collector
        self._labels: dict[tuple[str, object], Mapping[str, str]] = {}

    @property
    def collector(self) -> MetricsCollector:
        """The collector this hook reports to."""
        return self._collector

    def _labels_for(self, ev: ExecEvent | LineBatch) -> Mapping[str, str]:
        project = ev.tags.get("project", "")
        program = ev.display_name  # a label, not a venv path
        key = (program, project)
        labels = self._labels.get(key)
        if labels is None:
            labels = MappingProxyType({"program": program, "project": str(project)})
            self._labels[key] = labels
        return labels

    def on_lines(self, batch: LineBatch) -> None:
        """Count a batch of output lines."""
        name = STDOUT_LINES_TOTAL if batch.phase == "stdout" else STDERR_LINES_TOTAL
        self._collector.inc_counter(name, float(batch.count), self._labels_for(batch))

    def __call__(self, ev: ExecEvent) -> None:
        phase = ev.phase
        if phase == "stdout":
            self._collector.inc_counter(STDOUT_LINES_TOTAL, 1.0, self._labels_for(ev))
        elif phase == "stderr":
            self._collector.inc_counter(STDERR_LINES_TOTAL, 1.0, self._labels_for(ev))
        elif phase == "start":
            self._collector.inc_counter(EXECUTIONS_TOTAL, 1.0, self._labels_for(ev))
        elif phase == "exit":
            labels = self._labels_for(ev)
            if ev.duration_s is not None:
                self._collector.observe_histogram(DURATION_SECONDS, ev.duration_s, labels)
            if not ev.succeeded:
                self._collector.inc_counter(FAILURES_TOTAL, 1.0, labels)
        elif phase == "error":
            labels = self._labels_for(ev)
            if ev.pid is not None and ev.duration_s is not None:
                self._collector.observe_histogram(DURATION_SECONDS, ev.duration_s, labels)
            self._collector.inc_counter(FAILURES_TOTAL, 1.0, labels)


LabelKey = tuple[tuple[str, str], ...]


class InMemoryMetrics:
    """A :class:`MetricsCollector` that keeps everything in dictionaries.

    ``counters`` maps a metric name to its total over all label sets;
    ``histograms`` maps a name to every observed value, in order. The per-label
    views ``labelled_counters`` and ``labelled_histograms`` are keyed by
    ``(name, (("program", ...), ("project", ...)))``. Thread-safe.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # id(labels) -> (labels, key): MetricsHook hands out long-lived label
        # mappings, so the sorted key is computed once per label set.
        self._keys: dict[int, tuple[Mapping[str, str], LabelKey]] = {}
        self.counters: dict[str, float] = {}
        self.histograms: dict[str, list[float]] = {}
        self.labelled_counters: dict[tuple[str, LabelKey], float] = {}
        self.labelled_histograms: dict[tuple[str, LabelKey], list[float]] = {}

    def _key(self, labels: Mapping[str, str]) -> LabelKey:
        cached = self._keys.get(id(labels))
        if cached is not None and cached[0] is labels:
            return cached[1]
        key = tuple(sorted(labels.items()))
        if len(self._keys) >= 1024:  # callers passing fresh mappings: stay bounded
            self._keys.clear()
        self._keys[id(labels)] = (labels, key)
        return key

    def inc_counter(self, name: str, value: float, labels: Mapping[str, str]) -> None:
        """Add ``value`` to the counter's total and to its label set's total."""
        key = (name, self._key(labels))
        with self._lock:
            self.counters[name] = self.counters.get(name, 0.0) + value
            self.labelled_counters[key] = self.labelled_counters.get(key, 0.0) + value

    def observe_histogram(self, name: str, value: float, labels: Mapping[str, str]) -> None:
        """Append ``value`` to the histogram and to its label set's list."""
        key = (name, self._key(labels))
        with self._lock:
            self.histograms.setdefault(name, []).append(value)
            self.labelled_histograms.setdefault(key, []).append(value)

    def counter(self, name: str, **labels: str) -> float:
        """The sum of counter ``name`` over label sets that match every given label."""
        with self._lock:
            return sum(
                value
                for (metric, key), value in self.labelled_counters.items()
                if metric == name and all(dict(key).get(k) == v for k, v in labels.items())
            )

    def observations(self, name: str, **labels: str) -> list[float]:
        """Histogram ``name``'s values from label sets that match every given label."""
        with self._lock:
            return [
                value
                for (metric, key), values in self.labelled_histograms.items()
                if metric == name and all(dict(key).get(k) == v for k, v in labels.items())
                for value in values
            ]
