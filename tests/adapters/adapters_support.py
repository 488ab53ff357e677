"""Shared pieces of the adapter tests: a catalogue with the test interpreter, probes."""

from __future__ import annotations

import sys
from collections.abc import Callable

import anyio

from cuprum import ExecEvent, Program, ProgramCatalogue, ProjectSettings, SafeCmd, sh

PY = Program(sys.executable)
MISSING = Program("cuprum-adapter-test-no-such-program-91c2")
PROJECT = "adapter-tests"
CATALOGUE = ProgramCatalogue(projects=(ProjectSettings(name=PROJECT, programs=(PY, MISSING)),))

# A child that prints "ready" and then waits until it is killed.
WAIT_FOREVER = "import sys, time\nprint('ready', flush=True)\ntime.sleep(300)"


def py(code: str, *args: str) -> SafeCmd:
    """``python -c code args...`` with the interpreter running the tests."""
    return sh.make(PY, catalogue=CATALOGUE)("-c", code, *args)


def missing() -> SafeCmd:
    """A catalogued program that does not exist, so spawning it fails."""
    return sh.make(MISSING, catalogue=CATALOGUE)()


def lines_then_exit(tag: str, count: int, code: int = 0) -> SafeCmd:
    """A child printing ``tag-0`` .. ``tag-<count-1>`` on stdout, ``err-<tag>`` on stderr."""
    return py(
        "import sys\n"
        "tag, n, code = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])\n"
        "for i in range(n):\n"
        "    print(f'{tag}-{i}', flush=True)\n"
        "print(f'err-{tag}', file=sys.stderr, flush=True)\n"
        "sys.exit(code)",
        tag,
        str(count),
        str(code),
    )


def cancel_on_line(scope: anyio.CancelScope, line: str) -> Callable[[ExecEvent], None]:
    """An observe hook that cancels ``scope`` once ``line`` is printed."""

    def hook(event: ExecEvent) -> None:
        if event.line == line:
            scope.cancel()

    return hook
