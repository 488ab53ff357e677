"""Shared pieces of the benchmark suite: the ``Case`` record, interleaved timing, output.

Every case measures cuprum and a plain baseline *in the same run*, alternating
between them (A, B, B, A, A, B, ...) so that drift on a noisy machine (another
build starting, CPU frequency changes) hits both sides alike; the figure reported
for each side is the median over repetitions. Performance is measured here and
never asserted by the test suite.

A benchmark module plugs in by exposing ``cases(quick: bool) -> list[Case]``
(and optionally ``BENCHMARKS``, a mapping of name -> ``(quick) -> list[Case]``,
so that ``run_all.py --only`` can pick single benchmarks without running the rest).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from cuprum import Program, ProgramCatalogue, ProjectSettings

__all__ = [
    "RESULTS_DIR",
    "Case",
    "Status",
    "async_interleaved",
    "bench_catalogue",
    "format_table",
    "interleaved",
    "machine_info",
    "median",
    "skipped",
    "spread",
    "stream_backend",
    "write_json",
    "write_png",
]

RESULTS_DIR = Path(__file__).resolve().parent / "results"

Status = Literal["PASS", "MISS", "FAIL", "INFO", "SKIP", "ERROR"]
Unit = Literal["x", "ms"]


@dataclass(frozen=True, slots=True)
class Case:
    """One row of the report.

    ``cuprum_s`` and ``baseline_s`` are medians in seconds (per call, or per run
    for bulk cases). ``value`` is what is judged against ``goal``: by default
    ``cuprum_s / baseline_s`` (a time ratio, lower is better); a case may instead
    report a throughput fraction (``baseline_s / cuprum_s``, higher is better) or
    an absolute figure such as extra milliseconds (``unit="ms"``).

    ``limit`` is an optional hard bound looser than ``goal`` ("never worse than"):
    missing the goal but keeping within the limit is ``MISS``; beyond it, ``FAIL``.
    A case without a goal is informational (``INFO``); ``skip_reason`` marks a case
    that could not run here (``SKIP``) and ``error`` one that crashed (``ERROR``).
    ``details`` holds text per contender for multi-way cases (the peers' figures,
    ``WRONG``, ``SKIP``), kept in the JSON.
    """

    name: str
    issue: int | None
    cuprum_s: float | None
    baseline_s: float | None
    value: float | None = None
    goal: float | None = None
    lower_is_better: bool = True
    unit: Unit = "x"
    limit: float | None = None
    note: str = ""
    cuprum_label: str = "cuprum"
    baseline_label: str = "baseline"
    reps: int = 0
    skip_reason: str | None = None
    error: str | None = None
    extra: dict[str, float] = field(default_factory=dict)
    details: dict[str, str] = field(default_factory=dict)

    @classmethod
    def time_ratio(
        cls,
        name: str,
        issue: int | None,
        cuprum: Sequence[float],
        baseline: Sequence[float],
        *,
        goal: float | None,
        limit: float | None = None,
        note: str = "",
        cuprum_label: str = "cuprum",
        baseline_label: str = "baseline",
    ) -> Case:
        """``median(cuprum) / median(baseline)``; lower is better."""
        c, b = median(cuprum), median(baseline)
        return cls(
            name,
            issue,
            c,
            b,
            value=c / b,
            goal=goal,
            limit=limit,
            note=note,
            reps=min(len(cuprum), len(baseline)),
            cuprum_label=cuprum_label,
            baseline_label=baseline_label,
            extra=spread(cuprum, baseline),
        )

    @classmethod
    def throughput_fraction(
        cls,
        name: str,
        issue: int | None,
        cuprum: Sequence[float],
        baseline: Sequence[float],
        *,
        goal: float | None,
        note: str = "",
        cuprum_label: str = "cuprum",
        baseline_label: str = "baseline",
    ) -> Case:
        """Throughput of cuprum as a fraction of the baseline's for the same work:
        ``median(baseline) / median(cuprum)``; higher is better."""
        c, b = median(cuprum), median(baseline)
        return cls(
            name,
            issue,
            c,
            b,
            value=b / c,
            goal=goal,
            lower_is_better=False,
            note=note,
            reps=min(len(cuprum), len(baseline)),
            cuprum_label=cuprum_label,
            baseline_label=baseline_label,
            extra=spread(cuprum, baseline),
        )

    @property
    def status(self) -> Status:
        if self.error is not None:
            return "ERROR"
        if self.skip_reason is not None:
            return "SKIP"
        if self.goal is None or self.value is None:
            return "INFO"
        if self._meets(self.goal):
            return "PASS"
        if self.limit is not None and not self._meets(self.limit):
            return "FAIL"
        return "MISS"

    def _meets(self, bound: float) -> bool:
        assert self.value is not None
        return self.value <= bound if self.lower_is_better else self.value >= bound

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data["status"] = self.status
        return data


def skipped(
    name: str,
    issue: int | None,
    reason: str,
    *,
    goal: float | None = None,
    lower_is_better: bool = True,
) -> Case:
    """A row for a case that cannot run on this machine."""
    return Case(
        name,
        issue,
        None,
        None,
        goal=goal,
        lower_is_better=lower_is_better,
        skip_reason=reason,
        note=f"skipped: {reason}",
    )


def spread(cuprum: Sequence[float], baseline: Sequence[float]) -> dict[str, float]:
    """Quartiles of both sides (for judging noise; the JSON keeps them)."""
    out: dict[str, float] = {}
    for side, samples in (("cuprum", cuprum), ("baseline", baseline)):
        if len(samples) >= 2:
            q1, _, q3 = statistics.quantiles(samples, n=4, method="inclusive")
            out[f"{side}_q1_s"], out[f"{side}_q3_s"] = q1, q3
        out[f"{side}_min_s"], out[f"{side}_max_s"] = min(samples), max(samples)
    return out


def median(samples: Sequence[float]) -> float:
    if not samples:
        raise ValueError("no samples")
    return statistics.median(samples)


# -- timing -------------------------------------------------------------------


def _orders(names: Sequence[str], reps: int) -> Iterator[list[str]]:
    """Round ``i`` visits the contenders rotated by ``i`` (A,B / B,A / ... for two),
    so neither side always runs first, right after the other's garbage."""
    n = len(names)
    for i in range(reps):
        k = i % n
        yield list(names[k:]) + list(names[:k])


