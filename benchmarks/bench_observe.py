"""Observed pipelines: ``stage_events=True`` with a line-counting observer (issue 16).

    python benchmarks/run_all.py --only observe [--quick]
    python benchmarks/bench_observe.py [--quick]

The pipeline is ``cat FILE | cat | wc -l`` over a file of short lines (50 MB;
``--quick``: 8 MB), so both hops carry every line. Each run checks ``wc``'s
count, and each observed run checks that its observer counted every line of
both hops. Contenders, interleaved round by round:

* ``unobserved``: the same pipeline without observers (``direct`` hops);
* ``batches``: ``stage_events=True`` with a counter registered through
  ``sh.observe_batches`` (the default strategy: ``rust`` with the extension);
* ``batches, python``: the same with ``CUPRUM_STREAM_BACKEND=python``;
* ``per-line``: ``stage_events=True`` with an observe hook that counts its
  ``stdout`` events (one ``ExecEvent`` per line), and ``per-line, python`` the
  same with ``CUPRUM_STREAM_BACKEND=python`` (everything done in Python, as on a
  pure install);
* ``bash tee``: ``bash -c 'cat F | tee >(wc -l >&2) | cat | tee >(wc -l >&2) | wc -l'``,
  the shell's way of counting each hop's lines as they pass.

Rows: ``observe.vs_unobserved`` (goal <= 3x), ``observe.vs_bash_tee``,
``observe.native_vs_pure`` (throughput of the native install over the pure one
on the same row) and ``observe.per_line`` / ``observe.per_line_pure`` (the cost
of per-line events: the per-line run minus the batch run, per line, less the
counting hook's own call timed alone, as a fraction of the 0.3 us goal).
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _harness import Case, bench_catalogue, interleaved, skipped, stream_backend

import cuprum
from cuprum import ExecEvent, Pipeline, Program, sh

CATALOGUE = bench_catalogue("cat", "wc")
#: Per-line goal, in seconds: what building and delivering one ExecEvent may cost.
PER_LINE_GOAL_S = 0.3e-6


@functools.cache
def _data_file(megabytes: int) -> tuple[Path, int]:
    """A file of short lines (``item 0000123\\n``, 13 bytes) and its line count."""
    line_count = megabytes * 1_000_000 // 13
    path = Path(tempfile.gettempdir()) / f"cuprum-bench-observe-{megabytes}mb-{os.getuid()}.txt"
    if not path.exists() or path.stat().st_size != 13 * line_count:
        with path.open("w") as out:
            for start in range(0, line_count, 100_000):
                stop = min(line_count, start + 100_000)
                out.write("".join(f"item {i % 10_000_000:07d}\n" for i in range(start, stop)))
    return path, line_count


def _pipeline(path: Path) -> Pipeline:
    cat = sh.make(Program("cat"), catalogue=CATALOGUE)
    wc = sh.make(Program("wc"), catalogue=CATALOGUE)
    return cat(str(path)) | cat() | wc("-l")


class _Counter:
    """Counts the lines of every intermediate stage it hears about."""

    def __init__(self) -> None:
        self.lines = 0

    def on_event(self, ev: ExecEvent) -> None:
        if ev.phase == "stdout" and ev.tags.get("pipeline_stage_index") != 2:
            self.lines += 1

    def on_batch(self, batch: Any) -> None:
        if batch.phase == "stdout" and batch.tags.get("pipeline_stage_index") != 2:
            self.lines += batch.count


def _runner(path: Path, lines: int, *, mode: str, backend: str | None) -> Callable[[], None]:
    """One contender: ``mode`` is ``unobserved``, ``batches`` or ``per-line``."""
    pipeline = _pipeline(path)
    batches = getattr(sh, "observe_batches", None)

    def run() -> None:
        counter = _Counter()
        with stream_backend(backend):
            if mode == "unobserved":
                result = pipeline.run_sync()
            elif mode == "batches" and batches is not None:
                with batches(counter.on_batch):
                    result = pipeline.run_sync(stage_events=True)
            else:  # per-line (or batches before the batch API existed)
                with sh.observe(counter.on_event):
                    result = pipeline.run_sync(stage_events=True)
        assert result.ok, result
        assert int(str(result.stdout)) == lines, result.stdout
        if mode != "unobserved":
            assert counter.lines == 2 * lines, (counter.lines, 2 * lines)

    return run


def _bash_tee(path: Path, lines: int) -> Callable[[], None]:
    script = f"cat '{path}' | tee >(wc -l >&2) | cat | tee >(wc -l >&2) | wc -l"

    def run() -> None:
        done = subprocess.run(["bash", "-c", script], capture_output=True, check=True)
        assert int(done.stdout) == lines, done.stdout
        counts = [int(x) for x in done.stderr.split()]
        assert counts == [lines, lines], counts

    return run


def _hook_call_s(calls: int = 200_000) -> float:
    """Seconds per call of the counting hook alone, with a ready-made line event: the
    hook's own work, which the per-line figure does not charge to cuprum."""
    import time

    counter = _Counter()
    event = ExecEvent(
        "stdout", "cat", ("cat",), None, None, {"pipeline_stage_index": 0}, 0.0, 1, "x"
    )
    hook = counter.on_event
    start = time.perf_counter()
    for _ in range(calls):
        hook(event)
    return (time.perf_counter() - start) / calls


