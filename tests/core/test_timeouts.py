"""Timeouts: the three sources and their precedence, partial output, the grace period."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import anyio
import pytest
from core_support import DEADLINE, IGNORE_TERM, assert_dead, recording, shell

from cuprum import (
    SLEEP,
    CommandSpec,
    CuprumContext,
    CuprumError,
    ExecEvent,
    ExecutionContext,
    Pipeline,
    SafeCmd,
    ScopeConfig,
    TimeoutExpired,
    after,
    before,
    scoped,
    sh,
)
from cuprum._runtime.request import resolve_timeout

pytestmark = pytest.mark.anyio

FOREVER = sh.make(SLEEP)("300")


@pytest.mark.parametrize(
    ("explicit", "from_context", "from_scope", "expected"),
    [
        (0.1, None, None, 0.1),
        (None, 0.1, None, 0.1),
        (None, None, 0.1, 0.1),
        (0.1, 60.0, 60.0, 0.1),  # explicit beats both
        (0.15, 0.1, 0.1, 0.15),  # ...even when they are shorter
        (None, 0.1, 60.0, 0.1),  # context beats scope
        (None, 0.15, 0.1, 0.15),  # ...even when the scope is shorter
    ],
)
async def test_timeout_sources_and_precedence(
    explicit: float | None, from_context: float | None, from_scope: float | None, expected: float
) -> None:
    ctx = ExecutionContext(timeout=from_context)
    start = time.monotonic()
    with scoped(ScopeConfig(timeout=from_scope)), pytest.raises(TimeoutExpired) as excinfo:
        await FOREVER.run(timeout=explicit, context=ctx)
    elapsed = time.monotonic() - start
    assert excinfo.value.timeout == expected
    assert expected <= elapsed < DEADLINE


def test_resolve_timeout_order() -> None:
    scope = CuprumContext(timeout=3.0)
    assert resolve_timeout(1.0, ExecutionContext(timeout=2.0), scope) == 1.0
    assert resolve_timeout(None, ExecutionContext(timeout=2.0), scope) == 2.0
    assert resolve_timeout(None, ExecutionContext(), scope) == 3.0
    assert resolve_timeout(None, ExecutionContext(), CuprumContext()) is None


async def test_no_timeout_by_default() -> None:
    result = await shell("true").run()
    assert result.ok


async def test_a_command_that_finishes_in_time_is_unaffected() -> None:
    result = await shell("echo fast").run(timeout=DEADLINE)
    assert result.stdout == "fast\n"


@pytest.mark.parametrize("text", [True, False])
async def test_timeout_expired_carries_cmd_timeout_and_partial_output(text: bool) -> None:
    cmd = shell("echo partial-out; echo partial-err >&2; exec sleep 300")
    with recording() as rec, pytest.raises(subprocess.TimeoutExpired) as excinfo:
        await cmd.run(timeout=0.3, text=text)
    exc = excinfo.value
    assert isinstance(exc, TimeoutExpired) and isinstance(exc, CuprumError)
    assert exc.cmd == list(cmd.argv_with_program)
    assert exc.timeout == 0.3
    expected_out, expected_err = "partial-out\n", "partial-err\n"
    seen: tuple[object, ...] = (exc.output, exc.stdout, exc.stderr)
    if text:
        assert seen == (expected_out, expected_out, expected_err)
    else:
        assert seen == (expected_out.encode(), expected_out.encode(), expected_err.encode())
    assert str(exc).startswith("sh: ")
    assert "0.3" in str(exc)
    (terminal,) = rec.terminal
    assert (terminal.phase, terminal.error) == ("error", "timeout")
    assert rec.lines("stdout") == ["partial-out"]
    assert_dead(rec.pid)


async def test_timeout_without_capture_has_no_output() -> None:
    with pytest.raises(TimeoutExpired) as excinfo:
        await FOREVER.run(timeout=0.05, capture=False)
    assert excinfo.value.output is None and excinfo.value.stderr is None


@pytest.mark.parametrize("timeout", [0, 0.0, -1.0])
async def test_timeout_at_or_below_zero_expires_at_once_without_spawning(
    timeout: float, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    with recording() as rec, pytest.raises(TimeoutExpired) as excinfo:
        await shell(f"touch '{marker}'").run(timeout=timeout)
    assert excinfo.value.timeout == timeout
    assert rec.phases == ["plan", "error"]
    assert rec.terminal[0].error == "timeout"
    assert not marker.exists()


async def test_timeout_kills_a_term_ignoring_child_after_the_grace() -> None:
    grace, timeout = 0.3, 0.5
    ctx = ExecutionContext(cancel_grace=grace)
    start = time.monotonic()
    with recording() as rec, pytest.raises(TimeoutExpired) as excinfo:
        await shell(IGNORE_TERM).run(timeout=timeout, context=ctx)
    elapsed = time.monotonic() - start
    assert excinfo.value.output == "ready\n"  # it ignored SIGTERM before the deadline
    assert timeout + grace <= elapsed < DEADLINE
    (terminal,) = rec.terminal
    assert (terminal.error, terminal.exit_code) == ("timeout", -9)
    assert_dead(rec.pid)


async def test_timeout_of_a_well_behaved_child_does_not_wait_for_the_grace() -> None:
    ctx = ExecutionContext(cancel_grace=DEADLINE)
    start = time.monotonic()
    with recording() as rec, pytest.raises(TimeoutExpired):
        await FOREVER.run(timeout=0.1, context=ctx)
    assert time.monotonic() - start < DEADLINE
    assert rec.terminal[0].exit_code == -15


def test_run_sync_timeout_from_scope() -> None:
    with scoped(ScopeConfig(timeout=0.1)), pytest.raises(TimeoutExpired) as excinfo:
        FOREVER.run_sync()
    assert excinfo.value.timeout == 0.1


async def test_timeout_is_independent_of_an_outer_cancel_scope() -> None:
    with anyio.fail_after(DEADLINE), pytest.raises(TimeoutExpired):
        await FOREVER.run(timeout=0.05)


def test_cancel_grace_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="cancel_grace"):
        ExecutionContext(cancel_grace=-1)


async def test_timeout_applies_after_the_child_closed_its_output() -> None:
    with recording() as rec, pytest.raises(TimeoutExpired) as excinfo:
        await shell("exec >&- 2>&-; exec sleep 300").run(timeout=0.1)
    partial: tuple[object, ...] = (excinfo.value.output, excinfo.value.stderr)
    assert partial == ("", "")
    assert rec.terminal[0].error == "timeout"
    assert_dead(rec.pid)


@pytest.mark.parametrize("shape", ["command", "pipeline"])
async def test_a_timeouts_error_event_has_the_message_of_any_error(
    anyio_backend: str, shape: str
) -> None:
    """``message`` is ``"ExceptionType: text"`` for a timeout too, naming the program."""
    cmd = FOREVER if shape == "command" else FOREVER | sh.make(SLEEP)("300")
    with recording() as rec, pytest.raises(TimeoutExpired) as caught:
        await cmd.run(timeout=0.2)
    errors = [event for event in rec.events if event.phase == "error"]
    assert errors
    assert {event.message for event in errors} == {f"TimeoutExpired: {caught.value}"}
    assert "sleep" in str(caught.value)


def test_a_timeouts_error_event_on_the_direct_path_says_the_same() -> None:
    with recording() as rec, pytest.raises(TimeoutExpired) as caught:
        FOREVER.run_sync(timeout=0.2)
    [error] = [event for event in rec.events if event.phase == "error"]
    assert error.message == f"TimeoutExpired: {caught.value}"


def test_a_timeout_at_once_says_why_in_its_event() -> None:
    with recording() as rec, pytest.raises(TimeoutExpired):
        FOREVER.run_sync(timeout=0)
    [error] = [event for event in rec.events if event.phase == "error"]
    assert error.message is not None
    assert error.message.startswith("TimeoutExpired: ")
    assert error.message.endswith("(timeout of 0s expired at once)")


# A hook that is slow on purpose (it is what is under test, not a wait for a condition).
SLOW_HOOK_S = 0.4
TIMEOUT_S = 0.25


def _slow_hooks() -> tuple[Callable[[CommandSpec], None], Callable[[ExecEvent], None]]:
    def slow_before(cmd: CommandSpec) -> None:
        time.sleep(SLOW_HOOK_S)

    def slow_observe(event: ExecEvent) -> None:
        if event.phase in ("plan", "start"):
            time.sleep(SLOW_HOOK_S)

    return slow_before, slow_observe


@pytest.mark.parametrize("pipeline", [False, True], ids=["command", "pipeline"])
@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_slow_hooks_before_the_programs_start_do_not_use_up_the_timeout(
    backend: Literal["asyncio", "trio"], pipeline: bool
) -> None:
    # run_sync on asyncio runs a lone command without an event loop (the direct
    # path); its clock must start where the loop's does: once the programs started.
    slow_before, slow_observe = _slow_hooks()
    cmd: SafeCmd | Pipeline = shell("exit 0")
    if pipeline:
        cmd = shell("exit 0") | shell("exit 0")
    with before(slow_before), sh.observe(slow_observe), after(lambda cmd, result: None):
        result = cmd.run_sync(timeout=TIMEOUT_S, backend=backend)
    assert result.ok


async def test_slow_hooks_before_the_programs_start_do_not_use_up_the_timeout_on_the_loop() -> None:
    slow_before, slow_observe = _slow_hooks()
    with before(slow_before), sh.observe(slow_observe):
        assert (await shell("exit 0").run(timeout=TIMEOUT_S)).ok
        assert (await (shell("exit 0") | shell("exit 0")).run(timeout=TIMEOUT_S)).ok


def test_the_timeout_still_counts_once_the_program_started_after_slow_hooks() -> None:
    slow_before, slow_observe = _slow_hooks()
    start = time.monotonic()
    with before(slow_before), sh.observe(slow_observe), pytest.raises(TimeoutExpired):
        FOREVER.run_sync(timeout=TIMEOUT_S)
    assert time.monotonic() - start < DEADLINE
