"""The command line: ``demo`` runs real programs through cuprum; ``info`` is for bug reports;
``which PROGRAM`` shows the file cuprum runs for a program (its pin) and why.

The demo prints, above each scenario's output, the code that produced it. That
text is read from this file's own source (the lines between ``# demo-code: NAME``
and ``# demo-code: end``), so what is shown is always what ran.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import importlib.util
import inspect
import platform
import re
import signal
import sys
import textwrap
import time
from collections.abc import Awaitable, Callable, Sequence

import anyio

import cuprum
from cuprum import (
    ECHO,
    GREP,
    SLEEP,
    WC,
    ConcurrentConfig,
    ExecEvent,
    ExecutionContext,
    Program,
    ProgramCatalogue,
    ProjectSettings,
    TimeoutExpired,
    run_concurrent,
    sh,
)
from cuprum._transport.dispatch import choose_strategy, configured

__all__ = ["main"]

DESCRIPTION = """\
cuprum's command line.

  demo   run real programs through cuprum, show the code of each step and
         explain what it printed
  info   versions, event loops, native extension and stream strategy: what a
         bug report needs
  which  the file cuprum runs for a program (its pin), and why
"""
DEMO_DESCRIPTION = """\
Run real programs through cuprum (echo, a python | grep | wc pipeline, a
fail-fast pipeline, a timeout, run_concurrent) and print, for each step, the
code that ran, what it returned and what the figures mean.
"""


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


# demo-code: catalogue
PYTHON = Program(sys.executable)  # this interpreter
SH = Program("sh")
DEMO = ProgramCatalogue(
    projects=(ProjectSettings(name="demo", programs=(ECHO, GREP, WC, SLEEP, SH, PYTHON)),)
)
# demo-code: end

_SNIPPET = re.compile(r"^( *)# demo-code: (\w+)\n(.*?)^\1# demo-code: end$", re.M | re.S)


def snippets() -> dict[str, str]:
    """The demo's code, by scenario name, as this module's source has it."""
    try:
        source = inspect.getsource(sys.modules[__name__])
    except (OSError, TypeError):
        return {}
    return {m.group(2): textwrap.dedent(m.group(3)).rstrip() for m in _SNIPPET.finditer(source)}


def _exit_text(code: int) -> str:
    """``-15`` -> ``-15 (killed by SIGTERM)``; a plain exit status as it is."""
    if code >= 0:
        return str(code)
    try:
        return f"{code} (killed by {signal.Signals(-code).name})"
    except ValueError:
        return f"{code} (killed by signal {-code})"


def _show(lines: Sequence[str], explain: Sequence[str], verbose: bool) -> None:
    for line in lines:
        print(f"  {line}")
    if verbose:
        for paragraph in explain:
            print(textwrap.fill(paragraph, 78, initial_indent="  * ", subsequent_indent="    "))


async def one_command(verbose: bool) -> None:
    started = time.perf_counter()
    # demo-code: one_command
    echo = sh.make(ECHO, catalogue=DEMO)
    events: list[ExecEvent] = []
    with sh.observe(events.append):
        result = await echo("-n", "hello from cuprum").run(
            context=ExecutionContext(tags={"run_id": "demo"})
        )
    # demo-code: end
    took = (time.perf_counter() - started) * 1000
    lines = [
        f"argv={result.argv} exit_code={result.exit_code} stdout={result.stdout!r}",
        f"took {took:.1f} ms",
    ]
    for ev in events:
        extra = f" line={ev.line!r}" if ev.line is not None else ""
        code = f" exit_code={ev.exit_code}" if ev.exit_code is not None else ""
        lines.append(f"event {ev.phase:<6} pid={ev.pid} tags={dict(ev.tags)}{extra}{code}")
    _show(
        lines,
        [
            "took: wall-clock time from the call until the result was back: starting the "
            "process, its run, collecting its output and exit status.",
            "events go to every observe hook: `plan` before the process exists (no pid "
            "yet), `start` once it runs, one `stdout`/`stderr` event per output line, then "
            "exactly one terminal event (`exit`, or `error` if it could not start, timed "
            "out or was cancelled). tags carry the program's project from the catalogue "
            "plus the ExecutionContext's own tags.",
        ],
        verbose,
    )


async def pipeline(verbose: bool) -> None:
    started = time.perf_counter()
    # demo-code: pipeline
    py, grep, wc = (sh.make(p, catalogue=DEMO) for p in (PYTHON, GREP, WC))
    script = "for i in range(100000): print(f'line {i}')"
    result = await (py("-c", script) | grep("7") | wc("-l")).run()
    # demo-code: end
    took = (time.perf_counter() - started) * 1000
    codes = [stage.exit_code for stage in result.stages]
    count = (result.stdout or "").strip()
    strategy = choose_strategy(parent_must_see=False)
    _show(
        [
            f"stdout={count!r} (lines containing 7) stage exit codes={codes} ok={result.ok}",
            f"took {took:.1f} ms; stream strategy for the 2 hops: {strategy}",
        ],
        [
            "stage exit codes: each program's exit status, in pipeline order; ok is true "
            "when every stage exited 0. stdout is the last stage's output.",
            "stream strategy: how bytes move from one stage to the next. `direct` joins "
            "the two programs with one kernel pipe, so the bytes never pass through "
            "Python (the default). `python` and `rust` relay each hop through this "
            "process, which is needed when it must see the bytes (stage_events=True); "
            "`rust` uses the native extension. CUPRUM_STREAM_BACKEND forces one.",
            "took: wall-clock time for all three programs; they run at the same time, "
            "so this is about the time of the slowest, not the sum.",
        ],
        verbose,
    )


async def fail_fast(verbose: bool) -> None:
    started = time.perf_counter()
    # demo-code: fail_fast
    shell, sleep = sh.make(SH, catalogue=DEMO), sh.make(SLEEP, catalogue=DEMO)
    result = await (shell("-c", "echo oops >&2; exit 3") | sleep("30")).run()
    # demo-code: end
    took = (time.perf_counter() - started) * 1000
    assert result.failure is not None
    exits = [_exit_text(stage.exit_code) for stage in result.stages]
    _show(
        [
            f"failure_index={result.failure_index} exit_code={result.failure.exit_code} "
            f"stderr={result.failure.stderr!r}",
            f"stage exit codes: {', '.join(exits)}; took {took:.1f} ms",
        ],
        [
            "failure_index is the stage that failed first, and failure its result. As soon "
            "as one stage fails, cuprum stops the others: each gets SIGTERM (SIGKILL after "
            "a grace period if it ignores that) sent to its whole process group.",
            "A negative exit code -N means the process was killed by signal N, as in "
            "subprocess: -15 is SIGTERM, -9 SIGKILL. So `sleep 30` ended after "
            f"{took:.0f} ms, not 30 s.",
        ],
        verbose,
    )


async def timeout(verbose: bool) -> None:
    expired: TimeoutExpired | None = None
    started = time.perf_counter()
    # demo-code: timeout
    shell = sh.make(SH, catalogue=DEMO)
    try:
        await shell("-c", "echo partial; sleep 30").run(timeout=0.3)
    except TimeoutExpired as exc:
        expired = exc
    # demo-code: end
    took = time.perf_counter() - started
    assert expired is not None, "the timeout did not expire"
    seen = f"TimeoutExpired(timeout={expired.timeout}) output={expired.output!r}"
    _show(
        [f"{seen}; took {took:.2f} s"],
        [
            "When the timeout passes, cuprum stops the program's process group (SIGTERM, "
            "then SIGKILL after a grace period) and raises TimeoutExpired, which keeps the "
            "output read so far. took is the timeout plus the teardown.",
        ],
        verbose,
    )


async def many(verbose: bool) -> None:
    started = time.perf_counter()
    # demo-code: many
    sleep = sh.make(SLEEP, catalogue=DEMO)
    events: list[ExecEvent] = []
    with sh.observe(events.append):
        batch = await run_concurrent(
            *[sleep("0.2") for _ in range(8)], config=ConcurrentConfig(concurrency=4)
        )
    # demo-code: end
    took = time.perf_counter() - started
    terminal = sum(1 for ev in events if ev.is_terminal)
    _show(
        [
            f"ok={batch.ok} results={len(batch.results)} wall={took:.2f} s (ideal 0.40 s)",
            f"events seen: {len(events)}, {terminal} of them terminal",
        ],
        [
            "run_concurrent runs the 8 commands at most 4 at a time and returns their "
            "results in the order given. Two rounds of `sleep 0.2` take 0.40 s at best: "
            "wall minus that is the cost of starting 8 processes and collecting them.",
            "Every command sends its own events (plan, start, exit): one terminal event "
            "per command.",
        ],
        verbose,
    )


Scenario = Callable[[bool], Awaitable[None]]
SCENARIOS: tuple[tuple[str, str, Scenario], ...] = (
    ("one_command", "one command, with its events", one_command),
    ("pipeline", "a three-stage pipeline: python | grep | wc -l", pipeline),
    ("fail_fast", "fail-fast: a failing first stage stops a slow last stage", fail_fast),
    ("timeout", "a timeout keeps the partial output", timeout),
    ("many", "run_concurrent: 8 x sleep 0.2, at most 4 at a time", many),
)


def _code(text: str) -> None:
    for line in text.splitlines():
        print(f"    | {line}")


async def _tour(backend: str, verbose: bool) -> None:
    code = snippets()
    if verbose and "catalogue" in code:
        print("\nEvery scenario uses this catalogue (sh.make refuses a program it does not list):")
        _code(code["catalogue"])
    for number, (name, title, scenario) in enumerate(SCENARIOS, 1):
        print(f"\n== {number}. {title} [{backend}]")
        if verbose and name in code:
            _code(code[name])
            print("  ->")
        await scenario(verbose)


def demo(backends: Sequence[str]) -> int:
    """Run the tour on each backend: with its code and explanations the first time."""
    for index, backend in enumerate(backends):
        print(f"\n######## event loop: {backend}")
        if index:
            print("(the same code again, on this event loop; explanations as above)")
        anyio.run(_tour, backend, index == 0, backend=backend)
    print("\n######## python -m cuprum info")
    return info()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cuprum",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="{demo,info,which}")
    demo_parser = sub.add_parser(
        "demo",
        help="run real programs through cuprum and explain the results",
        description=DEMO_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo_parser.add_argument(
        "--backend",
        choices=["asyncio", "trio", "both"],
        default="both",
        help="event loop to run the demo on (default: both, or asyncio alone without trio)",
    )
    sub.add_parser(
        "info",
        help="versions, event loops, native extension, stream strategy",
        description="Print what a bug report needs: versions, event loops, native "
        "extension and stream strategy.",
    )
    which_parser = sub.add_parser(
        "which",
        help="the file cuprum runs for a program (its pin)",
        description="Show the file cuprum runs for PROGRAM (its pin), where it was found "
        "and the directories skipped as untrusted. Exits 1 when it cannot be pinned.",
    )
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
        from cuprum._cli_which import which

        return which(args.program, args.catalogue)
    backends = ["asyncio", "trio"] if args.backend == "both" else [args.backend]
    if "trio" in backends and importlib.util.find_spec("trio") is None:
        if args.backend == "trio":
            demo_parser.error('--backend trio needs trio: pip install "cuprum[trio]"')
        backends = ["asyncio"]
    return demo(backends)