def interleaved(
    contenders: Mapping[str, Callable[[], object]],
    *,
    reps: int,
    warmup: int = 1,
    inner: int = 1,
) -> dict[str, list[float]]:
    """Time each contender ``reps`` times, interleaved; returns seconds per call.

    Each sample times ``inner`` back-to-back calls and divides by ``inner`` (for
    sub-millisecond work, so the timer and the interleaving do not dominate).
    ``warmup`` untimed rounds go first.
    """
    names = list(contenders)
    for _ in range(warmup):
        for name in names:
            for _ in range(inner):
                contenders[name]()
    samples: dict[str, list[float]] = {name: [] for name in names}
    clock = time.perf_counter
    for order in _orders(names, reps):
        for name in order:
            fn = contenders[name]
            start = clock()
            for _ in range(inner):
                fn()
            samples[name].append((clock() - start) / inner)
    return samples


async def async_interleaved(
    contenders: Mapping[str, Callable[[], Awaitable[object]]],
    *,
    reps: int,
    warmup: int = 1,
    inner: int = 1,
) -> dict[str, list[float]]:
    """:func:`interleaved` for coroutine functions, inside one running event loop."""
    names = list(contenders)
    for _ in range(warmup):
        for name in names:
            for _ in range(inner):
                await contenders[name]()
    samples: dict[str, list[float]] = {name: [] for name in names}
    clock = time.perf_counter
    for order in _orders(names, reps):
        for name in order:
            fn = contenders[name]
            start = clock()
            for _ in range(inner):
                await fn()
            samples[name].append((clock() - start) / inner)
    return samples


@contextlib.contextmanager
def stream_backend(value: str | None) -> Iterator[None]:
    """Set ``CUPRUM_STREAM_BACKEND`` (or unset it, for ``None``) for the block.

    cuprum reads the variable at each run, so this can switch per call.
    """
    key = "CUPRUM_STREAM_BACKEND"
    old = os.environ.get(key)
    if value is None:
        os.environ.pop(key, None)
    else:
        os.environ[key] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = old


def bench_catalogue(*programs: str) -> ProgramCatalogue:
    """A catalogue with one project, ``bench``, listing ``programs``."""
    return ProgramCatalogue(
        projects=(ProjectSettings("bench", tuple(Program(p) for p in programs)),)
    )


# -- output -------------------------------------------------------------------


def machine_info() -> dict[str, object]:
    import cuprum

    try:
        load = os.getloadavg()
    except OSError:
        load = (math.nan, math.nan, math.nan)
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "cuprum": cuprum.__version__,
        "rust_available": cuprum.is_rust_available(),
        "loadavg": [round(x, 2) for x in load],
    }


def _fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds >= 1:
        return f"{seconds:.3f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} us"


def _fmt_value(case: Case, value: float | None) -> str:
    if value is None:
        return "-"
    # one more digit when rounding would hide which side of the goal a value is on
    close = case.goal is not None and value != case.goal and abs(value - case.goal) < 0.005
    if case.unit == "ms":
        return f"{value:.1f} ms"
    return f"{value:.3f}x" if close else f"{value:.2f}x"


def _fmt_goal(case: Case) -> str:
    if case.goal is None:
        return "-"
    op = "<=" if case.lower_is_better else ">="
    text = f"{op} {_fmt_value(case, case.goal)}"
    if case.limit is not None:
        text += f" (max {_fmt_value(case, case.limit)})"
    return text


