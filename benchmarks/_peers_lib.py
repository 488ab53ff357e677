"""Shared pieces of the peers benchmark: optional imports, checked results, timing, rows.

A peer library (sh, plumbum, shellous, trio) is optional: :func:`peer` imports it
or gives the reason it is missing, and a missing peer is a ``SKIP`` entry of its
row, never an error. Every contender returns what it got; :func:`timed_rounds`
checks it, and a contender whose result is wrong is reported as ``WRONG`` (with
what it returned) instead of a time.
"""

from __future__ import annotations

import importlib
import logging
import statistics
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from _harness import Case, skipped

PEERS = ("sh", "plumbum", "shellous", "anyio", "trio")
# The library each peer needs (anyio is cuprum's own dependency, always there).
PEER_MODULES = {"sh": "sh", "plumbum": "plumbum", "shellous": "shellous", "trio": "trio"}


def peer(name: str) -> tuple[Any, str | None]:
    """``(module, None)``, or ``(None, reason)`` when the peer is not installed."""
    module_name = PEER_MODULES.get(name, name)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        return None, f"{module_name} not installed ({exc.__class__.__name__})"
    if name == "shellous":  # it logs slow spawns as warnings: noise in the report
        logging.getLogger("shellous").setLevel(logging.ERROR)
    return module, None


class Wrong(Exception):
    """A contender finished but returned the wrong result."""


def expect(got: object, want: object, what: str) -> None:
    if got != want:
        raise Wrong(f"{what}: got {got!r}, want {want!r}")


@dataclass
class Outcome:
    """Samples per contender plus the ones that could not be timed, and why."""

    samples: dict[str, list[float]] = field(default_factory=dict)
    wrong: dict[str, str] = field(default_factory=dict)
    skip: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)


Runner = Callable[[], None]
AsyncRunner = Callable[[], Awaitable[None]]
_R = TypeVar("_R")


def timed_rounds(
    contenders: Mapping[str, Runner | str],
    *,
    reps: int,
    warmup: int = 1,
    inner: int = 1,
    slow_s: float = float("inf"),
) -> Outcome:
    """Time each contender ``reps`` times, rotating the order each round.

    A ``str`` in place of a runner is a skip reason. A runner that raises
    :class:`Wrong` is ``WRONG``, one that raises anything else is ``FAILED`` --
    except cuprum, whose errors propagate. A contender whose sample took longer
    than ``slow_s`` keeps the samples it has and sits out the later rounds (a
    peer that needs a minute per run is not run five times).
    """
    out, live = _start(contenders)

    def once(name: str) -> float | None:
        start = time.perf_counter()
        try:
            for _ in range(inner):
                live[name]()
        except Exception as exc:
            _drop(out, live, name, exc)
            return None
        return (time.perf_counter() - start) / inner

    for i in range(-warmup, reps):
        for name in _order(live, i):
            sample = once(name)
            _keep(out, live, name, sample, i=i, slow_s=slow_s)
    return out


async def async_timed_rounds(
    contenders: Mapping[str, AsyncRunner | str],
    *,
    reps: int,
    warmup: int = 1,
    inner: int = 1,
    slow_s: float = float("inf"),
) -> Outcome:
    """:func:`timed_rounds` for coroutine functions, inside one running loop."""
    out, live = _start(contenders)
    for i in range(-warmup, reps):
        for name in _order(live, i):
            start = time.perf_counter()
            try:
                for _ in range(inner):
                    await live[name]()
            except Exception as exc:
                _drop(out, live, name, exc)
                continue
            sample = (time.perf_counter() - start) / inner
            _keep(out, live, name, sample, i=i, slow_s=slow_s)
    return out


def _start(contenders: Mapping[str, _R | str]) -> tuple[Outcome, dict[str, _R]]:
    out = Outcome()
    live: dict[str, _R] = {}
    for name, runner in contenders.items():
        if isinstance(runner, str):
            out.skip[name] = runner
        else:
            live[name] = runner
            out.samples[name] = []
    return out, live


def _order(live: Mapping[str, object], i: int) -> list[str]:
    names = list(live)
    k = max(i, 0) % max(len(names), 1)
    return names[k:] + names[:k]


def _drop(out: Outcome, live: dict[str, Any], name: str, exc: Exception) -> None:
    if name == "cuprum" and not isinstance(exc, Wrong):
        raise exc
    if isinstance(exc, Wrong):
        out.wrong[name] = str(exc)
    else:
        out.failed[name] = f"{type(exc).__name__}: {str(exc)[:120]}"
    del live[name]
    out.samples.pop(name, None)


