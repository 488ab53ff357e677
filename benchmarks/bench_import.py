"""Import cost (issue 2): ``python -c "import cuprum"`` minus ``python -c pass``.

Both are fresh interpreters (this venv's ``sys.executable``, same flags, same
environment), started alternately; the figure is the difference of the medians,
in milliseconds, against an absolute goal of 40 ms extra. An informational row
shows the same for ``import anyio, anyio.lowlevel`` (cuprum's only dependency).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

from _harness import Case, interleaved, median, spread

GOAL_MS = 40.0


def _starter(code: str) -> Callable[[], None]:
    argv = [sys.executable, "-c", code]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}

    def start() -> None:
        subprocess.run(argv, env=env, check=True)

    return start


def bench_import(quick: bool) -> list[Case]:
    samples = interleaved(
        {
            "cuprum": _starter("import cuprum"),
            "baseline": _starter("pass"),
            # cuprum's unavoidable floor: its one dependency, as the runtime imports it
            "anyio": _starter("import anyio, anyio.lowlevel"),
        },
        reps=30 if quick else 80,
        warmup=3,
    )
    with_import, bare = median(samples["cuprum"]), median(samples["baseline"])
    anyio_only = median(samples["anyio"])
    reps = len(samples["cuprum"])
    return [
        Case(
            "import.cuprum",
            2,
            with_import,
            bare,
            value=(with_import - bare) * 1e3,
            goal=GOAL_MS,
            unit="ms",
            note="extra ms of `import cuprum` over `python -c pass`",
            cuprum_label="python -c 'import cuprum'",
            baseline_label="python -c pass",
            reps=reps,
            extra=spread(samples["cuprum"], samples["baseline"]),
        ),
        Case(
            "import.anyio_floor",
            2,
            anyio_only,
            bare,
            value=(anyio_only - bare) * 1e3,
            unit="ms",
            note="informational: extra ms of `import anyio, anyio.lowlevel` alone",
            cuprum_label="python -c 'import anyio, anyio.lowlevel'",
            baseline_label="python -c pass",
            reps=reps,
            extra=spread(samples["anyio"], samples["baseline"]),
        ),
    ]


BENCHMARKS: dict[str, Callable[[bool], list[Case]]] = {
    "import.cuprum": bench_import,
}


def cases(quick: bool) -> list[Case]:
    return [case for bench in BENCHMARKS.values() for case in bench(quick)]
