"""The users' guide spec's "Concurrent command execution" examples, run as written.

Placeholders (``allowlist=...``, ``cmd1``, ``*commands``) are given concrete values;
the legacy ``scoped(allowlist=...)`` form must still work and warn.
"""

from __future__ import annotations

import warnings

import pytest

from cuprum import ConcurrentResult

BASIC = """
from cuprum import ECHO, ScopeConfig, run_concurrent_sync, scoped, sh

echo = sh.make(ECHO)
commands = [echo("-n", f"task-{i}") for i in range(5)]

with scoped(ScopeConfig(allowlist=frozenset([ECHO]))):
    result = run_concurrent_sync(*commands)

print(f"All succeeded: {result.ok}")
for cmd_result in result.results:
    print(cmd_result.stdout)
"""

ASYNC = """
import asyncio

from cuprum import ECHO, ScopeConfig, run_concurrent, scoped, sh


async def main() -> None:
    echo = sh.make(ECHO)
    commands = [echo("-n", f"task-{i}") for i in range(5)]

    with scoped(ScopeConfig(allowlist=frozenset([ECHO]))):
        result = await run_concurrent(*commands)

    print(f"All succeeded: {result.ok}")


asyncio.run(main())
"""

CONFIG = """
from cuprum import ECHO, ConcurrentConfig, run_concurrent_sync, scoped, sh

echo = sh.make(ECHO)
commands = [echo("-n", f"task-{i}") for i in range(10)]

config = ConcurrentConfig(
    concurrency=3,  # At most 3 commands run simultaneously
    capture=True,  # Capture stdout/stderr (default)
    echo=False,  # Do not tee output (default)
    fail_fast=False,  # Continue after failures (default)
)

with scoped(allowlist=frozenset([ECHO])):
    result = run_concurrent_sync(*commands, config=config)
"""

LIMIT = """
from cuprum import ECHO, ConcurrentConfig, run_concurrent_sync, scoped, sh

echo = sh.make(ECHO)
commands = [echo("-n", f"task-{i}") for i in range(10)]

with scoped(allowlist=frozenset([ECHO])):
    # At most 3 commands run simultaneously
    result = run_concurrent_sync(*commands, config=ConcurrentConfig(concurrency=3))
"""

FAILURES = """
from cuprum import run_concurrent_sync, scoped

with scoped(allowlist=...):
    result = run_concurrent_sync(cmd1, cmd2, cmd3)

if not result.ok:
    print(f"Failed command indices: {result.failures}")
    print(f"First failure: {result.first_failure}")
"""

FAIL_FAST = """
from cuprum import ConcurrentConfig, run_concurrent_sync, scoped

with scoped(allowlist=...):
    result = run_concurrent_sync(*commands, config=ConcurrentConfig(fail_fast=True))

if not result.ok:
    print(f"First failure: {result.first_failure}")
    # Remaining commands were cancelled
"""

HOOKS = """
from cuprum import ECHO, before, run_concurrent_sync, scoped, sh


def log_start(cmd) -> None:
    print(f"Starting: {cmd.program}")


echo = sh.make(ECHO)
commands = [echo("-n", f"task-{i}") for i in range(3)]

with scoped(allowlist=frozenset([ECHO])), before(log_start):
    # log_start fires for each command
    result = run_concurrent_sync(*commands)
"""

PLACEHOLDERS = """
from cuprum import FALSE, SLEEP, TRUE, sh

ALLOWLIST = frozenset([TRUE, FALSE, SLEEP])
cmd1, cmd2, cmd3 = sh.make(TRUE)(), sh.make(FALSE)(), sh.make(TRUE)()
commands = [sh.make(SLEEP)("300"), sh.make(FALSE)(), sh.make(SLEEP)("300")]
"""


def run_example(
    source: str, *, legacy: bool, placeholders: bool = False
) -> tuple[dict[str, object], list[warnings.WarningMessage]]:
    namespace: dict[str, object] = {"__name__": "guide_example"}
    if placeholders:
        exec(PLACEHOLDERS, namespace)
        source = source.replace("allowlist=...", "allowlist=ALLOWLIST")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exec(compile(source, "users-guide.md", "exec"), namespace)
    deprecations = [w for w in caught if issubclass(w.category, DeprecationWarning)]
    if legacy:
        assert len(deprecations) == 1
        assert "ScopeConfig" in str(deprecations[0].message)
        # stacklevel points at the caller's `with scoped(...)` line.
        assert deprecations[0].filename == "users-guide.md"
    else:
        assert deprecations == []
    return namespace, caught


def test_basic_usage(capsys: pytest.CaptureFixture[str]) -> None:
    run_example(BASIC, legacy=False)
    assert capsys.readouterr().out == "All succeeded: True\n" + "".join(
        f"task-{i}\n" for i in range(5)
    )


def test_async_usage(capsys: pytest.CaptureFixture[str]) -> None:
    run_example(ASYNC, legacy=False)
    assert capsys.readouterr().out == "All succeeded: True\n"


@pytest.mark.parametrize("source", [CONFIG, LIMIT], ids=["config", "limit"])
def test_config_examples(source: str) -> None:
    namespace, _ = run_example(source, legacy=True)
    result = namespace["result"]
    assert isinstance(result, ConcurrentResult)
    assert result.ok
    assert [r.stdout for r in result.results] == [f"task-{i}" for i in range(10)]


def test_failure_handling(capsys: pytest.CaptureFixture[str]) -> None:
    run_example(FAILURES, legacy=True, placeholders=True)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Failed command indices: (1,)"
    assert out[1].startswith("First failure: CommandResult(program='false'")


def test_fail_fast(capsys: pytest.CaptureFixture[str]) -> None:
    namespace, _ = run_example(FAIL_FAST, legacy=True, placeholders=True)
    assert capsys.readouterr().out.startswith("First failure: CommandResult(program='false'")
    result = namespace["result"]
    assert isinstance(result, ConcurrentResult)
    assert [r.outcome for r in result.results] == ["cancelled", "exited", "cancelled"]


def test_hook_semantics(capsys: pytest.CaptureFixture[str]) -> None:
    run_example(HOOKS, legacy=True)
    assert capsys.readouterr().out == "Starting: echo\n" * 3
