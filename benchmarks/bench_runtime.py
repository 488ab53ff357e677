"""Per-call overhead and bulk capture of a single command (issue 2).

* ``run_sync.true``: ``cmd.run_sync()`` of ``true`` vs ``subprocess.run(["true"],
  capture_output=True)``. Both spawn ``true`` with stdout and stderr piped and
  wait for it; cuprum adds the allowlist check, its own process group, a pidfd
  exit wait and its event loop.
* ``run_sync.true_cpu``: the same two, the parent's CPU time per call (user +
  system, ``getrusage``), interleaved in the same run (issue 16).
* ``run_sync.stdin``: ``cmd.run_sync(stdin=b"hello\\n")`` of ``cat`` vs
  ``subprocess.run(["cat"], input=..., capture_output=True)``: input to feed, on the
  direct path (informational).
* ``run_sync.true_syscalls``: the system calls the parent makes per call, each
  side traced by ``strace`` in a fresh interpreter (informational; skipped
  without ``strace``).
* ``run_async.asyncio``: ``await cmd.run()`` vs ``create_subprocess_exec`` with
  both pipes and ``communicate()``, in one asyncio loop (no loop start-up per call
  on either side).
* ``run_async.trio``: the same on trio vs ``trio.run_process`` capturing both
  streams; informational.
* ``capture.text``: capture a text-like payload of 256 MiB (``--quick``: 32 MiB)
  produced by ``head -c N FILE`` over a file of short text lines (in the page
  cache), decoded to ``str``; vs ``subprocess.run(..., capture_output=True)``
  followed by ``.stdout.decode()``. Same program, same bytes, same decode.
"""

from __future__ import annotations

import asyncio
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from _harness import Case, async_interleaved, bench_catalogue, interleaved, skipped

from cuprum import Program, sh

CATALOGUE = bench_catalogue("true", "head", "cat")
TRUE = sh.make(Program("true"), catalogue=CATALOGUE)
CAT = sh.make(Program("cat"), catalogue=CATALOGUE)
HEAD = sh.make(Program("head"), catalogue=CATALOGUE)


def bench_run_sync(quick: bool) -> list[Case]:
    cmd = TRUE()

    def cuprum_call() -> None:
        result = cmd.run_sync()
        assert result.exit_code == 0

    def baseline_call() -> None:
        result = subprocess.run(["true"], capture_output=True, check=False)
        assert result.returncode == 0

    samples = interleaved(
        {"cuprum": cuprum_call, "baseline": baseline_call},
        reps=15 if quick else 40,
        inner=10,
        warmup=2,
    )
    return [
        Case.time_ratio(
            "run_sync.true",
            16,
            samples["cuprum"],
            samples["baseline"],
            goal=1.0,
            note="wall per call; vs subprocess.run(capture_output=True)",
            baseline_label="subprocess.run",
        )
    ]


def bench_run_sync_stdin(quick: bool) -> list[Case]:
    cmd, data = CAT(), b"hello\n"

    def cuprum_call() -> None:
        assert cmd.run_sync(stdin=data, text=False).stdout == data

    def baseline_call() -> None:
        done = subprocess.run(["cat"], input=data, capture_output=True, check=False)
        assert done.stdout == data

    samples = interleaved(
        {"cuprum": cuprum_call, "baseline": baseline_call},
        reps=15 if quick else 40,
        inner=10,
        warmup=2,
    )
    return [
        Case.time_ratio(
            "run_sync.stdin",
            16,
            samples["cuprum"],
            samples["baseline"],
            goal=None,
            note="informational: wall per call, stdin=bytes; vs subprocess.run(input=...)",
            baseline_label="subprocess.run",
        )
    ]


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def cpu_interleaved(
    contenders: dict[str, Callable[[], object]], *, reps: int, inner: int, warmup: int
) -> dict[str, list[float]]:
    """Like ``interleaved``, but the parent's CPU seconds (user + system) per call."""
    names = list(contenders)
    for _ in range(warmup):
        for name in names:
            for _ in range(inner):
                contenders[name]()
    samples: dict[str, list[float]] = {name: [] for name in names}
    for i in range(reps):
        k = i % len(names)
        for name in names[k:] + names[:k]:
            fn = contenders[name]
            start = _cpu_seconds()
            for _ in range(inner):
                fn()
            samples[name].append((_cpu_seconds() - start) / inner)
    return samples


def bench_run_sync_cpu(quick: bool) -> list[Case]:
    cmd = TRUE()
    samples = cpu_interleaved(
        {
            "cuprum": cmd.run_sync,
            "baseline": lambda: subprocess.run(["true"], capture_output=True, check=False),
        },
        reps=15 if quick else 40,
        inner=20,
        warmup=2,
    )
    return [
        Case.time_ratio(
            "run_sync.true_cpu",
            16,
            samples["cuprum"],
            samples["baseline"],
            goal=1.3,
            note="parent CPU (user+sys) per call; vs subprocess.run(capture_output=True)",
            baseline_label="subprocess.run",
        )
    ]


_MARK = "cuprum-bench-mark"
_TRACED = f"""
import os, subprocess, sys
sys.path[:0] = {sys.path!r}
from bench_runtime import TRUE
cmd = TRUE()
calls = {{"cuprum": lambda: cmd.run_sync(),
          "baseline": lambda: subprocess.run(["true"], capture_output=True, check=False)}}
call = calls[sys.argv[1]]
for _ in range(3):
    call()
null = os.open(os.devnull, os.O_WRONLY)
os.write(null, b"{_MARK}")
for _ in range(int(sys.argv[2])):
    call()
os.write(null, b"{_MARK}")
"""


