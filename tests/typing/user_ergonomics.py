"""User code under ``mypy --strict``: builders, bound options, accepted codes, hooks.

Each ``# type: ignore[code]`` marks a mistake mypy must flag: the project's strict
settings warn about an ignore that is not needed, so if mypy stopped flagging the
mistake this file would fail to check.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import assert_type

from cuprum import (
    ECHO,
    GREP,
    Arg,
    CommandResult,
    CommandSpec,
    ExecEvent,
    ExecutionContext,
    InvalidArgumentError,
    Program,
    ProgramCatalogue,
    RunOptions,
    SafeCmd,
    SafeCmdBuilder,
    after,
    before,
    sh,
)
from cuprum.adapters.metrics_adapter import InMemoryMetrics, MetricsHook

PYTHON = Program(sys.executable, display_name="python")
python = sh.make(PYTHON, catalogue=ProgramCatalogue.of(PYTHON))


def refused(build: Callable[[], object]) -> None:
    """``build()`` raises: cuprum refuses at run time what mypy flags."""
    try:
        build()
    except (InvalidArgumentError, TypeError):
        return
    raise AssertionError("not refused")


def wrapper(*paths: Path, numbered: bool = False) -> SafeCmd:
    """A project's own builder: typed arguments go straight through."""
    args: list[Arg] = ["-n"] if numbered else []
    return sh.make(Program("cat"), catalogue=ProgramCatalogue.of(Program("cat")))(
        *args, "--", *paths
    )


def builders() -> None:
    echo = sh.make(ECHO)
    assert echo("a", 1, 2.5, Path("/tmp")).argv == ("a", "1", "2.5", "/tmp")
    files = ["a", "b"]
    assert echo(*files).argv == ("a", "b")
    refused(lambda: echo(files))  # type: ignore[arg-type]
    refused(lambda: echo(None))  # type: ignore[arg-type]
    refused(lambda: echo(b"bytes"))  # type: ignore[arg-type]
    refused(lambda: echo(names={"a": 1}))  # type: ignore[arg-type]
    assert wrapper(Path("/etc/hostname"), numbered=True).argv[:2] == ("-n", "--")


def bound_options(tmp: Path) -> None:
    ctx = ExecutionContext(cwd=tmp, env={"MODE": "test"})
    grep: SafeCmdBuilder = sh.make(GREP, accept=(0, 1), context=ctx, timeout=5)
    match = grep("-c", "x").run_sync(stdin=b"y\n")
    assert_type(match.stdout, str)
    assert match.ok and match.exit_code == 1 and match.stdout == "0\n"
    quick = python.with_options(timeout=1)("-c", "pass").with_options(check=True)
    assert_type(quick.run_sync(), CommandResult[str, str])
    defaults: RunOptions = {"timeout": 5, "check": True}
    assert python("-c", "pass").with_options(**defaults).run_sync().ok
    refused(lambda: python.with_options(text=False))  # type: ignore[call-arg]
    refused(lambda: python("-c", "pass").run_sync(timout=5))  # type: ignore[call-overload]
    refused(lambda: python("-c", "pass").run_sync(accept=1))  # type: ignore[call-overload]


def hooks() -> None:
    seen: list[str] = []

    def announce(cmd: CommandSpec) -> None:
        seen.append(cmd.program)

    def sizes(cmd: CommandSpec, result: CommandResult) -> None:
        # An after hook sees every run: its output may be str, bytes or None.
        out = result.stdout
        seen.append(f"{len(out) if out is not None else 0}")

    def text_only(cmd: CommandSpec, result: CommandResult[str]) -> None:
        seen.append(result.stdout)

    metrics = InMemoryMetrics()
    events: list[ExecEvent] = []
    with before(announce), after(sizes), sh.observe(events.append, MetricsHook(metrics)):
        python("-c", "print('hi')").run_sync()
    after(text_only).detach()  # type: ignore[arg-type]
    assert seen == [sys.executable, "3"]
    assert {ev.display_name for ev in events} == {"python"}


def catalogues(programs: Sequence[Program]) -> ProgramCatalogue:
    return ProgramCatalogue.of(*programs, project="tools", noise_rules=(r"^progress",))


if __name__ == "__main__":
    import tempfile

    builders()
    with tempfile.TemporaryDirectory() as tmp:
        bound_options(Path(tmp))
    hooks()
    assert catalogues([PYTHON]).lookup(PYTHON).project.name == "tools"
