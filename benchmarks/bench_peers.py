"""cuprum against its peers: spawn, fan-out and a pipeline (see also ``bench_peers_io``).

The peers are sh, plumbum, shellous, ``anyio.run_process`` and
``trio.run_process`` (optional: ``pip install sh plumbum shellous``; a missing
one is ``SKIP`` in its row). Each row is cuprum's median over the best peer's
(goal <= 1.0: ahead of every peer); the details give every contender's figure,
and the standard library is shown for reference. Every run checks its result.

* ``peers.spawn_sync``: one ``true`` per call, blocking (sh, plumbum; the
  standard library's ``subprocess.run`` for reference).
* ``peers.spawn_asyncio`` / ``peers.spawn_trio``: one ``true`` per call inside
  one running loop (shellous, ``anyio.run_process``, sh's ``_async=True`` on
  asyncio; ``trio.run_process`` and anyio on trio).
* ``peers.fanout``: 500 x ``true`` at concurrency 8, loop start included:
  ``run_concurrent_sync`` vs a pool of 8 threads (sh, plumbum) or a task group
  with a limit of 8 (shellous, anyio, trio); ``xargs -P8`` for reference.
* ``peers.pipeline``: ``head -c N /dev/zero | cat | wc -c`` (256 MiB; quick
  32 MiB) with each library's own pipeline (sh ``_in=``/``_piped``, plumbum
  ``|``, shellous ``|``); anyio and trio wire ``os.pipe`` fds by hand; ``sh -c``
  for reference.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio
from _harness import Case, bench_catalogue, skipped
from _peers_lib import (
    AsyncRunner,
    Outcome,
    Runner,
    async_timed_rounds,
    expect,
    peer,
    time_row,
    timed_rounds,
)

from cuprum import ConcurrentConfig, Program, run_concurrent_sync, sh

CATALOGUE = bench_catalogue("true", "head", "cat", "wc")
TRUE = sh.make(Program("true"), catalogue=CATALOGUE)


def bench_spawn_sync(quick: bool) -> list[Case]:
    cmd = TRUE()
    shmod, sh_why = peer("sh")
    pb, pb_why = peer("plumbum")

    def cuprum_call() -> None:
        expect(cmd.run_sync().exit_code, 0, "exit code")

    def stdlib() -> None:
        expect(subprocess.run(["true"], capture_output=True, check=False).returncode, 0, "rc")

    contenders: dict[str, Runner | str] = {"cuprum": cuprum_call, "subprocess": stdlib}
    if shmod is not None:
        sh_true = shmod.Command("true")
        contenders["sh"] = lambda: expect(sh_true(_return_cmd=True).exit_code, 0, "exit code")
    else:
        contenders["sh"] = sh_why or ""
    if pb is not None:
        pb_true = pb.local["true"]
        contenders["plumbum"] = lambda: expect(pb_true.run(retcode=None)[0], 0, "exit code")
    else:
        contenders["plumbum"] = pb_why or ""
    for name in ("shellous", "anyio", "trio"):
        contenders[name] = "async only (see peers.spawn_asyncio / peers.spawn_trio)"
    out = timed_rounds(
        contenders, reps=6 if quick else 30, inner=5 if quick else 10, warmup=1, slow_s=0.02
    )
    return [time_row("peers.spawn_sync", out, what="run `true`, per call", reference="subprocess")]


def _async_contenders(backend: str) -> dict[str, AsyncRunner | str]:
    cmd = TRUE()
    found: dict[str, AsyncRunner | str] = {}

    async def cuprum_call() -> None:
        expect((await cmd.run()).exit_code, 0, "exit code")

    async def anyio_call() -> None:
        expect((await anyio.run_process(["true"])).returncode, 0, "exit code")

    found["cuprum"] = cuprum_call
    found["anyio"] = anyio_call
    if backend == "asyncio":
        shell, why = peer("shellous")
        if shell is not None:

            async def shellous_call() -> None:
                result = await shell.sh("true").result
                expect(result.exit_code, 0, "exit code")

            found["shellous"] = shellous_call
        else:
            found["shellous"] = why or ""
        shmod, why = peer("sh")
        if shmod is not None:
            sh_true = shmod.Command("true")

            async def sh_call() -> None:
                expect(await sh_true(_async=True), "", "stdout")

            found["sh"] = sh_call
        else:
            found["sh"] = why or ""

        async def stdlib() -> None:
            proc = await asyncio.create_subprocess_exec(
                "true", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
            )
            await proc.communicate()
            expect(proc.returncode, 0, "exit code")

        found["asyncio"] = stdlib
        found["trio"] = "trio's own loop (see peers.spawn_trio)"
        found["plumbum"] = "no async API"
    else:
        trio, why = peer("trio")
        if trio is None:
            return {"trio": why or ""}

        async def trio_call() -> None:
            done = await trio.run_process(["true"], capture_stdout=True, capture_stderr=True)
            expect(done.returncode, 0, "exit code")

        found["trio"] = trio_call
        for name in ("sh", "plumbum", "shellous"):
            found[name] = "no trio support"
    return found


def _bench_spawn_async(quick: bool, backend: str) -> list[Case]:
    name = f"peers.spawn_{backend}"
    found = _async_contenders(backend)
    if "cuprum" not in found:
        return [skipped(name, None, str(found.get("trio")), goal=1.0)]

    async def main() -> Outcome:
        return await async_timed_rounds(
            found, reps=6 if quick else 30, inner=5 if quick else 10, warmup=1, slow_s=0.02
        )

    out = anyio.run(main, backend=backend)
    what = f"await one `true`, per call, in one {backend} loop"
    ref = "asyncio" if backend == "asyncio" else None
    return [time_row(name, out, what=what, reference=ref)]


def bench_spawn_asyncio(quick: bool) -> list[Case]:
    return _bench_spawn_async(quick, "asyncio")


def bench_spawn_trio(quick: bool) -> list[Case]:
    return _bench_spawn_async(quick, "trio")


def _task_group_fanout(backend: str, count: int, limit: int, one: AsyncRunner) -> Runner:
    """``count`` calls of ``one`` at most ``limit`` at a time, in a fresh anyio loop."""

    async def main() -> int:
        limiter = anyio.CapacityLimiter(limit)
        done = 0

        async def task() -> None:
            nonlocal done
            async with limiter:
                await one()
            done += 1

        async with anyio.create_task_group() as tg:
            for _ in range(count):
                tg.start_soon(task)
        return done

    return lambda: expect(anyio.run(main, backend=backend), count, "commands run")


def _thread_fanout(count: int, limit: int, one: Callable[[], int]) -> Runner:
    def run() -> None:
        with ThreadPoolExecutor(limit) as pool:
            codes = list(pool.map(lambda _: one(), range(count)))
        expect(codes, [0] * count, "exit codes")

    return run


def bench_fanout(quick: bool) -> list[Case]:
    count, limit = (100 if quick else 500), 8
    commands = [TRUE() for _ in range(count)]
    config = ConcurrentConfig(concurrency=limit)

    def cuprum_call() -> None:
        result = run_concurrent_sync(*commands, config=config)
        expect((result.ok, len(result.results)), (True, count), "(ok, results)")

    xargs = ["xargs", "-t", "-P", str(limit), "-n", "1", "true"]
    feed = b"x\n" * count

    def xargs_call() -> None:
        done = subprocess.run(xargs, input=feed, capture_output=True, check=False)
        expect((done.returncode, done.stderr.count(b"\n")), (0, count), "(rc, commands)")

    contenders: dict[str, Runner | str] = {"cuprum": cuprum_call, "xargs": xargs_call}
    shmod, why = peer("sh")
    if shmod is not None:
        sh_true = shmod.Command("true")
        contenders["sh"] = _thread_fanout(count, limit, lambda: sh_true(_return_cmd=True).exit_code)
    else:
        contenders["sh"] = why or ""
    pb, why = peer("plumbum")
    if pb is not None:
        pb_true = pb.local["true"]
        contenders["plumbum"] = _thread_fanout(count, limit, lambda: pb_true.run(retcode=None)[0])
    else:
        contenders["plumbum"] = why or ""
    shell, why = peer("shellous")
    if shell is not None:

        async def shellous_one() -> None:
            expect((await shell.sh("true").result).exit_code, 0, "exit code")

        contenders["shellous"] = _task_group_fanout("asyncio", count, limit, shellous_one)
    else:
        contenders["shellous"] = why or ""

    async def anyio_one() -> None:
        expect((await anyio.run_process(["true"])).returncode, 0, "exit code")

    contenders["anyio"] = _task_group_fanout("asyncio", count, limit, anyio_one)
    trio, why = peer("trio")
    if trio is not None:

        async def trio_one() -> None:
            done = await trio.run_process(["true"], capture_stdout=True, capture_stderr=True)
            expect(done.returncode, 0, "exit code")

        contenders["trio"] = _task_group_fanout("trio", count, limit, trio_one)
    else:
        contenders["trio"] = why or ""
    out = timed_rounds(contenders, reps=3 if quick else 9, warmup=1, slow_s=2.0)
    what = f"{count} x `true` at concurrency {limit}"
    return [time_row("peers.fanout", out, what=what, reference="xargs")]


def _hand_wired(spawn: Callable[..., Awaitable[Any]], size: int) -> AsyncRunner:
    """``head | cat | wc -c`` through ``os.pipe`` fds, the way anyio/trio users write it."""
    argvs = (["head", "-c", str(size), "/dev/zero"], ["cat"], ["wc", "-c"])

    async def run() -> None:
        r1, w1 = os.pipe()
        r2, w2 = os.pipe()
        try:
            head = await spawn(argvs[0], stdin=subprocess.DEVNULL, stdout=w1)
            cat = await spawn(argvs[1], stdin=r1, stdout=w2)
            wc = await spawn(argvs[2], stdin=r2, stdout=subprocess.PIPE)
        finally:
            for fd in (r1, w1, r2, w2):
                os.close(fd)
        chunks = [bytes(chunk) async for chunk in wc.stdout]
        codes = [await p.wait() for p in (head, cat, wc)]
        if hasattr(wc, "aclose"):
            await wc.aclose()
        expect((codes, int(b"".join(chunks))), ([0, 0, 0], size), "(exit codes, bytes)")

    return run


def _pipeline_peers(size: int) -> dict[str, Runner | str]:
    """Each peer's own ``head -c SIZE /dev/zero | cat | wc -c``, checking the count."""
    contenders: dict[str, Runner | str] = {}
    shmod, why = peer("sh")
    if shmod is not None:
        h, c, w = shmod.Command("head"), shmod.Command("cat"), shmod.Command("wc")

        def sh_call() -> None:
            first = h("-c", str(size), "/dev/zero", _piped=True, _bg=True)
            out = w("-c", _in=c(_in=first, _piped=True, _bg=True))
            expect(int(str(out)), size, "bytes")

        contenders["sh"] = sh_call
    else:
        contenders["sh"] = why or ""
    pb, why = peer("plumbum")
    if pb is not None:
        chain = pb.local["head"]["-c", str(size), "/dev/zero"] | pb.local["cat"]
        chain = chain | pb.local["wc"]["-c"]
        contenders["plumbum"] = lambda: expect(int(chain()), size, "bytes")
    else:
        contenders["plumbum"] = why or ""
    shell_mod, why = peer("shellous")
    if shell_mod is not None:
        s = shell_mod.sh
        spipe = s("head", "-c", str(size), "/dev/zero") | s("cat") | s("wc", "-c")

        async def shellous_call() -> str:
            out: str = await spipe
            return out

        contenders["shellous"] = lambda: expect(int(asyncio.run(shellous_call())), size, "bytes")
    else:
        contenders["shellous"] = why or ""

    anyio_run = _hand_wired(anyio.open_process, size)
    contenders["anyio"] = lambda: anyio.run(anyio_run)
    trio, why = peer("trio")
    if trio is not None:
        trio_run = _hand_wired(trio.lowlevel.open_process, size)
        contenders["trio"] = lambda: trio.run(trio_run)
    else:
        contenders["trio"] = why or ""
    return contenders


