"""The command line: ``demo`` runs real programs through cuprum; ``info`` is for bug reports;
``which PROGRAM`` shows the file cuprum runs for a program (its pin) and why."""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import importlib.util
import os
import platform
import shutil
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime

import anyio

import cuprum
from cuprum import (
    DEFAULT_CATALOGUE,
    ECHO,
    ConcurrentConfig,
    ExecEvent,
    ExecutionContext,
    Program,
    ProgramCatalogue,
    ProjectSettings,
    ScopeConfig,
    SpawnError,
    TimeoutExpired,
    run_concurrent,
    scoped,
    sh,
)
from cuprum._core import pinning
from cuprum._transport.dispatch import choose_strategy, configured

__all__ = ["main"]


def info() -> int:
    """Print what a bug report needs."""
    backends = ["asyncio"]
    if importlib.util.find_spec("trio") is not None:
        import trio

        backends.append(f"trio {trio.__version__}")
    try:
        auto = choose_strategy(parent_must_see=False)
        observed = choose_strategy(parent_must_see=True)
        strategy = f"{configured()} (plain hops: {auto}; observed hops: {observed})"
    except cuprum.StreamBackendError as exc:
        strategy = f"error: {exc}"
    rows = {
        "cuprum": cuprum.__version__,
        "python": f"{platform.python_version()} ({sys.executable})",
        "platform": platform.platform(),
        "anyio": importlib.metadata.version("anyio"),
        "event loops": ", ".join(backends),
        "native extension": "loaded" if cuprum.is_rust_available() else "not installed",
        "stream strategy": strategy,
    }
    width = max(map(len, rows))
    for key, value in rows.items():
        print(f"{key:<{width}}  {value}")
    return 0


PYTHON = Program(sys.executable)
SH = Program("sh")
DEMO = ProgramCatalogue(
    projects=(
        ProjectSettings(
            name="demo",
            programs=(ECHO, SH, PYTHON, Program("wc"), Program("sleep"), Program("grep")),
            documentation_locations=("docs/users-guide.md",),
            noise_rules=(r"^progress:",),
        ),
    )
)


def _say(title: str) -> None:
    print(f"\n== {title}")


async def _demo(backend: str) -> None:
    echo = sh.make(ECHO, catalogue=DEMO)
    py = sh.make(PYTHON, catalogue=DEMO)
    shell = sh.make(SH, catalogue=DEMO)
    wc = sh.make(Program("wc"), catalogue=DEMO)
    grep = sh.make(Program("grep"), catalogue=DEMO)
    sleep = sh.make(Program("sleep"), catalogue=DEMO)
    events: list[ExecEvent] = []

    with scoped(ScopeConfig(allowlist=DEMO.allowlist)), sh.observe(events.append):
        _say(f"one command on {backend}, with events")
        started = time.perf_counter()
        result = await echo("-n", "hello from cuprum").run(
            context=ExecutionContext(tags={"run_id": "demo"})
        )
        took = (time.perf_counter() - started) * 1000
        print(f"argv={result.argv} exit={result.exit_code} stdout={result.stdout!r}")
        print(f"took {took:.1f} ms")
        for ev in events:
            extra = f" line={ev.line!r}" if ev.line is not None else ""
            code = f" exit_code={ev.exit_code}" if ev.exit_code is not None else ""
            print(f"  event {ev.phase:<6} pid={ev.pid} tags={dict(ev.tags)}{extra}{code}")
        events.clear()

        _say("a three-stage pipeline: python | grep | wc -l")
        pipeline = py("-c", "for i in range(100000): print(f'line {i}')") | grep("7") | wc("-l")
        started = time.perf_counter()
        presult = await pipeline.run()
        took = (time.perf_counter() - started) * 1000
        codes = [stage.exit_code for stage in presult.stages]
        count = (presult.stdout or "").strip()
        print(f"lines containing 7: {count} stages={codes} ok={presult.ok} ({took:.1f} ms)")

        _say("fail-fast: a failing first stage stops a slow last stage")
        started = time.perf_counter()
        failed = await (shell("-c", "echo oops >&2; exit 3") | sleep("30")).run()
        took = (time.perf_counter() - started) * 1000
        assert failed.failure is not None
        exits = [s.exit_code for s in failed.stages]
        print(
            f"failure_index={failed.failure_index} exit={failed.failure.exit_code} "
            f"stderr={failed.failure.stderr!r} stage exits={exits} ({took:.1f} ms)"
        )

        _say("a timeout keeps the partial output")
        try:
            await shell("-c", "echo partial; sleep 30").run(timeout=0.3)
        except TimeoutExpired as exc:
            print(f"TimeoutExpired after {exc.timeout}s, partial stdout={exc.output!r}")
        events.clear()

        _say("run_concurrent: 8 x sleep 0.2 at concurrency 4")
        started = time.perf_counter()
        batch = await run_concurrent(
            *[sleep("0.2") for _ in range(8)], config=ConcurrentConfig(concurrency=4)
        )
        took = time.perf_counter() - started
        print(f"ok={batch.ok} results={len(batch.results)} wall={took:.2f}s (ideal 0.40s)")
        terminal = sum(1 for ev in events if ev.is_terminal)
        print(f"events seen: {len(events)} ({terminal} terminal, one per command)")


