"""Live line streaming (issue 6): lines per second through ``cmd.stream()``.

The producer is ``seq N`` (N = 10 million; ``--quick``: 2 million), which writes
short lines far faster than any consumer reads them, so the consumer's per-line
cost is what is measured. The baseline is the plain synchronous loop
``for line in proc.stdout`` over ``subprocess.Popen(..., text=True)``.

* ``stream.lines``: ``async for line in handle.stdout_lines()`` on asyncio; goal
  at least 0.45x the baseline's lines/s (an async generator yielding one line at a
  time cannot get much closer).
* ``stream.batches``: ``async for batch in handle.stdout_batches()``; goal at least
  1.0x.
* ``stream.lines.trio``: the per-line form on trio, informational.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import anyio
from _harness import Case, bench_catalogue, interleaved

from cuprum import Program, sh

CATALOGUE = bench_catalogue("seq")
SEQ = sh.make(Program("seq"), catalogue=CATALOGUE)


def _popen_loop(n: int) -> None:
    count = 0
    with subprocess.Popen(["seq", str(n)], stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        for _line in proc.stdout:
            count += 1
    assert count == n


def _stream(n: int, *, batched: bool, backend: str) -> Callable[[], None]:
    cmd = SEQ(str(n))

    async def lines() -> int:
        count = 0
        async with cmd.stream() as handle:
            async for _line in handle.stdout_lines():
                count += 1
            await handle.wait()
        return count

    async def batches() -> int:
        count = 0
        async with cmd.stream() as handle:
            async for batch in handle.stdout_batches():
                count += len(batch)
            await handle.wait()
        return count

    def run() -> None:
        assert anyio.run(batches if batched else lines, backend=backend) == n

    return run


def bench_streaming(quick: bool) -> list[Case]:
    n = 2_000_000 if quick else 10_000_000
    reps = 3 if quick else 5
    samples = interleaved(
        {
            "popen": lambda: _popen_loop(n),
            "lines": _stream(n, batched=False, backend="asyncio"),
            "batches": _stream(n, batched=True, backend="asyncio"),
            "trio": _stream(n, batched=False, backend="trio"),
        },
        reps=reps,
        warmup=0,
    )
    what = f"seq {n}: {n / 1e6:.0f}M lines; vs `for line in Popen(text=True).stdout`"
    return [
        Case.throughput_fraction(
            "stream.lines",
            6,
            samples["lines"],
            samples["popen"],
            goal=0.45,
            note=f"async for line in handle.stdout_lines(); {what}",
            baseline_label="Popen loop",
        ),
        Case.throughput_fraction(
            "stream.batches",
            6,
            samples["batches"],
            samples["popen"],
            goal=1.0,
            note=f"async for batch in handle.stdout_batches(); {what}",
            baseline_label="Popen loop",
        ),
        Case.throughput_fraction(
            "stream.lines.trio",
            6,
            samples["trio"],
            samples["popen"],
            goal=None,
            note=f"stdout_lines() on trio; {what}",
            baseline_label="Popen loop",
        ),
    ]


BENCHMARKS: dict[str, Callable[[bool], list[Case]]] = {"stream": bench_streaming}


def cases(quick: bool) -> list[Case]:
    return bench_streaming(quick)
