"""Run the benchmark suite: cuprum against a plain baseline, as ratios.

    python benchmarks/run_all.py [--quick] [--only NAME ...] [--list] [--json PATH]

Prints a table, writes ``benchmarks/results/bench.json`` and ``bench.png``.
Missing a goal is reported, never an error: the exit status is non-zero only
when a benchmark crashed.

Benchmarks are found in every ``benchmarks/bench_*.py`` that exposes
``cases(quick: bool) -> list[Case]``; a module may also expose ``BENCHMARKS``
(name -> ``(quick) -> list[Case]``) so ``--only`` can select parts of it. A
``bench_*.py`` without ``cases`` (a standalone script) is listed as skipped.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from _harness import (  # noqa: E402
    RESULTS_DIR,
    Case,
    format_table,
    machine_info,
    skipped,
    write_json,
    write_png,
)

BenchFn = Callable[[bool], list[Case]]

# The built-in modules run first, in this order; any other bench_*.py follows.
BUILTIN = ("bench_runtime", "bench_pipeline", "bench_concurrent", "bench_import")


def _module_names() -> list[str]:
    found = sorted(p.stem for p in HERE.glob("bench_*.py"))
    return [m for m in BUILTIN if m in found] + [m for m in found if m not in BUILTIN]


def discover() -> list[tuple[str, BenchFn]]:
    """``(name, function)`` for every benchmark, in run order."""
    benches: list[tuple[str, BenchFn]] = []
    for module_name in _module_names():
        short = module_name.removeprefix("bench_")
        try:
            module: ModuleType = importlib.import_module(module_name)
        except Exception as exc:
            message = f"import failed: {type(exc).__name__}: {exc}"
            benches.append((short, _error_bench(short, message)))
            continue
        table = getattr(module, "BENCHMARKS", None)
        entry = getattr(module, "cases", None)
        if isinstance(table, dict):
            benches += [(str(name), fn) for name, fn in table.items()]
        elif callable(entry):
            benches.append((short, entry))
        else:
            benches.append((short, _skip_bench(short, f"{module_name}.py has no cases(quick)")))
    return benches


def _error_bench(name: str, message: str) -> BenchFn:
    def bench(quick: bool) -> list[Case]:
        return [Case(name, None, None, None, error=message)]

    return bench


def _skip_bench(name: str, reason: str) -> BenchFn:
    def bench(quick: bool) -> list[Case]:
        return [skipped(name, None, reason)]

    return bench


def run(benches: Sequence[tuple[str, BenchFn]], *, quick: bool) -> list[Case]:
    cases: list[Case] = []
    for name, bench in benches:
        print(f"running {name} ...", end=" ", file=sys.stderr, flush=True)
        start = time.perf_counter()
        try:
            produced = bench(quick)
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            produced = [Case(name, None, None, None, error=f"{type(exc).__name__}: {exc}")]
        print(f"{time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
        cases += produced
    return cases


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repetitions")
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help="run benchmarks whose name contains NAME (repeatable)",
    )
    parser.add_argument("--list", action="store_true", help="list benchmark names and exit")
    parser.add_argument(
        "--json",
        type=Path,
        default=RESULTS_DIR / "bench.json",
        metavar="PATH",
        help="where to write the JSON results (default: %(default)s)",
    )
    parser.add_argument(
        "--png",
        type=Path,
        default=None,
        metavar="PATH",
        help="where to write the bar chart (default: next to the JSON, bench.png)",
    )
    parser.add_argument("--no-png", action="store_true", help="do not draw the chart")
    args = parser.parse_args(argv)

    benches = discover()
    if args.list:
        for name, _ in benches:
            print(name)
        return 0
    if args.only:
        benches = [(n, fn) for n, fn in benches if any(pat in n for pat in args.only)]
        if not benches:
            parser.error(f"no benchmark matches {args.only}; see --list")

    machine = machine_info()
    started = time.perf_counter()
    cases = run(benches, quick=args.quick)
    machine["wall_s"] = round(time.perf_counter() - started, 1)
    machine["loadavg_end"] = machine_info()["loadavg"]

    print()
    print(format_table(cases))
    print(
        f"\n{'quick' if args.quick else 'full'} run, {machine['cpus']} cpus, "
        f"python {machine['python']}, load {machine['loadavg']} -> {machine['loadavg_end']}, "
        f"{machine['wall_s']} s"
    )
    write_json(args.json, cases, quick=args.quick, machine=machine)
    print(f"wrote {args.json}")
    if not args.no_png:
        png = args.png if args.png is not None else args.json.with_name("bench.png")
        write_png(png, cases, quick=args.quick, machine=machine)
        print(f"wrote {png}")
    return 1 if any(c.status == "ERROR" for c in cases) else 0


if __name__ == "__main__":
    sys.exit(main())