def _keep(
    out: Outcome, live: dict[str, Any], name: str, sample: float | None, *, i: int, slow_s: float
) -> None:
    if sample is None or i < 0:
        return
    out.samples[name].append(sample)
    if sample > slow_s:
        del live[name]


def fmt_s(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.0f} us"


def peers_row(
    name: str,
    figures: Mapping[str, float],
    outcome: Outcome,
    *,
    what: str,
    fmt: Callable[[float], str] = fmt_s,
    reference: str | None = None,
    as_seconds: bool = True,
) -> Case:
    """One row: cuprum's figure over the best peer's (lower is better, goal 1.0).

    ``figures`` holds one number per contender that ran (a median time, a peak
    RSS...); ``reference`` names a non-peer contender (the standard library),
    shown in the details but never the best peer.
    """
    details: dict[str, str] = {}
    for who in ("cuprum", *PEERS, *([reference] if reference else [])):
        if who in figures:
            details[who] = fmt(figures[who])
        elif who in outcome.wrong:
            details[who] = f"WRONG ({outcome.wrong[who]})"
        elif who in outcome.failed:
            details[who] = f"FAILED ({outcome.failed[who]})"
        elif who in outcome.skip:
            details[who] = f"SKIP ({outcome.skip[who]})"
    ranked = sorted((v, p) for p, v in figures.items() if p in PEERS)
    if "cuprum" not in figures or not ranked:
        reason = "no peer could run" if "cuprum" in figures else "cuprum did not run"
        case = skipped(name, None, reason, goal=1.0)
        return _with(case, details)
    best_value, best = ranked[0]
    mine = figures["cuprum"]
    others = ", ".join(
        f"{p} {mine / figures[p]:.2f}x" if p in figures else f"{p} {details[p].split(' ')[0]}"
        for p in PEERS
        if p in details and p != best and not details[p].startswith("SKIP")
    )
    note = f"{what}; best peer {best}"
    if others:
        note += f"; cuprum vs {others}"
    if reference and reference in figures:
        note += f"; vs {reference} {mine / figures[reference]:.2f}x"
    reps = max((len(s) for s in outcome.samples.values()), default=0)
    return Case(
        name,
        None,
        mine if as_seconds else None,
        best_value if as_seconds else None,
        value=mine / best_value,
        goal=1.0,
        note=note,
        baseline_label=best,
        reps=reps,
        details=details,
        extra={f"{who}_value": v for who, v in figures.items()},
    )


def _with(case: Case, details: dict[str, str]) -> Case:
    data = {k: getattr(case, k) for k in case.__dataclass_fields__}
    data["details"] = details
    return Case(**data)


def medians(outcome: Outcome) -> dict[str, float]:
    return {n: statistics.median(s) for n, s in outcome.samples.items() if s}


def time_row(name: str, outcome: Outcome, *, what: str, reference: str | None = None) -> Case:
    return peers_row(name, medians(outcome), outcome, what=what, reference=reference)


def markdown(cases: list[dict[str, Any]]) -> str:
    """The peers' rows of a ``bench.json`` as a Markdown table, one column per contender."""
    rows = [c for c in cases if str(c["name"]).startswith("peers.")]
    refs = sorted({k for c in rows for k in c["details"] if k not in ("cuprum", *PEERS)})
    cols = ["cuprum", *PEERS]
    lines = [
        "| case | " + " | ".join(cols) + " | cuprum / best peer | status | reference |",
        "|---|" + "---|" * (len(cols) + 3),
    ]
    for c in rows:
        details = c["details"]
        cells = [_cell(details.get(who, "-")) for who in cols]
        ratio = "-" if c["value"] is None else f"{c['value']:.2f}x ({c['baseline_label']})"
        ref = ", ".join(f"`{r}` {details[r]}" for r in refs if r in details) or "-"
        lines.append(
            f"| {c['name']} | " + " | ".join(cells) + f" | {ratio} | {c['status']} | {ref} |"
        )
    return "\n".join(lines)


def _cell(text: str) -> str:
    """``SKIP (long reason)`` -> ``SKIP``; WRONG and FAILED keep a short reason."""
    if text.startswith("SKIP"):
        return "SKIP"
    if text.startswith(("WRONG", "FAILED")):
        return text[:60].replace("|", "/") + ("..." if len(text) > 60 else "")
    return text
