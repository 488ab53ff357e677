"""The ``prometheus_client`` backend for :class:`~cuprum.adapters.metrics_adapter.MetricsHook`.

Needs the extra ``cuprum[prometheus]``. :func:`prometheus_hook` is the whole
integration; :class:`PrometheusCollector` is the collector it uses, for when
you want to share one between hooks or read its metric objects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram

from cuprum.adapters.metrics_adapter import (
    DURATION_SECONDS,
    EXECUTIONS_TOTAL,
    FAILURES_TOTAL,
    LABEL_NAMES,
    STDERR_LINES_TOTAL,
    STDOUT_LINES_TOTAL,
    MetricsHook,
)

__all__ = ["PrometheusCollector", "prometheus_hook"]

_COUNTERS = {
    EXECUTIONS_TOTAL: "Processes started by cuprum (each pipeline stage counts).",
    FAILURES_TOTAL: "cuprum runs that exited with a code not accepted or ended in an error.",
    STDOUT_LINES_TOTAL: "stdout lines seen as cuprum events.",
    STDERR_LINES_TOTAL: "stderr lines seen as cuprum events.",
}


class PrometheusCollector:
    """A :class:`~cuprum.adapters.metrics_adapter.MetricsCollector` over ``prometheus_client``.

    Registers the four counters and the duration histogram (labels ``program``,
    ``project``) in ``registry`` (default: the global ``REGISTRY``) when it is
    created, so create one per registry. ``buckets`` are the histogram's upper
    bounds in seconds (default: ``prometheus_client``'s).
    """

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        buckets: Sequence[float] | None = None,
    ) -> None:
        target = REGISTRY if registry is None else registry
        # prometheus_client appends "_total" to a counter's name itself.
        self.counters: dict[str, Counter] = {
            name: Counter(name.removesuffix("_total"), doc, LABEL_NAMES, registry=target)
            for name, doc in _COUNTERS.items()
        }
        self.duration: Histogram = Histogram(
            DURATION_SECONDS,
            "Run time of processes started by cuprum, in seconds.",
            LABEL_NAMES,
            registry=target,
            buckets=Histogram.DEFAULT_BUCKETS if buckets is None else tuple(buckets),
        )

    def inc_counter(self, name: str, value: float, labels: Mapping[str, str]) -> None:
        """Add ``value`` to the counter ``name`` for this label set."""
        self.counters[name].labels(**labels).inc(value)

    def observe_histogram(self, name: str, value: float, labels: Mapping[str, str]) -> None:
        """Observe ``value`` in the duration histogram for this label set."""
        self.duration.labels(**labels).observe(value)


def prometheus_hook(
    registry: CollectorRegistry | None = None,
    *,
    buckets: Sequence[float] | None = None,
) -> MetricsHook:
    """An observe hook that reports the ``cuprum_*`` metrics to ``registry``.

    ``with sh.observe(prometheus_hook()): ...``; the metrics then appear in
    ``generate_latest(registry)`` and on any exporter serving that registry.
    """
    return MetricsHook(PrometheusCollector(registry, buckets=buckets))
