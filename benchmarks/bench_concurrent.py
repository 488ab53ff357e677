"""Many short commands with bounded concurrency (issue 3).

``run_concurrent.sleep``: 200 commands ``sleep 0.05`` at concurrency 16 through
``run_concurrent_sync`` vs ``xargs -P 16 -n 1 sleep`` fed 200 lines ``0.05``.

Why the baseline is fair: xargs execs ``sleep 0.05`` itself (no shell in
between), exactly 200 times (``-n 1``: one argument per command), keeping 16
running and starting the next as soon as one is reaped -- the same work and
the same scheduling as cuprum's limiter. The ideal is ceil(200/16) = 13 waves of
50 ms = 0.65 s plus the cost of 200 fork/execs on 2 cores. ``-t`` makes xargs
echo each command to stderr, which is how the run checks that it really
started 200 processes. The children inherit xargs' stdout/stderr (pipes read
by ``subprocess.run``), while cuprum gives each command its own stdout/stderr
pipes (its default ``capture=True``) -- extra work that is part of what cuprum
offers, so it is left in.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable

from _harness import Case, bench_catalogue, interleaved

from cuprum import ConcurrentConfig, Program, run_concurrent_sync, sh

CATALOGUE = bench_catalogue("sleep")
COUNT = 200
CONCURRENCY = 16
DELAY = "0.05"


def bench_sleep(quick: bool) -> list[Case]:
    sleep = sh.make(Program("sleep"), catalogue=CATALOGUE)
    commands = [sleep(DELAY) for _ in range(COUNT)]
    config = ConcurrentConfig(concurrency=CONCURRENCY)

    def cuprum_call() -> None:
        result = run_concurrent_sync(*commands, config=config)
        assert result.ok
        assert len(result.results) == COUNT

    feed = f"{DELAY}\n".encode() * COUNT
    argv = ["xargs", "-t", "-P", str(CONCURRENCY), "-n", "1", "sleep"]

    def baseline_call() -> None:
        result = subprocess.run(argv, input=feed, capture_output=True, check=False)
        assert result.returncode == 0
        assert result.stderr.count(b"\n") == COUNT, result.stderr[-200:]

    samples = interleaved(
        {"cuprum": cuprum_call, "baseline": baseline_call},
        reps=5 if quick else 11,
        warmup=1,
    )
    return [
        Case.time_ratio(
            "run_concurrent.sleep",
            3,
            samples["cuprum"],
            samples["baseline"],
            goal=1.1,
            note=f"{COUNT} x sleep {DELAY}, concurrency {CONCURRENCY}; vs xargs -P {CONCURRENCY}",
            baseline_label="xargs -P",
        )
    ]


BENCHMARKS: dict[str, Callable[[bool], list[Case]]] = {
    "concurrent.sleep": bench_sleep,
}


def cases(quick: bool) -> list[Case]:
    return [case for bench in BENCHMARKS.values() for case in bench(quick)]
