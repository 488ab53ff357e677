"""Terminal sessions (issue 15): output through a pty, a conversation, the spawn cost.

* ``tty.read.*``: 100 MiB (``--quick``: 20 MiB) of text lines written by ``head -c N
  FILE`` to its terminal and read on the master side, every byte counted: cuprum's
  ``stream(tty=True, text=False)`` reading ``stdout_chunks()`` against pexpect's
  way to read until EOF (``child.read()``, default settings; goal: at least 2x its
  throughput), against the fastest pexpect loop we could write
  (``read_nonblocking(65536)`` until EOF with ``maxread=65536``; informational),
  and against ``script -qc 'head ...' /dev/null >/dev/null`` (C, util-linux: about
  the ceiling for copying a pty; goal: at least 0.7x its throughput).
* ``tty.capture``: ``run_sync(tty=True, text=False)`` capturing the same output; vs
  script, informational.
* ``tty.conversation``: 1,000 prompt/response exchanges with one Python child
  (``input('> ')`` then an answer): ``sendline()`` + ``expect('> ')`` on asyncio,
  vs pexpect's ``sendline()`` + ``expect_exact('> ')`` with its 50 ms pause before
  each send and 0.1 ms pause after each read turned off (``delaybeforesend`` and
  ``delayafterread`` set to ``None``). Goal: no slower.
  ``tty.conversation.trio``: the same on trio; ``tty.conversation.pexpect_default``:
  against pexpect as it comes (the pause on, one run); both informational.
* ``tty.spawn``: ``run(tty=True)`` of ``true`` against ``run()`` of ``true``: what
  the terminal (a pty, a new session, its controlling terminal) adds per run.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import anyio
from _harness import Case, async_interleaved, bench_catalogue, interleaved, skipped

from cuprum import STDOUT, Program, sh

CATALOGUE = bench_catalogue("head", "true", sys.executable)
HEAD = sh.make(Program("head"), catalogue=CATALOGUE)
TRUE = sh.make(Program("true"), catalogue=CATALOGUE)
PY = sh.make(Program(sys.executable), catalogue=CATALOGUE)

PROMPTER = "try:\n    while True:\n        print('got', input('> '))\nexcept EOFError:\n    pass"
"""Prompts, reads a line, answers it; exits 0 at end of input. On a
terminal ``input()`` writes its prompt to stderr: the run puts stderr on the terminal."""


def _text_file(directory: Path, size: int) -> tuple[Path, int]:
    """``size`` bytes of short text lines; returns the path and its number of lines."""
    line = b"2024-05-01T12:00:00Z INFO worker-7 processed item 123456 in 0.42 ms ok\n"
    block = line * ((1 << 20) // len(line) + 1)
    path = directory / "payload.txt"
    newlines = 0
    with path.open("wb") as f:
        remaining = size
        while remaining > 0:
            chunk = block[:remaining]
            f.write(chunk)
            newlines += chunk.count(b"\n")
            remaining -= len(chunk)
    return path, newlines


def bench_read(quick: bool) -> list[Case]:
    try:
        import pexpect
    except ImportError:
        return [
            skipped("tty.read.vs_pexpect", 15, "pexpect not installed", goal=2.0),
            skipped("tty.read.vs_pexpect_loop", 15, "pexpect not installed"),
        ]
    size = (20 if quick else 100) << 20
    with tempfile.TemporaryDirectory(prefix="cuprum-bench-") as tmp:
        path, newlines = _text_file(Path(tmp), size)
        expected = size + newlines  # the terminal writes each "\n" as "\r\n"
        argv = ["head", "-c", str(size), str(path)]
        cmd = HEAD(*argv[1:])

        async def stream_chunks() -> None:
            total = 0
            async with cmd.stream(tty=True, text=False) as handle:
                async for chunk in handle.stdout_chunks():
                    total += len(chunk)
                result = await handle.wait()
            assert result.ok and total == expected, (total, expected)

        def cuprum_read() -> None:
            anyio.run(stream_chunks)

        def cuprum_capture() -> None:
            result = cmd.run_sync(tty=True, text=False)
            assert result.ok and isinstance(result.stdout, bytes)
            assert len(result.stdout) == expected

        def pexpect_read() -> None:
            child = pexpect.spawn(argv[0], argv[1:], timeout=None)
            data = child.read()
            child.close()
            assert child.exitstatus == 0 and len(data) == expected, (len(data), expected)

        def pexpect_loop() -> None:
            child = pexpect.spawn(argv[0], argv[1:], maxread=65536, timeout=None)
            total = 0
            try:
                while True:
                    total += len(child.read_nonblocking(65536, timeout=None))
            except pexpect.EOF:
                pass
            child.close()
            assert child.exitstatus == 0 and total == expected, (total, expected)

        def script_read() -> None:
            shell_cmd = " ".join(argv)
            subprocess.run(
                ["script", "-qc", shell_cmd, "/dev/null"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                check=True,
            )

        contenders: dict[str, Callable[[], object]] = {
            "cuprum": cuprum_read,
            "capture": cuprum_capture,
            "pexpect": pexpect_read,
            "pexpect_loop": pexpect_loop,
            "script": script_read,
        }
        samples = interleaved(contenders, reps=3, warmup=1)
    what = f"{size >> 20} MiB of text lines from head -c through a pty"
    return [
        Case.throughput_fraction(
            "tty.read.vs_pexpect",
            15,
            samples["cuprum"],
            samples["pexpect"],
            goal=2.0,
            note=f"stream(tty=True).stdout_chunks(); {what}; vs pexpect child.read()",
            baseline_label="pexpect read()",
        ),
        Case.throughput_fraction(
            "tty.read.vs_pexpect_loop",
            15,
            samples["cuprum"],
            samples["pexpect_loop"],
            goal=None,
            note="the same; vs pexpect read_nonblocking(65536) until EOF, maxread=65536",
            baseline_label="pexpect loop",
        ),
        Case.throughput_fraction(
            "tty.read.vs_script",
            15,
            samples["cuprum"],
            samples["script"],
            goal=0.7,
            note="the same; vs script -qc ... /dev/null >/dev/null",
            baseline_label="script",
        ),
        Case.throughput_fraction(
            "tty.capture",
            15,
            samples["capture"],
            samples["script"],
            goal=None,
            note=f"run_sync(tty=True, text=False) capturing; {what}; vs script",
            baseline_label="script",
        ),
    ]


def bench_conversation(quick: bool) -> list[Case]:
    try:
        import pexpect
    except ImportError:
        return [skipped("tty.conversation", 15, "pexpect not installed", goal=1.0)]
    exchanges = 1000
    cmd = PY("-c", PROMPTER)

    async def talk() -> None:
        async with cmd.stream(tty=True, stderr=STDOUT) as handle:
            await handle.expect("> ", timeout=30)
            for i in range(exchanges):
                await handle.sendline(f"n{i}")
                await handle.expect("> ", timeout=30)
            await handle.send_eof()
            result = await handle.wait()
        assert result.ok

    def cuprum_talk(backend: str) -> Callable[[], None]:
        return lambda: anyio.run(talk, backend=backend)

    def pexpect_talk(delay: float | None) -> Callable[[], None]:
        def run() -> None:
            child = pexpect.spawn(sys.executable, ["-c", PROMPTER], timeout=30)
            child.delaybeforesend = delay
            if delay is None:  # the fastest pexpect: no 0.1 ms pause after each read either
                child.delayafterread = None
            child.expect_exact("> ")
            for i in range(exchanges):
                child.sendline(f"n{i}")
                child.expect_exact("> ")
            child.sendeof()
            child.expect(pexpect.EOF)
            child.close()
            assert child.exitstatus == 0

        return run

    samples = interleaved(
        {
            "asyncio": cuprum_talk("asyncio"),
            "trio": cuprum_talk("trio"),
            "pexpect": pexpect_talk(None),
        },
        reps=5 if quick else 9,
        warmup=1,
    )
    # pexpect as it comes sleeps 50 ms before every send (delaybeforesend): one
    # run of it takes about a minute, so it is timed once, after the others.
    start = time.perf_counter()
    pexpect_talk(0.05)()
    default = [time.perf_counter() - start]
    what = f"{exchanges} sendline + expect('> ') with one python child"
    return [
        Case.time_ratio(
            "tty.conversation",
            15,
            samples["asyncio"],
            samples["pexpect"],
            goal=1.0,
            note=f"{what}, asyncio; vs pexpect sendline + expect_exact, no delays",
            baseline_label="pexpect",
        ),
        Case.time_ratio(
            "tty.conversation.trio",
            15,
            samples["trio"],
            samples["pexpect"],
            goal=None,
            note=f"{what}, trio; vs pexpect, no delays",
            baseline_label="pexpect",
        ),
        Case.time_ratio(
            "tty.conversation.pexpect_default",
            15,
            samples["asyncio"],
            default,
            goal=None,
            note=f"{what}, asyncio; vs pexpect with its defaults (50 ms before each send), 1 run",
            baseline_label="pexpect default",
        ),
    ]


def bench_spawn(quick: bool) -> list[Case]:
    cmd = TRUE()

    async def on_terminal() -> None:
        assert (await cmd.run(tty=True)).ok

    async def piped() -> None:
        assert (await cmd.run()).ok

    async def main() -> dict[str, list[float]]:
        return await async_interleaved(
            {"tty": on_terminal, "plain": piped}, reps=15 if quick else 40, inner=10, warmup=2
        )

    samples = anyio.run(main)
    case = Case.time_ratio(
        "tty.spawn",
        15,
        samples["tty"],
        samples["plain"],
        goal=None,
        note="await run(tty=True) of true vs await run(); per call, asyncio",
        baseline_label="run()",
    )
    extra_us = ((case.cuprum_s or 0.0) - (case.baseline_s or 0.0)) * 1e6
    return [dataclasses.replace(case, note=f"{case.note}; +{extra_us:.0f} us per run")]


BENCHMARKS: dict[str, Callable[[bool], list[Case]]] = {
    "terminal.read": bench_read,
    "terminal.conversation": bench_conversation,
    "terminal.spawn": bench_spawn,
}


def cases(quick: bool) -> list[Case]:
    return [case for bench in BENCHMARKS.values() for case in bench(quick)]
