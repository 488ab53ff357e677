"""Import cost (issue 2) and "ready to run" (issue 16), in fresh interpreters.

``python -c "import cuprum"`` minus ``python -c pass``: every contender is a fresh
interpreter (this venv's ``sys.executable``, same flags, same environment), started
in turn; the figure is the difference of the medians, in milliseconds, against an
absolute goal of 40 ms extra. An informational row shows the same for ``import
anyio, anyio.lowlevel`` (cuprum's only dependency).

``ready.cuprum``: importing cuprum, building a command and one ``run_sync()`` of
``true`` (the peers' "ready" row), goal 45 ms extra. Informational rows say where
the floor is: ``ready.stdlib``, the standard library such a run loads (``typing``,
``dataclasses``, ``enum``, ``re``, ``subprocess``...) and one ``subprocess.run``;
``ready.subprocess``, one ``subprocess.run`` alone; and ``ready.anyio_asyncio``, one
``anyio.run`` on asyncio (what a run on the event loop starts from; a ``run_sync()``
of one command needs none). Each row keeps the children's CPU
time too (``cpu_ms``, less sensitive to a busy machine than the wall time).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from collections.abc import Callable

from _harness import Case, interleaved, median, spread

GOAL_MS = 40.0


READY_GOAL_MS = 45.0
READY = (
    "from cuprum import Program, ProgramCatalogue, ProjectSettings, sh\n"
    "c = ProgramCatalogue(projects=(ProjectSettings('b', (Program('true'),)),))\n"
    "assert sh.make(Program('true'), catalogue=c)().run_sync().exit_code == 0"
)
CODES = {
    "cuprum": "import cuprum",
    "baseline": "pass",
    # cuprum's unavoidable floor: its one dependency, as the runtime imports it
    "anyio": "import anyio, anyio.lowlevel",
    "ready": READY,
    "ready_floor": "import anyio, anyio.lowlevel; anyio.run(anyio.lowlevel.checkpoint)",
    "ready_subprocess": "import subprocess; subprocess.run(['true'], capture_output=True)",
    "ready_stdlib": (
        "import typing, dataclasses, enum, re, subprocess, contextvars, select, signal, "
        "threading, functools, collections.abc; subprocess.run(['true'], capture_output=True)"
    ),
}
_CPU: dict[str, list[float]] = {}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _starter(who: str, code: str) -> Callable[[], None]:
    argv = [sys.executable, "-c", code]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    cpu = _CPU.setdefault(who, [])

    def start() -> None:
        before = _children_cpu()
        subprocess.run(argv, env=env, check=True)
        cpu.append(_children_cpu() - before)

    return start


def _row(
    name: str, who: str, samples: dict[str, list[float]], *, goal: float | None, note: str
) -> Case:
    mine, bare = median(samples[who]), median(samples["baseline"])
    extra = spread(samples[who], samples["baseline"])
    extra["cpu_ms"] = (median(_CPU[who]) - median(_CPU["baseline"])) * 1e3
    return Case(
        name,
        16 if name.startswith("ready") else 2,
        mine,
        bare,
        value=(mine - bare) * 1e3,
        goal=goal,
        unit="ms",
        note=f"{note}; children's CPU +{extra['cpu_ms']:.1f} ms",
        cuprum_label=f"python -c {CODES[who].splitlines()[0]!r}",
        baseline_label="python -c pass",
        reps=len(samples[who]),
        extra=extra,
    )


def bench_import(quick: bool) -> list[Case]:
    _CPU.clear()
    samples = interleaved(
        {who: _starter(who, code) for who, code in CODES.items()},
        reps=20 if quick else 60,
        warmup=3,
    )
    return [
        _row("import.cuprum", "cuprum", samples, goal=GOAL_MS, note="extra ms of `import cuprum`"),
        _row(
            "import.anyio_floor",
            "anyio",
            samples,
            goal=None,
            note="informational: extra ms of `import anyio, anyio.lowlevel` alone",
        ),
        _row(
            "ready.cuprum",
            "ready",
            samples,
            goal=READY_GOAL_MS,
            note="extra ms of importing cuprum and one run_sync() of `true`",
        ),
        _row(
            "ready.anyio_asyncio",
            "ready_floor",
            samples,
            goal=None,
            note="informational: one anyio.run on asyncio (loop + anyio's backend)",
        ),
        _row(
            "ready.stdlib",
            "ready_stdlib",
            samples,
            goal=None,
            note="informational floor: the standard library cuprum loads, one subprocess.run",
        ),
        _row(
            "ready.subprocess",
            "ready_subprocess",
            samples,
            goal=None,
            note="informational: one subprocess.run of `true`",
        ),
    ]


BENCHMARKS: dict[str, Callable[[bool], list[Case]]] = {
    "import.cuprum": bench_import,
}


def cases(quick: bool) -> list[Case]:
    return [case for bench in BENCHMARKS.values() for case in bench(quick)]