def measure(quick: bool) -> dict[str, list[float]]:
    path, lines = _data_file(8 if quick else 50)
    contenders: dict[str, Callable[[], None]] = {
        "unobserved": _runner(path, lines, mode="unobserved", backend=None),
        "batches": _runner(path, lines, mode="batches", backend=None),
        "batches, python": _runner(path, lines, mode="batches", backend="python"),
        "per-line": _runner(path, lines, mode="per-line", backend=None),
        "per-line, python": _runner(path, lines, mode="per-line", backend="python"),
        "bash tee": _bash_tee(path, lines),
    }
    samples = interleaved(contenders, reps=5, warmup=1)
    samples["lines"] = [float(lines)]
    samples["hook call"] = [_hook_call_s() for _ in range(3)]
    return samples


def cases(quick: bool) -> list[Case]:
    return rows(measure(quick), quick)


def rows(samples: dict[str, list[float]], quick: bool) -> list[Case]:
    """The report's rows from one run's samples."""
    lines = int(samples["lines"][0])
    size = "8 MB" if quick else "50 MB"
    what = f"cat {size} of short lines | cat | wc -l, stage_events=True, a line counter"
    native = cuprum.is_rust_available()
    out = [
        Case.time_ratio(
            "observe.vs_unobserved",
            16,
            samples["batches"],
            samples["unobserved"],
            goal=3.0,
            note=f"{what}; batch observer vs no observer",
            cuprum_label="observed",
            baseline_label="unobserved",
        ),
        Case.time_ratio(
            "observe.vs_bash_tee",
            16,
            samples["batches"],
            samples["bash tee"],
            goal=None,
            note=f"{what}; vs bash tee >(wc -l) on each hop",
            cuprum_label="observed",
            baseline_label="bash tee",
        ),
    ]
    if native:
        out.append(
            Case.throughput_fraction(
                "observe.native_vs_pure",
                16,
                samples["batches"],
                samples["batches, python"],
                goal=1.0,
                note=f"{what}; rust strategy's speed over the python strategy's",
                cuprum_label="rust",
                baseline_label="python",
            )
        )
    else:
        reason = "native extension not installed"
        out.append(skipped("observe.native_vs_pure", 16, reason, goal=1.0, lower_is_better=False))
    hook_call = _median(samples["hook call"])
    for name, per_line_side, batch_side, label in (
        ("observe.per_line", "per-line", "batches", "the native install"),
        ("observe.per_line_pure", "per-line, python", "batches, python", "the pure path"),
    ):
        extra = _median(samples[per_line_side]) - _median(samples[batch_side])
        per_line = max(0.0, extra / (2 * lines) - hook_call)
        out.append(
            Case(
                name,
                16,
                _median(samples[per_line_side]),
                _median(samples[batch_side]),
                value=per_line / PER_LINE_GOAL_S,
                goal=1.0,
                note=(
                    f"{label}: {per_line * 1e6:.3f} us per line for per-line events, above "
                    f"the hook's own {hook_call * 1e6:.3f} us (x of the 0.3 us goal)"
                ),
                cuprum_label="per-line hook",
                baseline_label="batch observer",
                reps=len(samples[per_line_side]),
            )
        )
    return out


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


BENCHMARKS: dict[str, Callable[[bool], list[Case]]] = {"observe": cases}


def main() -> int:
    from _harness import format_table

    quick = "--quick" in sys.argv[1:]
    samples = measure(quick)
    for name, values in samples.items():
        if name != "lines":
            low, high, mid = min(values), max(values), _median(values)
            print(f"{name:18} median {mid:.4f} s  min {low:.4f}  max {high:.4f}")
    print(format_table(rows(samples, quick)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