def demo(backends: Sequence[str]) -> int:
    """Run the tour on each backend."""
    for backend in backends:
        print(f"\n######## backend: {backend}")
        anyio.run(_demo, backend, backend=backend)
    print("\ncuprum info:")
    return info()


def _catalogue(spec: str | None) -> tuple[str, ProgramCatalogue]:
    """``MODULE:NAME`` names a catalogue; default: ``cuprum.DEFAULT_CATALOGUE``."""
    if spec is None:
        return "cuprum.DEFAULT_CATALOGUE", DEFAULT_CATALOGUE
    module, _, name = spec.partition(":")
    found = getattr(importlib.import_module(module), name or "CATALOGUE", None)
    if not isinstance(found, ProgramCatalogue):
        raise SystemExit(f"which: {spec} is not a ProgramCatalogue")
    return spec, found


def which(name: str, catalogue_spec: str | None = None) -> int:
    """Print the pin of ``name``: the file cuprum runs for it, and where it looked."""
    program = Program(name)
    where, catalogue = _catalogue(catalogue_spec)
    project = catalogue.lookup(program).project if catalogue.is_known(program) else None
    owner = f"project {project.name}" if project else "not listed: the default policy"
    try:
        pin = catalogue.resolve(program)[program] if project else pinning.pin(program, None)
    except (SpawnError, cuprum.InvalidArgumentError) as exc:
        print(f"which: {exc}", file=sys.stderr)
        return 1
    ident = pin.identity
    mtime = datetime.fromtimestamp(ident.mtime_ns / 1e9, UTC).isoformat(timespec="seconds")
    digest = pinning.sha256_of(pin.path)
    pinned = "pinned by the project, verified" if pin.sha256 else "not pinned by the project"
    rows = {
        "program": program,
        "catalogue": f"{where} ({owner})",
        "runs": pin.path,
        "identity": f"device {ident.device}, inode {ident.inode}, size {ident.size}, "
        f"mode {oct(ident.mode & 0o7777)}, mtime {mtime}",
        "sha256": f"{digest} ({pinned})",
    }
    if pin.searched or pin.skipped:
        rows["searched"] = os.pathsep.join(pin.searched)
        rows["skipped"] = "; ".join(f"{d or '(empty)'}: {why}" for d, why in pin.skipped) or "-"
    found = shutil.which(program) if "/" not in program else program
    if found != pin.path:
        rows["PATH search"] = (
            f"{found or 'nothing'} (differs: subprocess would run that; cuprum runs {pin.path})"
        )
    width = max(map(len, rows))
    for key, value in rows.items():
        print(f"{key:<{width}}  {value}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cuprum", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo_parser = sub.add_parser("demo", help="run real programs through cuprum")
    demo_parser.add_argument(
        "--backend",
        choices=["asyncio", "trio", "both"],
        default="both",
        help="event loop to run the demo on (default: both when trio is installed)",
    )
    sub.add_parser("info", help="versions, event loops, native extension, stream strategy")
    which_parser = sub.add_parser("which", help="the file cuprum runs for a program (its pin)")
    which_parser.add_argument("program", help="a program name (or absolute path)")
    which_parser.add_argument(
        "--catalogue",
        metavar="MODULE:NAME",
        help="the catalogue to consult (default: cuprum.DEFAULT_CATALOGUE)",
    )
    args = parser.parse_args(argv)
    if args.command == "info":
        return info()
    if args.command == "which":
        return which(args.program, args.catalogue)
    backends = ["asyncio", "trio"] if args.backend == "both" else [args.backend]
    if args.backend == "both" and importlib.util.find_spec("trio") is None:
        backends = ["asyncio"]
    return demo(backends)
