"""Throughput of the native pump against a direct kernel pipe.

Run: ``python benchmarks/bench_pump.py [--size-mib N] [--repeat R] [--json]``

Every case moves N MiB (default 1024) from ``head -c N /dev/zero`` to ``cat``
(whose output goes to /dev/null), with both pipes set to 64 KiB and then 1 MiB
(``F_SETPIPE_SZ``):

* ``direct``: one kernel pipe between the two processes (the ceiling);
* ``pump splice``: ``head`` -> pipe -> ``rust_pump_stream`` -> pipe -> ``cat``;
* ``pump copy``: the same with the read/write fallback forced
  (the extension's private ``_pump_in_mode("copy", ...)``);
* ``rust_relay``: the same through ``cuprum._transport.rust.rust_relay`` (asyncio);
* ``rust_relay+tap``: ``rust_relay`` with ``on_chunk``: the parent sees every byte;
* ``python_relay+tap``: the pure-Python relay with ``on_chunk``, when importable.

Each run is bounded by ``--timeout`` seconds (the pump is stopped through its
``stop_fd``, the relays by a cancel scope); a case that times out is dropped
from later rounds. Cases run round-robin and the median of ``--repeat`` runs
is reported, with the CPU time the parent process itself spent (user + system:
the pump thread and the event loop) and the CPU time of the whole run (parent
plus ``head`` and ``cat``). CPU time is steadier than wall-clock time on a busy
machine, and on a machine with fewer cores than busy processes (two cores here:
``head``, ``cat``, the pump thread and the event loop) the whole run's CPU
time is what bounds throughput.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import anyio

if TYPE_CHECKING:
    from _harness import Case

F_SETPIPE_SZ: int = getattr(fcntl, "F_SETPIPE_SZ", 1031)
PIPE_SIZES = (64 * 1024, 1024 * 1024)
MIB = 1 << 20

Relay = Callable[..., Awaitable[int]]


class Sample(NamedTuple):
    """One run: wall-clock seconds; CPU seconds of this (parent) process and of the
    whole run (parent plus the children it reaped)."""

    wall: float
    cpu: float
    total_cpu: float


class _Clock:
    def __init__(self) -> None:
        self.wall = time.perf_counter()
        self.cpu = _cpu(resource.RUSAGE_SELF)
        self.children = _cpu(resource.RUSAGE_CHILDREN)

    def sample(self) -> Sample:
        cpu = _cpu(resource.RUSAGE_SELF) - self.cpu
        children = _cpu(resource.RUSAGE_CHILDREN) - self.children
        return Sample(time.perf_counter() - self.wall, cpu, cpu + children)


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


class CaseTimeout(Exception):
    """A run did not finish within the time budget."""


def _pipe(size: int) -> tuple[int, int]:
    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, F_SETPIPE_SZ, size)
    return read_end, write_end


def _head(nbytes: int, stdout: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(["head", "-c", str(nbytes), "/dev/zero"], stdout=stdout)


def _cat(stdin: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(["cat"], stdin=stdin, stdout=subprocess.DEVNULL)


def _reap(procs: list[subprocess.Popen[bytes]], deadline: float) -> None:
    for proc in procs:
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            for other in procs:
                other.kill()
                other.wait()
            raise CaseTimeout from None
    bad = [p.args for p in procs if p.returncode != 0]
    if bad:
        raise RuntimeError(f"child failed: {bad}")


def run_direct(nbytes: int, pipe_size: int, timeout: float) -> Sample:
    clock = _Clock()
    deadline = time.monotonic() + timeout
    read_end, write_end = _pipe(pipe_size)
    procs = [_head(nbytes, write_end), _cat(read_end)]
    os.close(read_end)
    os.close(write_end)
    _reap(procs, deadline)
    return clock.sample()


def _through_parent(
    nbytes: int, pipe_size: int, timeout: float, move: Callable[[int, int, float], int]
) -> Sample:
    """head -> pipe A -> move(A, B) in this process -> pipe B -> cat."""
    clock = _Clock()
    deadline = time.monotonic() + timeout
    a_r, a_w = _pipe(pipe_size)
    b_r, b_w = _pipe(pipe_size)
    procs = [_head(nbytes, a_w), _cat(b_r)]
    os.close(a_w)
    os.close(b_r)
    try:
        moved = move(a_r, b_w, deadline)
    except BaseException:
        for proc in procs:
            proc.kill()
        raise
    finally:
        os.close(a_r)
        os.close(b_w)
    _reap(procs, deadline)
    if moved != nbytes:
        raise RuntimeError(f"moved {moved} bytes, expected {nbytes}")
    return clock.sample()


def pump_case(mode: Literal["auto", "splice", "copy"]) -> Callable[[int, int, float], Sample]:
    from cuprum._transport.native import module

    native = module()._pump_in_mode

    def run(nbytes: int, pipe_size: int, timeout: float) -> Sample:
        def move(reader: int, writer: int, deadline: float) -> int:
            stop_r, stop_w = os.pipe()
            timer = threading.Timer(max(0.0, deadline - time.monotonic()), os.write, (stop_w, b"x"))
            timer.start()
            try:
                return int(native(mode, reader, writer, buffer_size=pipe_size, stop_fd=stop_r))
            except InterruptedError:
                raise CaseTimeout from None
            finally:
                timer.cancel()
                timer.join()
                os.close(stop_r)
                os.close(stop_w)

        return _through_parent(nbytes, pipe_size, timeout, move)

    return run


def relay_case(relay: Relay, *, tap: bool) -> Callable[[int, int, float], Sample]:
    def run(nbytes: int, pipe_size: int, timeout: float) -> Sample:
        seen = [0]

        def on_chunk(chunk: bytes) -> None:
            seen[0] += len(chunk)

        def move(reader: int, writer: int, deadline: float) -> int:
            os.set_blocking(reader, False)
            os.set_blocking(writer, False)

            async def main() -> int:
                with anyio.move_on_after(max(0.0, deadline - time.monotonic())):
                    return await relay(
                        reader, writer, on_chunk=on_chunk if tap else None, buffer_size=pipe_size
                    )
                raise CaseTimeout

            moved = anyio.run(main, backend="asyncio")
            if tap and seen[0] != moved:
                raise RuntimeError(f"tap saw {seen[0]} bytes of {moved}")
            return moved

        return _through_parent(nbytes, pipe_size, timeout, move)

    return run


def build_cases() -> list[tuple[str, Callable[[int, int, float], Sample]]]:
    from cuprum._transport.rust import rust_relay

    cases: list[tuple[str, Callable[[int, int, float], Sample]]] = [
        ("direct", run_direct),
        ("pump splice", pump_case("splice")),
        ("pump copy", pump_case("copy")),
        ("rust_relay", relay_case(rust_relay, tap=False)),
        ("rust_relay+tap", relay_case(rust_relay, tap=True)),
    ]
    try:
        from cuprum._transport.python import python_relay
    except ImportError:
        pass
    else:
        cases.append(("python_relay+tap", relay_case(python_relay, tap=True)))
    return cases


def cases(quick: bool) -> list[Case]:
    """Rows for ``run_all.py``: an observed hop (relay with a tap) against a direct pipe.

    The goals (issue 16): the Rust relay with a tap at >= 0.9x the direct pipe's
    throughput, and parent CPU per GiB below the Python relay's. Issue 4's "2x the
    Python relay" is withdrawn: the Python relay already runs near a direct pipe.
    1 MiB pipes, as cuprum uses.
    """
    from _harness import Case, skipped

    from cuprum._transport.native import is_available

    if not is_available():
        reason = "native extension not installed"
        return [
            skipped("pump.observed_hop", 4, reason, goal=0.9, lower_is_better=False),
            skipped("pump.parent_cpu_vs_python", 16, reason, goal=1.0, lower_is_better=False),
        ]
    from cuprum._transport.python import python_relay
    from cuprum._transport.rust import rust_relay

    nbytes = (128 if quick else 1024) << 20
    pipe_size = 1 << 20
    runs: dict[str, Callable[[int, int, float], Sample]] = {
        "direct": run_direct,
        "rust": relay_case(rust_relay, tap=True),
        "python": relay_case(python_relay, tap=True),
    }
    samples: dict[str, list[Sample]] = {name: [] for name in runs}
    for _ in range(3 if quick else 5):
        for name, run in runs.items():
            samples[name].append(run(nbytes, pipe_size, 120.0))

    def walls(name: str) -> list[float]:
        return [s.wall for s in samples[name]]

    def total_cpu(name: str) -> list[float]:
        return [s.total_cpu for s in samples[name]]

    def parent_cpu(name: str) -> list[float]:
        return [s.cpu for s in samples[name]]

    rust, python, direct = "rust relay+tap", "python relay+tap", "direct"
    what = f"{nbytes >> 20} MiB, head | relay+tap | cat, 1 MiB pipes"
    # (name, cuprum side, baseline side, goal, note). The python rows say why a 2x
    # over the python relay is out of reach on a small machine: the python relay
    # alone already runs close to a direct pipe, and the whole run's CPU time (which
    # bounds throughput when processes outnumber cores) differs little.
    rows: list[tuple[str, tuple[str, list[float]], tuple[str, list[float]], float | None, str]] = [
        ("pump.observed_hop", (rust, walls("rust")), (direct, walls("direct")), 0.9,
         f"rust relay with a tap vs a direct pipe; {what}"),
        ("pump.observed_vs_python", (rust, walls("rust")), (python, walls("python")), None,
         f"rust relay+tap vs python relay+tap (the 2x goal is withdrawn); {what}"),
        ("pump.parent_cpu_vs_python", (f"{rust} parent CPU", parent_cpu("rust")),
         (f"{python} parent CPU", parent_cpu("python")), 1.0,
         "parent CPU seconds per run: python relay+tap / rust (> 1: rust uses less)"),
        ("pump.python_vs_direct", (python, walls("python")), (direct, walls("direct")), None,
         f"python relay+tap vs a direct pipe (the ceiling); {what}"),
        ("pump.observed_cpu_vs_python", (f"{rust} CPU", total_cpu("rust")),
         (f"{python} CPU", total_cpu("python")), None,
         "CPU seconds of the whole run (parent, head, cat): python relay+tap / rust"),
    ]  # fmt: skip
    return [
        Case.throughput_fraction(
            name,
            16 if name == "pump.parent_cpu_vs_python" else 4,
            cuprum,
            baseline,
            goal=goal,
            note=note,
            cuprum_label=cuprum_label,
            baseline_label=baseline_label,
        )
        for name, (cuprum_label, cuprum), (baseline_label, baseline), goal, note in rows
    ]


def _line(cells: tuple[str, ...]) -> str:
    first, *rest = cells
    return f"{first:<18}" + "".join(
        f" {cell:>{width}}" for cell, width in zip(rest, (8, 9, 9, 10, 13, 12), strict=True)
    )


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size-mib", type=int, default=1024, help="MiB per run (default 1024)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per case (median kept)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per run")
    parser.add_argument("--json", action="store_true", help="print JSON to stdout")
    args = parser.parse_args(argv)
    nbytes = args.size_mib * MIB
    cases = build_cases()
    results: list[dict[str, Any]] = []
    for pipe_size in PIPE_SIZES:
        # Round-robin over the cases so background noise spreads evenly.
        samples: dict[str, list[Sample]] = {name: [] for name, _ in cases}
        for round_ in range(args.repeat):
            for name, case in cases:
                if len(samples[name]) < round_:
                    continue  # timed out before
                with contextlib.suppress(CaseTimeout):
                    samples[name].append(case(nbytes, pipe_size, args.timeout))
            if not args.json:
                print(f"  {pipe_size // 1024} KiB: round {round_ + 1} done", file=sys.stderr)
        direct = _median([s.wall for s in samples["direct"]])
        for name, _ in cases:
            wall = _median([s.wall for s in samples[name]])
            cpu = _median([s.cpu for s in samples[name]])
            total_cpu = _median([s.total_cpu for s in samples[name]])
            results.append(
                {
                    "case": name,
                    "pipe_size": pipe_size,
                    "seconds": wall,
                    "parent_cpu_seconds": cpu,
                    "total_cpu_seconds": total_cpu,
                    "runs": [s.wall for s in samples[name]],
                    "mb_per_s": None if wall is None else nbytes / wall / 1e6,
                    "ratio_vs_direct": None if wall is None or direct is None else direct / wall,
                }
            )
    report = {
        "size_bytes": nbytes,
        "repeat": args.repeat,
        "cpus": os.cpu_count(),
        "kernel": os.uname().release,
        "results": results,
    }
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
        return 0
    print(f"\n{args.size_mib} MiB per run, median of {args.repeat}, {os.cpu_count()} CPUs")
    print(_line(("case", "pipe", "seconds", "MB/s", "vs direct", "parent CPU s", "total CPU s")))
    for row in results:
        seconds = "timeout" if row["seconds"] is None else f"{row['seconds']:.3f}"
        rate = "-" if row["mb_per_s"] is None else f"{row['mb_per_s']:.0f}"
        ratio = "-" if row["ratio_vs_direct"] is None else f"{row['ratio_vs_direct']:.2f}x"
        cpu_s = "-" if row["parent_cpu_seconds"] is None else f"{row['parent_cpu_seconds']:.3f}"
        all_s = "-" if row["total_cpu_seconds"] is None else f"{row['total_cpu_seconds']:.3f}"
        pipe = f"{row['pipe_size'] // 1024} KiB"
        print(_line((row["case"], pipe, seconds, rate, ratio, cpu_s, all_s)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