def bench_pipeline(quick: bool) -> list[Case]:
    size = (32 if quick else 256) << 20
    head = sh.make(Program("head"), catalogue=CATALOGUE)
    cat = sh.make(Program("cat"), catalogue=CATALOGUE)
    wc = sh.make(Program("wc"), catalogue=CATALOGUE)
    pipeline = head("-c", str(size), "/dev/zero") | cat() | wc("-c")

    def cuprum_call() -> None:
        result = pipeline.run_sync()
        assert isinstance(result.stdout, str)
        expect((result.ok, int(result.stdout)), (True, size), "(ok, bytes)")

    script = f"head -c {size} /dev/zero | cat | wc -c"

    def shell() -> None:
        done = subprocess.run(["sh", "-c", script], capture_output=True, check=False)
        expect((done.returncode, int(done.stdout)), (0, size), "(rc, bytes)")

    contenders: dict[str, Runner | str] = {"cuprum": cuprum_call, "sh -c": shell}
    contenders.update(_pipeline_peers(size))
    out = timed_rounds(contenders, reps=3 if quick else 7, warmup=1)
    mib = size >> 20
    what = f"head -c {mib}MiB /dev/zero | cat | wc -c"
    return [time_row("peers.pipeline", out, what=what, reference="sh -c")]


BENCHMARKS: dict[str, Callable[[bool], list[Case]]] = {
    "peers.spawn_sync": bench_spawn_sync,
    "peers.spawn_asyncio": bench_spawn_asyncio,
    "peers.spawn_trio": bench_spawn_trio,
    "peers.fanout": bench_fanout,
    "peers.pipeline": bench_pipeline,
}


def cases(quick: bool) -> list[Case]:
    return [case for bench in BENCHMARKS.values() for case in bench(quick)]


if __name__ == "__main__":
    # python benchmarks/bench_peers.py [bench.json]: the peers' rows as Markdown.
    import json
    import sys

    from _harness import RESULTS_DIR
    from _peers_lib import markdown

    path = sys.argv[1] if len(sys.argv) > 1 else str(RESULTS_DIR / "bench.json")
    with open(path) as f:
        print(markdown(json.load(f)["cases"]))
