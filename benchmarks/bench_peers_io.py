"""cuprum against its peers: capture, streaming lines and import (see ``bench_peers``).

* ``peers.capture_wall`` / ``peers.capture_rss``: capture ``head -c 256MiB``
  (quick: 16 MiB) of a file of short text lines as ``str``. Each run is a fresh
  interpreter (``_peers_child.py``) importing only its contender; wall is the
  capture alone, peak RSS is the interpreter's own ``VmHWM`` (not ``ru_maxrss``,
  which a child inherits from the process that started it, across ``exec``).
  Every run checks the length it got: sh's default capture keeps only the last
  3 Mi chunks (lines) and comes back short at 256 MiB, which is ``WRONG``.
* ``peers.stream_lines``: ``seq 10000000`` (quick: 200,000) one line at a time:
  ``stdout_lines()`` vs sh ``_iter=True``, plumbum ``iter_lines``, shellous
  ``async for``; a ``Popen`` loop for reference.
* ``peers.stream_batches``: ``stdout_batches()`` vs anyio and trio, which have no
  line API: read chunks and split them by hand.
* ``peers.import`` / ``peers.ready``: extra ms of ``python -c "import X"`` (and
  of importing X and running one ``true``) over ``python -c pass``.
"""

from __future__ import annotations

import codecs
import importlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
from _harness import Case, bench_catalogue
from _peers_lib import (
    PEERS,
    Outcome,
    Runner,
    expect,
    medians,
    peer,
    peers_row,
    time_row,
    timed_rounds,
)

from cuprum import Program, sh

HERE = Path(__file__).resolve().parent
SEQ = sh.make(Program("seq"), catalogue=bench_catalogue("seq"))
ENV = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
if "PYTHONPATH" in os.environ:  # a source tree run: the children need it too
    ENV["PYTHONPATH"] = os.environ["PYTHONPATH"]


def _missing() -> dict[str, str]:
    return {p: why for p in PEERS if (why := peer(p)[1]) is not None}


