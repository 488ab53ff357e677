"""What containment costs: ``run_sync()`` of ``true`` in a cgroup of its own, or not.

* ``containment.run_sync.native``: ``cmd.run_sync(context=ExecutionContext(
  contain=True))`` with the native extension (``clone3`` straight into a fresh
  cgroup, ``wait4``, ``cpu.stat``, ``rmdir``) vs the same call with
  ``contain=False`` (process group only). Goal: at most 1.15.
* ``containment.run_sync.pure``: the same with the native spawn switched off
  (the host visits the cgroup around ``Popen``); informational.
* ``containment.vs_subprocess``: the contained call vs ``subprocess.run(["true"],
  capture_output=True)``; informational.

All four contenders are interleaved in one loop (``--quick``: 400 calls each,
else 2000), so each figure is a median over the same stretch of machine time.
Skipped where cuprum may not create cgroups (no cgroup v2, no permission).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable

from _harness import Case, bench_catalogue, interleaved, skipped

from cuprum import ExecutionContext, Program, sh
from cuprum._runtime import contain

CATALOGUE = bench_catalogue("true")
TRUE = sh.make(Program("true"), catalogue=CATALOGUE)
ON = ExecutionContext(contain=True)
OFF = ExecutionContext(contain=False)


def _with_native(flag: bool) -> Callable[[], None]:
    cmd = TRUE()

    def call() -> None:
        contain._native[:] = [flag]
        try:
            result = cmd.run_sync(context=ON)
        finally:
            contain._native.clear()
        assert result.exit_code == 0

    return call


def bench_contained_run_sync(quick: bool) -> list[Case]:
    support = contain.support()
    names = (
        "containment.run_sync.native",
        "containment.run_sync.pure",
        "containment.vs_subprocess",
    )
    if not support.available:
        return [skipped(name, None, f"no run cgroups here: {support.reason}") for name in names]
    cmd = TRUE()

    def uncontained() -> None:
        assert cmd.run_sync(context=OFF).exit_code == 0

    def baseline() -> None:
        assert subprocess.run(["true"], capture_output=True, check=False).returncode == 0

    contenders: dict[str, Callable[[], object]] = {
        "off": uncontained,
        "pure": _with_native(False),
        "subprocess": baseline,
    }
    native = contain.native_available()
    if native:
        contenders["native"] = _with_native(True)
    samples = interleaved(contenders, reps=20 if quick else 100, inner=20, warmup=2)
    cases = []
    if native:
        cases.append(
            Case.time_ratio(
                names[0],
                None,
                samples["native"],
                samples["off"],
                goal=1.15,
                note="contain=True (clone3 into a fresh cgroup) vs contain=False",
                cuprum_label="contained",
                baseline_label="process group",
            )
        )
    else:
        cases.append(skipped(names[0], None, "the native extension is not installed"))
    cases.append(
        Case.time_ratio(
            names[1],
            None,
            samples["pure"],
            samples["off"],
            goal=None,
            note="contain=True without the extension (visit the cgroup around Popen)",
            cuprum_label="contained",
            baseline_label="process group",
        )
    )
    best = samples["native"] if native else samples["pure"]
    cases.append(
        Case.time_ratio(
            names[2],
            None,
            best,
            samples["subprocess"],
            goal=None,
            note="contained run_sync() vs subprocess.run(capture_output=True)",
            cuprum_label="contained",
            baseline_label="subprocess.run",
        )
    )
    return cases


BENCHMARKS: dict[str, Callable[[bool], list[Case]]] = {
    "containment.run_sync": bench_contained_run_sync,
}


def cases(quick: bool) -> list[Case]:
    return [case for bench in BENCHMARKS.values() for case in bench(quick)]