def _syscalls_per_call(who: str, calls: int, trace: Path) -> float:
    """System calls of the parent alone (no ``-f``) between the two marks, per call."""
    subprocess.run(
        ["strace", "-o", str(trace), sys.executable, "-c", _TRACED, who, str(calls)],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    lines = trace.read_text().splitlines()
    marks = [i for i, line in enumerate(lines) if _MARK in line]
    between = lines[marks[0] + 1 : marks[-1]]
    return sum(1 for line in between if not line.startswith(("---", "+++"))) / calls


def bench_run_sync_syscalls(quick: bool) -> list[Case]:
    if shutil.which("strace") is None:
        return [skipped("run_sync.true_syscalls", 16, "strace not installed")]
    calls = 10 if quick else 50
    with tempfile.TemporaryDirectory(prefix="cuprum-bench-") as tmp:
        counts = {
            who: _syscalls_per_call(who, calls, Path(tmp) / f"{who}.trace")
            for who in ("cuprum", "baseline")
        }
    return [
        Case(
            "run_sync.true_syscalls",
            16,
            None,
            None,
            value=counts["cuprum"] / counts["baseline"],
            note=(
                f"informational: parent syscalls per call, {counts['cuprum']:.1f} vs "
                f"{counts['baseline']:.1f} (subprocess.run)"
            ),
            baseline_label="subprocess.run",
            details={who: f"{count:.1f} syscalls/call" for who, count in counts.items()},
        )
    ]


def bench_run_asyncio(quick: bool) -> list[Case]:
    cmd = TRUE()

    async def cuprum_call() -> None:
        result = await cmd.run()
        assert result.exit_code == 0

    async def baseline_call() -> None:
        proc = await asyncio.create_subprocess_exec(
            "true", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        await proc.communicate()
        assert proc.returncode == 0

    samples = asyncio.run(
        async_interleaved(
            {"cuprum": cuprum_call, "baseline": baseline_call},
            reps=15 if quick else 40,
            inner=10,
            warmup=2,
        )
    )
    return [
        Case.time_ratio(
            "run_async.asyncio",
            2,
            samples["cuprum"],
            samples["baseline"],
            goal=1.2,
            note="per call in one loop; vs create_subprocess_exec + communicate",
            baseline_label="asyncio.create_subprocess_exec",
        )
    ]


def bench_run_trio(quick: bool) -> list[Case]:
    try:
        import trio
    except ImportError:
        from _harness import skipped

        return [skipped("run_async.trio", 2, "trio not installed")]
    cmd = TRUE()

    async def cuprum_call() -> None:
        result = await cmd.run()
        assert result.exit_code == 0

    async def baseline_call() -> None:
        proc = await trio.run_process(["true"], capture_stdout=True, capture_stderr=True)
        assert proc.returncode == 0

    async def main() -> dict[str, list[float]]:
        return await async_interleaved(
            {"cuprum": cuprum_call, "baseline": baseline_call},
            reps=10 if quick else 30,
            inner=10,
            warmup=2,
        )

    samples = trio.run(main)
    return [
        Case.time_ratio(
            "run_async.trio",
            2,
            samples["cuprum"],
            samples["baseline"],
            goal=None,
            note="informational; per call in one trio run; vs trio.run_process",
            baseline_label="trio.run_process",
        )
    ]


def _text_file(directory: Path, size: int) -> Path:
    """``size`` bytes of ASCII text lines (a typical log/CSV shape), written once."""
    line = b"2024-05-01T12:00:00Z INFO worker-7 processed item 123456 in 0.42 ms ok\n"
    block = line * ((1 << 20) // len(line) + 1)
    path = directory / "payload.txt"
    with path.open("wb") as f:
        remaining = size
        while remaining > 0:
            chunk = block[:remaining]
            f.write(chunk)
            remaining -= len(chunk)
    return path


def bench_capture(quick: bool) -> list[Case]:
    size = (32 if quick else 256) << 20
    with tempfile.TemporaryDirectory(prefix="cuprum-bench-") as tmp:
        path = _text_file(Path(tmp), size)
        argv = ["head", "-c", str(size), str(path)]
        cmd = HEAD(*argv[1:])

        def cuprum_call() -> None:
            result = cmd.run_sync()
            assert isinstance(result.stdout, str)
            assert len(result.stdout) == size

        def baseline_call() -> None:
            result = subprocess.run(argv, capture_output=True, check=False)
            text = result.stdout.decode()
            assert len(text) == size

        contenders: dict[str, Callable[[], object]] = {
            "cuprum": cuprum_call,
            "baseline": baseline_call,
        }
        samples = interleaved(contenders, reps=7 if quick else 9, warmup=1)
    mib = size >> 20
    return [
        Case.time_ratio(
            f"capture.text_{mib}MiB",
            2,
            samples["cuprum"],
            samples["baseline"],
            goal=1.0,
            note=f"head -c {mib}MiB of text lines, decoded; vs subprocess.run + decode",
            baseline_label="subprocess.run+decode",
        )
    ]


BENCHMARKS: dict[str, Callable[[bool], list[Case]]] = {
    "runtime.run_sync": bench_run_sync,
    "runtime.run_sync_cpu": bench_run_sync_cpu,
    "runtime.run_sync_stdin": bench_run_sync_stdin,
    "runtime.run_sync_syscalls": bench_run_sync_syscalls,
    "runtime.run_asyncio": bench_run_asyncio,
    "runtime.run_trio": bench_run_trio,
    "runtime.capture": bench_capture,
}


def cases(quick: bool) -> list[Case]:
    return [case for bench in BENCHMARKS.values() for case in bench(quick)]
