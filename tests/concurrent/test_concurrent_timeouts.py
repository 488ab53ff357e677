"""``run_concurrent``: a command's timeout is that command's failure; errors come bare."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from concurrent_support import Recorder, echo, is_dead, missing, shell, zombie_children

from cuprum import (
    ConcurrentConfig,
    ExecutionContext,
    ProgramNotFoundError,
    TimeoutExpired,
    WorkingDirectoryError,
    observe,
    run_concurrent,
)

pytestmark = pytest.mark.anyio

GUARD = ExecutionContext(timeout=20)


async def test_a_timeout_is_that_commands_failure_and_the_batch_goes_on(
    anyio_backend: str, tmp_path: Path
) -> None:
    done = tmp_path / "done"
    commands = [
        echo("first"),
        shell("-c", "echo partial; echo oops >&2; exec sleep 300").with_options(timeout=1.5),
        # Still running when the other times out: collect-all lets it finish.
        shell("-c", f"sleep 2; touch '{done}'; echo last"),
    ]
    rec = Recorder()
    started = time.monotonic()
    with observe(rec):
        result = await run_concurrent(*commands)
    assert time.monotonic() - started < 10  # not the 300 s of the sleep
    assert done.exists()
    assert [r.outcome for r in result.results] == ["exited", "timed_out", "exited"]
    assert [r.stdout for r in result.results] == ["first\n", "partial\n", "last\n"]
    timed_out = result.results[1]
    assert timed_out.stderr == "oops\n"
    assert timed_out.exit_code == -15 and timed_out.pid is not None
    assert is_dead(timed_out.pid)
    assert not timed_out.ok
    assert result.failures == (1,)
    assert result.first_failure is timed_out
    assert {e.error for e in rec.of("error")} == {"timeout"}
    # check() raises what cmd.run() would have: the TimeoutExpired, output kept.
    with pytest.raises(TimeoutExpired) as caught:
        result.check()
    assert caught.value.timeout == 1.5
    assert caught.value.output == "partial\n"
    stderr: object = caught.value.stderr  # typeshed says bytes; decoded like the result's
    assert stderr == "oops\n"
    assert result.timeouts[1] is caught.value
    assert zombie_children() == []


async def test_a_failure_that_exited_comes_first_in_submission_order(anyio_backend: str) -> None:
    commands = [
        shell("-c", "exec sleep 300").with_options(timeout=0.5),
        shell("-c", "exit 3"),
    ]
    result = await run_concurrent(*commands)
    assert [r.outcome for r in result.results] == ["timed_out", "exited"]
    assert result.first_failure is result.results[0]
    assert result.failures == (0, 1)


async def test_a_timeout_stops_a_fail_fast_batch(anyio_backend: str) -> None:
    commands = [
        shell("-c", "exec sleep 300").with_options(timeout=0.5),
        shell("-c", "exec sleep 300"),
        shell("-c", "exec sleep 300"),
    ]
    config = ConcurrentConfig(concurrency=2, fail_fast=True, context=GUARD)
    started = time.monotonic()
    result = await run_concurrent(*commands, config=config)
    assert time.monotonic() - started < 10
    assert [r.outcome for r in result.results] == ["timed_out", "cancelled", "not_started"]
    assert result.first_failure is result.results[0]
    with pytest.raises(TimeoutExpired):
        result.check()


async def test_text_false_timeout_keeps_bytes(anyio_backend: str) -> None:
    cmd = shell("-c", "printf '\\303'; exec sleep 300").with_options(timeout=1)
    result = await run_concurrent(cmd, config=ConcurrentConfig(text=False))
    assert result.results[0].outcome == "timed_out"
    assert result.results[0].stdout == b"\xc3"


@pytest.mark.parametrize("order", ["program-cwd", "cwd-program", "program-program"])
async def test_several_unstartable_commands_raise_one_error_bare(
    anyio_backend: str, tmp_path: Path, order: str
) -> None:
    # The same on asyncio and trio: the first error stops the batch and is raised
    # as itself, not in a group (whichever of the two fails first).
    rec = Recorder()
    no_program = missing()
    no_cwd = echo("x").with_options(context=ExecutionContext(cwd=tmp_path / "no-such-dir"))
    which = {"program": no_program, "cwd": no_cwd}
    unstartable = [which[name] for name in order.split("-")]
    commands = [shell("-c", "exec sleep 300"), *unstartable]
    with observe(rec), pytest.raises(Exception) as caught:
        await run_concurrent(*commands, config=ConcurrentConfig(context=GUARD))
    assert type(caught.value) in (ProgramNotFoundError, WorkingDirectoryError)
    for event in rec.of("start"):
        assert event.pid is not None and is_dead(event.pid)
    assert zombie_children() == []