def format_table(cases: Sequence[Case]) -> str:
    """An aligned plain-text table: case, issue, cuprum, baseline, ratio, goal, status, note."""
    header = ("case", "issue", "cuprum", "baseline", "ratio", "goal", "status", "note")
    rows = [header]
    for c in cases:
        rows.append(
            (
                c.name,
                f"#{c.issue}" if c.issue is not None else "",
                _fmt_time(c.cuprum_s),
                _fmt_time(c.baseline_s),
                _fmt_value(c, c.value),
                _fmt_goal(c),
                c.status,
                c.error or c.note,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    lines = []
    for i, row in enumerate(rows):
        cells = [
            cell.ljust(w) if j in (0, 1, 5, 6) else cell.rjust(w)
            for j, (cell, w) in enumerate(zip(row[:-1], widths, strict=True))
        ]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths) + "  ----")
    return "\n".join(lines)


def write_json(
    path: Path, cases: Sequence[Case], *, quick: bool, machine: Mapping[str, object]
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "quick": quick,
        "machine": dict(machine),
        "cases": [c.to_json() for c in cases],
    }
    path.write_text(json.dumps(data, indent=2, allow_nan=False, default=str) + "\n")


_COLOURS: dict[Status, str] = {
    "PASS": "#2e7d32",
    "MISS": "#ef6c00",
    "FAIL": "#c62828",
    "INFO": "#1565c0",
    "SKIP": "#9e9e9e",
    "ERROR": "#6a1b9a",
}


def write_png(
    path: Path, cases: Sequence[Case], *, quick: bool, machine: Mapping[str, object]
) -> None:
    """One bar per case (its ratio or absolute value), a black tick at its goal,
    a dashed tick at its hard limit, coloured by status. Ratio-like cases and
    absolute (ms) cases get separate panels since their scales differ."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    panels: list[tuple[str, list[Case]]] = [
        ("ratio (x); goal tick per bar", [c for c in cases if c.unit == "x"]),
        ("extra ms", [c for c in cases if c.unit == "ms"]),
    ]
    panels = [(label, group) for label, group in panels if group]
    if not panels:
        return
    fig, axes = plt.subplots(
        1,
        len(panels),
        figsize=(max(6.0, 0.9 * len(cases) + 3.0), 5.5),
        gridspec_kw={"width_ratios": [max(len(g), 1.5) for _, g in panels]},
        squeeze=False,
    )
    for ax, (label, group) in zip(axes[0], panels, strict=True):
        xs = list(range(len(group)))
        values = [c.value if c.value is not None else 0.0 for c in group]
        bounds = [b for c in group for b in (c.goal, c.limit) if b is not None]
        # An outlier (say 10x) would flatten every other bar: clip the axis at a
        # few times the goals and label clipped bars with their real value.
        clip = max(2.5 * max(bounds, default=1.0), 1.2 * min(values, default=0.0))
        if group[0].unit == "ms":
            clip = max(clip, *values, 1e-9)
        heights = [min(v, clip) for v in values]
        bars = ax.bar(xs, heights, color=[_COLOURS[c.status] for c in group], width=0.6)
        for x, c, bar in zip(xs, group, bars, strict=True):
            if c.goal is not None:
                ax.hlines(c.goal, x - 0.4, x + 0.4, colors="black", linewidth=2.5, zorder=3)
            if c.limit is not None:
                ax.hlines(c.limit, x - 0.4, x + 0.4, colors="black", linestyles="dashed", zorder=3)
            text = c.status if c.value is None else _fmt_value(c, c.value)
            if c.value is not None and c.value > clip:
                text += " (clipped)"
            top_of = max(bar.get_height(), c.goal or 0.0, c.limit or 0.0)
            ax.annotate(
                text,
                (bar.get_x() + bar.get_width() / 2, top_of),
                xytext=(0, 3),
                textcoords="offset points",
                ha="center",
                fontsize=8,
            )
        ax.set_xticks(xs)
        ax.set_xticklabels([c.name for c in group], rotation=40, ha="right", fontsize=8)
        ax.set_ylabel(label)
        if group[0].unit == "x":
            ax.axhline(1.0, color="grey", linewidth=0.8, linestyle=":")
        top = max([*heights, *bounds, 1e-9])
        ax.set_ylim(0, top * 1.18)
    used = sorted({c.status for c in cases}, key=list(_COLOURS).index)
    fig.legend(
        handles=[Patch(color=_COLOURS[s], label=s) for s in used],
        loc="upper right",
        fontsize=8,
    )
    fig.suptitle(
        f"cuprum vs baseline ({'quick' if quick else 'full'} run, {machine.get('cpus')} cpus, "
        f"{str(machine.get('date', ''))[:10]})",
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0, 0.93, 0.95))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
