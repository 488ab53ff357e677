"""Live line streaming (issue 6): lines per second through ``cmd.stream()``.

The producer is ``seq N`` (N = 10 million; ``--quick``: 2 million), which writes
short lines far faster than any consumer reads them, so the consumer's per-line
cost is what is measured. The baseline is the plain synchronous loop
``for line in proc.stdout`` over ``subprocess.Popen(..., text=True)``.

* ``stream.lines``: ``async for line in handle.stdout_lines()`` on asyncio; issue
  16's goal is 0.8x the baseline's lines/s, which is beyond the floor below.
* ``stream.batches``: ``async for batch in handle.stdout_batches()``; goal at least
  1.0x.
* ``stream.lines.trio``: the per-line form on trio, informational.
* ``stream.lines.pure``: the per-line form as a pure install runs it
  (``CUPRUM_STREAM_BACKEND=python``: an async generator hands out the lines, not
  the extension's cursor), informational.
* ``stream.floor`` / ``stream.floor.trio``: the ceiling of the pure form,
  informational: ``async for`` over an async generator handing out strings
  already in memory (no pipe, no decoding, no splitting), vs the same baseline.
  An async generator is the cheapest ``async for`` Python code can write; the
  extension's cursor goes below it by handing out each line from C.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator, Callable

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


def _floor(n: int, backend: str) -> Callable[[], None]:
    """``async for`` over ``n`` strings already in memory: the protocol's own cost."""
    pool = [str(i) for i in range(100_000)]
    rounds, rest = divmod(n, len(pool))

    async def lines() -> AsyncIterator[str]:
        for _ in range(rounds):
            for line in pool:
                yield line
        for line in pool[:rest]:
            yield line

    async def count() -> int:
        count = 0
        async for _line in lines():
            count += 1
        return count

    def run() -> None:
        assert anyio.run(count, backend=backend) == n

    return run


def _pure(run: Callable[[], None]) -> Callable[[], None]:
    """``run`` as a pure install would do it (``CUPRUM_STREAM_BACKEND=python``)."""

    def pure() -> None:
        before = os.environ.get("CUPRUM_STREAM_BACKEND")
        os.environ["CUPRUM_STREAM_BACKEND"] = "python"
        try:
            run()
        finally:
            if before is None:
                del os.environ["CUPRUM_STREAM_BACKEND"]
            else:
                os.environ["CUPRUM_STREAM_BACKEND"] = before

    return pure


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
            "pure": _pure(_stream(n, batched=False, backend="asyncio")),
            "floor": _floor(n, "asyncio"),
            "floor.trio": _floor(n, "trio"),
        },
        reps=reps,
        warmup=0,
    )
    what = f"seq {n}: {n / 1e6:.0f}M lines; vs `for line in Popen(text=True).stdout`"
    floor = "async for over an async generator of strings in memory ({}): the pure form's ceiling"
    rows = [  # (case, issue, sample, goal, what the contender does)
        ("stream.lines", 6, "lines", 0.8, "async for line in handle.stdout_lines()"),
        ("stream.batches", 6, "batches", 1.0, "async for batch in handle.stdout_batches()"),
        ("stream.lines.trio", 6, "trio", None, "stdout_lines() on trio"),
        ("stream.lines.pure", 6, "pure", None, "stdout_lines() as a pure install runs it"),
        ("stream.floor", 16, "floor", None, floor.format("asyncio")),
        ("stream.floor.trio", 16, "floor.trio", None, floor.format("trio")),
    ]
    return [
        Case.throughput_fraction(
            name,
            issue,
            samples[sample],
            samples["popen"],
            goal=goal,
            note=f"{does}; {what}",
            baseline_label="Popen loop",
        )
        for name, issue, sample, goal, does in rows
    ]


BENCHMARKS: dict[str, Callable[[bool], list[Case]]] = {"stream": bench_streaming}


def cases(quick: bool) -> list[Case]:
    return bench_streaming(quick)
