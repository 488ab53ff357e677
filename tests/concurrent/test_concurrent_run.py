"""``run_concurrent``: order, limits, failures, fail-fast, hooks, capture, leaks."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from concurrent_support import (
    Recorder,
    echo,
    is_dead,
    missing,
    open_fds,
    peak_overlap,
    python,
    shell,
    true,
    zombie_children,
)

from cuprum import (
    CommandResult,
    CommandSpec,
    ConcurrentConfig,
    ExecEvent,
    ExecutionContext,
    ForbiddenProgramError,
    ProgramNotFoundError,
    SafeCmd,
    ScopeConfig,
    after,
    before,
    observe,
    run_concurrent,
    run_concurrent_sync,
    scoped,
)

pytestmark = pytest.mark.anyio

#: A deadline for commands that should be stopped long before it: if stopping
#: were broken the test fails with TimeoutExpired instead of hanging.
GUARD = ExecutionContext(timeout=20)


def wait_loop(condition: str) -> str:
    """sh: poll until ``condition`` holds; after about 10 s give up with exit 99."""
    return f"n=0; until {condition}; do n=$((n+1)); [ $n -gt 2000 ] && exit 99; sleep 0.005; done"


def waits_for(path: Path, then: str) -> SafeCmd:
    """``sh``: wait (polling) until ``path`` exists, then run ``then``."""
    return shell("-c", f"{wait_loop(f'[ -e {str(path)!r} ]')}; {then}")


async def test_results_in_submission_order(anyio_backend: str, tmp_path: Path) -> None:
    # Command i waits until cuprum has finished command i+1 (the after hook writes
    # the marker), so they complete in exactly the reverse of submission order.
    n = 6
    done = [tmp_path / f"done-{i}" for i in range(n)]
    commands = [waits_for(done[i + 1], f"echo {i}") for i in range(n - 1)]
    commands.append(echo(str(n - 1)))
    finished: list[int] = []

    def completed(cmd: CommandSpec, result: CommandResult[str]) -> None:
        index = int(str(result.stdout))
        finished.append(index)
        done[index].touch()

    with after(completed):
        result = await run_concurrent(*commands)
    assert finished == list(reversed(range(n)))
    assert [r.stdout for r in result.results] == [f"{i}\n" for i in range(n)]
    assert [r.argv for r in result.results] == [c.argv_with_program for c in commands]
    assert result.ok
    assert result.failures == ()
    assert result.first_failure is None


#: Records its own start and end (time.time()) and, in between, waits until as many
#: commands run at once as the limit can allow, so a limit that is reached is seen.
OVERLAP_CHILD = """
import os, sys, time
d, i, total, limit = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
start = time.time()
open(os.path.join(d, "start-" + i), "x").close()
count = lambda prefix: sum(name.startswith(prefix) for name in os.listdir(d))
deadline = time.monotonic() + 20
while time.monotonic() < deadline:
    started, ended = count("start-"), count("end-")
    if started - ended >= min(limit, total - ended):
        break
    time.sleep(0.002)