def _text_file(directory: Path, size: int) -> Path:
    line = b"2024-05-01T12:00:00Z INFO worker-7 processed item 123456 in 0.42 ms ok\n"
    block = line * ((1 << 20) // len(line) + 1)
    path = directory / "payload.txt"
    with path.open("wb") as f:
        remaining = size
        while remaining > 0:
            f.write(block[:remaining])
            remaining -= min(len(block), remaining)
    return path


def _child(who: str, size: int, path: Path, rss: dict[str, list[float]]) -> Runner:
    argv = [sys.executable, str(HERE / "_peers_child.py"), who, str(size), str(path)]

    def run() -> None:
        done = subprocess.run(argv, env=ENV, capture_output=True, check=False)
        expect(done.returncode, 0, f"exit code ({done.stderr.decode()[-200:]!r})")
        report = json.loads(done.stdout)
        rss.setdefault(who, []).append(report["peak_mib"])
        expect(report["length"], size, "characters captured")
        _walls.setdefault(who, []).append(report["wall"])

    return run


_walls: dict[str, list[float]] = {}


def bench_capture(quick: bool) -> list[Case]:
    size = (16 if quick else 256) << 20
    missing = _missing()
    rss: dict[str, list[float]] = {}
    _walls.clear()
    with tempfile.TemporaryDirectory(prefix="cuprum-peers-") as tmp:
        path = _text_file(Path(tmp), size)
        contenders: dict[str, Runner | str] = {
            who: missing.get(who) or _child(who, size, path, rss)
            for who in ("cuprum", *PEERS, "subprocess")
        }
        out = timed_rounds(contenders, reps=2 if quick else 5, warmup=0, slow_s=5.0)
    # The figures are the children's own: capture wall and peak RSS.
    walls = {w: _median(v) for w, v in _walls.items() if w in out.samples}
    peaks = {w: _median(v) for w, v in rss.items() if w in out.samples}
    mib = size >> 20
    what = f"head -c {mib}MiB of text lines as str, fresh interpreter each"
    return [
        peers_row("peers.capture_wall", walls, out, what=f"{what}: wall", reference="subprocess"),
        peers_row(
            "peers.capture_rss",
            peaks,
            out,
            what=f"{what}: peak RSS",
            fmt=lambda v: f"{v:.0f} MiB",
            reference="subprocess",
            as_seconds=False,
        ),
    ]


def _median(values: list[float]) -> float:
    import statistics

    return statistics.median(values)


def _per_line(n: int) -> dict[str, Runner | str]:
    cmd = SEQ(str(n))

    async def cuprum_lines() -> int:
        count = 0
        async with cmd.stream() as handle:
            async for _line in handle.stdout_lines():
                count += 1
            await handle.wait()
        return count

    def popen() -> None:
        count = 0
        with subprocess.Popen(["seq", str(n)], stdout=subprocess.PIPE, text=True) as proc:
            assert proc.stdout is not None
            for _line in proc.stdout:
                count += 1
        expect(count, n, "lines")

    found: dict[str, Runner | str] = {
        "cuprum": lambda: expect(anyio.run(cuprum_lines), n, "lines"),
        "Popen": popen,
        "anyio": "no line API (see peers.stream_batches)",
        "trio": "no line API (see peers.stream_batches)",
    }
    shmod, why = peer("sh")
    found["sh"] = why or _sh_lines(shmod, n)
    pb, why = peer("plumbum")
    found["plumbum"] = why or _plumbum_lines(pb, n)
    shell, why = peer("shellous")
    found["shellous"] = why or _shellous_lines(shell, n)
    return found


def _sh_lines(shmod: Any, n: int) -> Runner:
    seq = shmod.Command("seq")

    def run() -> None:
        expect(sum(1 for _ in seq(str(n), _iter=True)), n, "lines")

    return run


def _plumbum_lines(pb: Any, n: int) -> Runner:
    iter_lines = importlib.import_module("plumbum.commands.processes").iter_lines
    seq = pb.local["seq"][str(n)]

    def run() -> None:
        proc = seq.popen()  # not `with`: its __enter__ gives the bare Popen
        count = sum(1 for out, _err in iter_lines(proc, buffer_size=0) if out is not None)
        expect(count, n, "lines")

    return run


def _shellous_lines(shell: Any, n: int) -> Runner:
    async def main() -> int:
        count = 0
        async for _line in shell.sh("seq", str(n)):
            count += 1
        return count

    return lambda: expect(anyio.run(main), n, "lines")


def _chunk_lines(n: int, backend: str, open_process: Callable[..., Any]) -> Runner:
    """Read ``seq``'s stdout in chunks, decode incrementally and split lines by hand."""

    async def main() -> int:
        count = 0
        carry = ""
        decoder = codecs.getincrementaldecoder("utf-8")()
        proc = await open_process(["seq", str(n)], stdout=subprocess.PIPE)
        async for chunk in proc.stdout:
            lines = (carry + decoder.decode(chunk)).split("\n")
            carry = lines.pop()
            count += len(lines)
        expect(await proc.wait(), 0, "exit code")
        if hasattr(proc, "aclose"):
            await proc.aclose()
        return count + (1 if carry else 0)

    return lambda: expect(anyio.run(main, backend=backend), n, "lines")


def _batches(n: int) -> dict[str, Runner | str]:
    cmd = SEQ(str(n))

    async def cuprum_batches() -> int:
        count = 0
        async with cmd.stream() as handle:
            async for batch in handle.stdout_batches():
                count += len(batch)
            await handle.wait()
        return count

    found: dict[str, Runner | str] = {
        "cuprum": lambda: expect(anyio.run(cuprum_batches), n, "lines"),
        "anyio": _chunk_lines(n, "asyncio", anyio.open_process),
    }
    trio, why = peer("trio")
    found["trio"] = why or _chunk_lines(n, "trio", trio.lowlevel.open_process)
    for name in ("sh", "plumbum", "shellous"):
        found[name] = "per-line API only (see peers.stream_lines)"
    return found


def bench_streaming(quick: bool) -> list[Case]:
    n = 200_000 if quick else 10_000_000
    what = f"seq {n}: {n:,} lines, each counted"
    reps = 1 if quick else 3
    lines = timed_rounds(_per_line(n), reps=reps, warmup=0, slow_s=10.0)
    # Batches take about a second a run and no peer is slow here: more rounds, less noise.
    batches = timed_rounds(_batches(n), reps=reps if quick else 7, warmup=0)
    return [
        time_row("peers.stream_lines", lines, what=f"{what}, one at a time", reference="Popen"),
        time_row("peers.stream_batches", batches, what=f"{what}, in batches"),
    ]


IMPORTS = {
    "cuprum": "import cuprum",
    "sh": "import sh",
    "plumbum": "import plumbum; from plumbum import local",
    "shellous": "import shellous",
    "anyio": "import anyio",
    "trio": "import trio",
}
READY = {
    "cuprum": (
        "from cuprum import Program, ProgramCatalogue, ProjectSettings, sh\n"
        "c = ProgramCatalogue(projects=(ProjectSettings('b', (Program('true'),)),))\n"
        "assert sh.make(Program('true'), catalogue=c)().run_sync().exit_code == 0"
    ),
    "sh": "import sh; sh.true()",
    "plumbum": "from plumbum import local; local['true']()",
    "shellous": "import asyncio, shellous; asyncio.run(shellous.sh('true').coro())",
    "anyio": "import anyio; anyio.run(anyio.run_process, ['true'])",
    "trio": "import trio; trio.run(trio.run_process, ['true'])",
    "subprocess": "import subprocess; subprocess.run(['true'], capture_output=True)",
}


def _interpreters(codes: dict[str, str], quick: bool) -> tuple[dict[str, float], Outcome]:
    missing = _missing()

    def starter(code: str) -> Runner:
        argv = [sys.executable, "-c", code]
        return lambda: expect(subprocess.run(argv, env=ENV, check=False).returncode, 0, "rc")

    contenders: dict[str, Runner | str] = {"pass": starter("pass")}
    for who, code in codes.items():
        contenders[who] = missing.get(who) or starter(code)
    out = timed_rounds(contenders, reps=3 if quick else 30, warmup=1)
    figures = medians(out)
    bare = figures.pop("pass")
    return {who: v - bare for who, v in figures.items()}, out


def bench_import(quick: bool) -> list[Case]:
    imports, out = _interpreters(IMPORTS, quick)
    ready, out2 = _interpreters(READY, quick)
    ms: Callable[[float], str] = lambda v: f"+{v * 1e3:.1f} ms"  # noqa: E731
    return [
        peers_row("peers.import", imports, out, what="extra time of `import X`", fmt=ms),
        peers_row(
            "peers.ready",
            ready,
            out2,
            what="extra time of importing and running one `true`",
            fmt=ms,
            reference="subprocess",
        ),
    ]


BENCHMARKS: dict[str, Callable[[bool], list[Case]]] = {
    "peers.capture": bench_capture,
    "peers.stream": bench_streaming,
    "peers.import": bench_import,
}


def cases(quick: bool) -> list[Case]:
    return [case for bench in BENCHMARKS.values() for case in bench(quick)]