print(start, time.time())
open(os.path.join(d, "end-" + i), "x").close()
"""


@pytest.mark.parametrize("limit", [1, 3, None])
async def test_concurrency_limit(anyio_backend: str, tmp_path: Path, limit: int | None) -> None:
    total = 9
    effective = limit or total
    commands = [
        python("-c", OVERLAP_CHILD, str(tmp_path), str(i), str(total), str(effective))
        for i in range(total)
    ]
    result = await run_concurrent(*commands, config=ConcurrentConfig(concurrency=limit))
    assert result.ok
    intervals: list[tuple[float, float]] = []
    for r in result.results:
        start, end = (float(x) for x in str(r.stdout).split())
        intervals.append((start, end))
    # Never more than the limit at once, and the limit was actually reached.
    assert peak_overlap(intervals) == effective


@pytest.mark.parametrize("limit", [1, 2])
async def test_limited_batches_start_in_submission_order(
    anyio_backend: str, tmp_path: Path, limit: int
) -> None:
    log = tmp_path / "log"
    commands: list[CommandSpec] = [shell("-c", f"echo {i} >> '{log}'") for i in range(8)]
    for _ in range(5):  # trio may run a batch of tasks in reverse: give it chances
        log.unlink(missing_ok=True)
        begun: list[CommandSpec] = []
        with before(begun.append):
            result = await run_concurrent(*commands, config=ConcurrentConfig(concurrency=limit))
        assert result.ok
        if limit == 1:
            assert log.read_text().split() == [str(i) for i in range(8)]
            assert begun == commands
        else:  # the first `limit` are let in together, and so on
            positions = [commands.index(cmd) for cmd in begun]
            assert all(p < (k // limit + 1) * limit for k, p in enumerate(positions))


async def test_collect_all_runs_everything(anyio_backend: str) -> None:
    codes = [0, 3, 0, 5, 0]
    commands = [shell("-c", f"echo {i}; exit {code}") for i, code in enumerate(codes)]
    result = await run_concurrent(*commands, config=ConcurrentConfig(concurrency=2))
    assert [r.exit_code for r in result.results] == codes
    assert [r.outcome for r in result.results] == ["exited"] * len(codes)
    assert [r.stdout for r in result.results] == [f"{i}\n" for i in range(len(codes))]
    assert result.failures == (1, 3)
    assert result.first_failure is result.results[1]
    assert not result.ok


async def test_fail_fast_cancels_running_and_never_starts_pending(
    anyio_backend: str, tmp_path: Path
) -> None:
    limit, total = 3, 7
    marker = [tmp_path / f"started-{i}" for i in range(total)]
    commands = [
        # The failure comes once the two others holding a slot are running.
        shell("-c", wait_loop(f"[ -e '{marker[1]}' ] && [ -e '{marker[2]}' ]") + "; exit 7"),
        *(shell("-c", f"touch '{marker[i]}'; exec sleep 300") for i in range(1, total)),
    ]
    begun: list[tuple[str, ...]] = []
    rec = Recorder()
    started = time.monotonic()
    with before(lambda cmd: begun.append(cmd.argv_with_program)), observe(rec):
        result = await run_concurrent(
            *commands, config=ConcurrentConfig(concurrency=limit, fail_fast=True, context=GUARD)
        )
    assert time.monotonic() - started < 10  # not the 300 s the others would take
    outcomes = [r.outcome for r in result.results]
    assert outcomes == ["exited", "cancelled", "cancelled"] + ["not_started"] * (total - 3)
    assert result.results[0].exit_code == 7
    assert result.first_failure is result.results[0]
    assert result.failures == tuple(range(total))
    assert not result.ok
    # Cancelled commands keep their pid and the status the teardown left (SIGTERM);
    # never-started ones have nothing to keep.
    start_pids = {e.argv: e.pid for e in rec.of("start")}
    for r in result.results[1:3]:
        assert (r.exit_code, r.stdout, r.stderr) == (-15, "", "")
        assert r.pid is not None and r.pid == start_pids[r.argv]
        assert r.duration_s > 0
    for r in result.results[3:]:
        assert (r.exit_code, r.pid, r.stdout, r.stderr) == (-1, None, None, None)
    assert not any(r.ok for r in result.results)
    # Pending commands were never spawned: no before hook, no marker, no events.
    assert begun == [c.argv_with_program for c in commands[:3]]
    assert [m.exists() for m in marker[1:]] == [True, True] + [False] * (total - 3)
    assert len({e.pid for e in rec.of("start")}) == 3
    # The cancelled ones are dead and reported as cancelled.
    for event in rec.of("start"):
        assert event.pid is not None and is_dead(event.pid)
    assert sorted(e.argv[2][-14:] for e in rec.of("error")) == ["exec sleep 300"] * 2
    assert {e.error for e in rec.of("error")} == {"cancelled"}


async def cancelled_by_fail_fast(
    tmp_path: Path, script: str, context: ExecutionContext = GUARD
) -> CommandResult[Any]:
    """Run ``script`` (then ``sleep 300``) beside a command that fails once it has
    run; return the entry fail-fast mode gives the cancelled ``script``."""
    ready = tmp_path / "ready"
    commands = [
        shell("-c", f"{script}; touch '{ready}'; exec sleep 300"),
        waits_for(ready, "exit 4"),
    ]
    config = ConcurrentConfig(fail_fast=True, context=context)
    result = await run_concurrent(*commands, config=config)
    assert result.failures == (0, 1)
    cancelled = result.results[0]
    assert cancelled.outcome == "cancelled"
    return cancelled


async def test_fail_fast_keeps_the_output_of_cancelled_commands(
    anyio_backend: str, tmp_path: Path
) -> None:
    cancelled = await cancelled_by_fail_fast(tmp_path, "echo partial; echo oops >&2")
    assert (cancelled.stdout, cancelled.stderr) == ("partial\n", "oops\n")
    assert cancelled.exit_code == -15 and cancelled.pid is not None
    assert is_dead(cancelled.pid)


async def test_cancelled_output_that_cannot_be_decoded_strictly_is_bytes(
    anyio_backend: str, tmp_path: Path
) -> None:
    # The first byte of a two-byte UTF-8 character on stdout, then cancelled: the
    # entry cannot raise, so that stream is its bytes; everything else is kept.
    strict = ExecutionContext(timeout=20, errors="strict")
    script = "printf '\\303'; echo fine >&2"
    cancelled = await cancelled_by_fail_fast(tmp_path, script, strict)
    assert (cancelled.stdout, cancelled.stderr) == (b"\xc3", "fine\n")
    assert cancelled.exit_code == -15 and cancelled.pid is not None


async def test_fail_fast_without_a_limit(anyio_backend: str, tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    commands = [
        shell("-c", f"touch '{ready}'; exec sleep 300"),
        waits_for(ready, "exit 4"),
        shell("-c", "exec sleep 300"),
    ]
    result = await run_concurrent(*commands, config=ConcurrentConfig(fail_fast=True, context=GUARD))
    assert [r.outcome for r in result.results] == ["cancelled", "exited", "cancelled"]
    assert result.first_failure is result.results[1]
    assert result.results[1].exit_code == 4


async def test_fail_fast_when_everything_succeeds(anyio_backend: str) -> None:
    commands = [echo(str(i)) for i in range(5)]
    result = await run_concurrent(*commands, config=ConcurrentConfig(fail_fast=True))
    assert result.ok
    assert [r.stdout for r in result.results] == [f"{i}\n" for i in range(5)]


async def test_hooks_fire_per_command(anyio_backend: str) -> None:
    commands: list[CommandSpec] = [shell("-c", f"echo out-{i}; exit {i % 2}") for i in range(5)]
    befores: list[CommandSpec] = []
    afters: list[tuple[CommandSpec, object]] = []
    rec = Recorder()
    with before(befores.append), after(lambda c, r: afters.append((c, r))), observe(rec):
        result = await run_concurrent(*commands, config=ConcurrentConfig(concurrency=2))
    assert sorted(befores, key=commands.index) == commands
    assert sorted((c for c, _ in afters), key=commands.index) == commands
    for cmd, res in afters:
        assert res is result.results[commands.index(cmd)]
    for phase in ("plan", "start", "exit"):
        assert sorted(e.argv for e in rec.of(phase)) == sorted(
            c.argv_with_program for c in commands
        )
    by_pid = {e.pid: e for e in rec.of("exit")}
    for r in result.results:
        assert by_pid[r.pid].exit_code == r.exit_code
    lines = sorted((e.line or "") for e in rec.of("stdout"))
    assert lines == [f"out-{i}" for i in range(5)]
    # Single commands: no pipeline tags.
    assert all("pipeline_stage_index" not in e.tags for e in rec.events)


async def test_capture_false_gives_none(anyio_backend: str, tmp_path: Path) -> None:
    commands = [
        shell("-c", f"echo out; echo err >&2; touch '{tmp_path / str(i)}'") for i in range(3)
    ]
    result = await run_concurrent(*commands, config=ConcurrentConfig(capture=False))
    assert result.ok
    assert all(r.stdout is None and r.stderr is None for r in result.results)
    assert all(r.pid is not None and r.exit_code == 0 for r in result.results)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0", "1", "2"]


async def test_echo_and_shared_context(anyio_backend: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    ctx = ExecutionContext(env={"WHO": "ctx"}, stdout_sink=out, stderr_sink=err)
    commands = [shell("-c", f'echo "{i}-$WHO"; echo "e{i}" >&2') for i in range(4)]
    result = await run_concurrent(*commands, config=ConcurrentConfig(echo=True, context=ctx))
    assert [r.stdout for r in result.results] == [f"{i}-ctx\n" for i in range(4)]
    assert sorted(out.getvalue().splitlines()) == [f"{i}-ctx" for i in range(4)]
    assert sorted(err.getvalue().splitlines()) == [f"e{i}" for i in range(4)]


async def test_300_commands_leak_no_fds_or_zombies(anyio_backend: str) -> None:
    config = ConcurrentConfig(concurrency=32)
    await run_concurrent(*(true() for _ in range(64)), config=config)  # warm-up
    fds = open_fds()
    commands = [echo(str(i)) for i in range(300)]
    result = await run_concurrent(*commands, config=config)
    assert result.ok
    assert [r.stdout for r in result.results] == [f"{i}\n" for i in range(300)]
    assert len({r.pid for r in result.results}) == 300
    assert open_fds() == fds
    assert zombie_children() == []


async def test_caller_cancellation_stops_every_command(anyio_backend: str) -> None:
    rec = Recorder()
    started: list[int] = []
    with anyio.CancelScope() as scope:

        def hook(event: ExecEvent) -> None:
            rec(event)
            if event.phase == "stdout" and event.line == "ready":
                started.append(1)
                if len(started) == 3:
                    scope.cancel()

        with observe(hook):
            await run_concurrent(
                *(shell("-c", "echo ready; exec sleep 300") for _ in range(3)),
                config=ConcurrentConfig(context=GUARD),
            )
    assert scope.cancelled_caught
    pids = [e.pid for e in rec.of("start")]
    assert len(pids) == 3
    assert all(pid is not None and is_dead(pid) for pid in pids)
    assert {e.error for e in rec.of("error")} == {"cancelled"}


async def test_forbidden_command_refuses_the_whole_batch(
    anyio_backend: str, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    allowed = shell("-c", f"touch '{marker}'")
    forbidden = echo("no")
    begun: list[CommandSpec] = []
    with scoped(ScopeConfig(allowlist=frozenset([allowed.program]))), before(begun.append):
        with pytest.raises(ForbiddenProgramError, match="echo"):
            await run_concurrent(
                allowed, allowed, forbidden, config=ConcurrentConfig(concurrency=1)
            )
    # Checked before anything runs, like a single command's allowlist check.
    assert begun == []
    assert not marker.exists()


async def test_unstartable_command_leaves_nothing_running(anyio_backend: str) -> None:
    # The error comes bare, as from cmd.run(), and stops the batch.
    rec = Recorder()
    with observe(rec), pytest.raises(ProgramNotFoundError, match="not found"):
        await run_concurrent(
            shell("-c", "exec sleep 300"), missing(), config=ConcurrentConfig(context=GUARD)
        )
    for event in rec.of("start"):
        assert event.pid is not None and is_dead(event.pid)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_run_concurrent_sync(backend: str) -> None:
    commands = [shell("-c", f"echo {i}; exit {i // 2}") for i in range(3)]
    result = run_concurrent_sync(*commands, backend=backend)  # type: ignore[arg-type]
    assert [r.stdout for r in result.results] == ["0\n", "1\n", "2\n"]
    assert result.failures == (2,)


def test_config_rejects_zero_concurrency() -> None:
    with pytest.raises(ValueError, match="concurrency"):
        ConcurrentConfig(concurrency=0)


async def test_empty_batch(anyio_backend: str) -> None:
    result = await run_concurrent()
    assert result.results == ()
    assert result.ok
    assert result.first_failure is None
    # Even with nothing to run it is a checkpoint, like any async call.
    with anyio.CancelScope() as scope:
        scope.cancel()
        await run_concurrent()
        pytest.fail("run_concurrent() did not notice the cancellation")
    assert scope.cancelled_caught
