"""Per-stage events of pipelines, and intermediate stdout with ``stage_events=True``."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from cuprum import (
    ExecEvent,
    ExecutionContext,
    Program,
    SafeCmd,
    ScopeConfig,
    SpawnError,
    StreamBackendError,
    before,
    observe,
    scoped,
)

from .pipeline_support import PROJECT, Recorder, cat, python, shell, sleep

pytestmark = pytest.mark.anyio

UPPER = "import sys; sys.stdout.write(sys.stdin.read().upper())"


async def test_plan_start_exit_per_stage(anyio_backend: str, stream_backend: str) -> None:
    rec = Recorder()
    pipeline = shell("-c", "printf 'a\\nb\\n'; echo e0 >&2") | python("-c", UPPER) | cat()
    ctx = ExecutionContext(tags={"run_id": "r-1"})
    with observe(rec):
        result = await pipeline.run(context=ctx)
    assert result.ok
    for index, stage in enumerate(result.stages):
        phases = [e.phase for e in rec.events if e.tags.get("pipeline_stage_index") == index]
        assert phases[0] == "plan"
        assert phases[1] == "start"
        assert phases[-1] == "exit"
        assert phases.count("exit") == 1
        assert "error" not in phases
        (start,) = rec.of("start", index)
        (exit_,) = rec.of("exit", index)
        assert start.pid == exit_.pid == stage.pid
        assert exit_.exit_code == stage.exit_code == 0
        assert start.program == stage.program
        for event in (start, exit_):
            assert event.tags["pipeline_stages"] == 3
            assert event.tags["run_id"] == "r-1"
            assert event.tags["project"] == "pipeline-tests"
    # Every event carries a stage index; line events come from the stage that wrote.
    assert all("pipeline_stage_index" in e.tags for e in rec.events)
    assert rec.lines("stderr", 0) == ["e0"]
    # Without stage_events only the final stage's stdout is observed.
    assert rec.of("stdout", 0) == rec.of("stdout", 1) == []
    assert rec.lines("stdout", 2) == ["A", "B"]


async def test_stage_events_report_intermediate_stdout(
    anyio_backend: str, stream_backend: str
) -> None:
    rec = Recorder()
    pipeline = (
        shell("-c", "printf 'one\\ntwo\\nthree'")  # the last line has no newline
        | python("-c", UPPER)
        | python("-c", "import sys\nfor line in sys.stdin: print(len(line.strip()))")
    )
    with observe(rec):
        if stream_backend == "direct":
            with pytest.raises(StreamBackendError, match="stage_events"):
                await pipeline.run(stage_events=True)
            return
        result = await pipeline.run(stage_events=True)
    assert result.ok
    assert result.stdout == "3\n3\n5\n"
    assert rec.lines("stdout", 0) == ["one", "two", "three"]
    assert rec.lines("stdout", 1) == ["ONE", "TWO", "THREE"]
    assert rec.lines("stdout", 2) == ["3", "3", "5"]
    for index in range(3):
        pids = {e.pid for e in rec.of("stdout", index)}
        assert pids == {result.stages[index].pid}
        # Line events fall between the stage's start and its exit.
        phases = [e.phase for e in rec.events if e.tags.get("pipeline_stage_index") == index]
        assert phases.index("start") < phases.index("stdout")
        assert max(i for i, p in enumerate(phases) if p == "stdout") < phases.index("exit")
    # Intermediate stdout is observed, never captured.
    assert result.stages[0].stdout is None
    assert result.stages[1].stdout is None


async def test_stage_events_with_many_lines(anyio_backend: str, stream_backend: str) -> None:
    rec = Recorder()
    count = 20000
    pipeline = python("-c", f"for i in range({count}): print(i)") | cat() | python("-c", UPPER)
    with observe(rec):
        if stream_backend == "direct":  # cannot observe hops: refused, nothing runs
            with pytest.raises(StreamBackendError):
                await pipeline.run(stage_events=True)
            assert rec.events == []
            return
        result = await pipeline.run(stage_events=True)
    assert result.ok
    expected = [str(i) for i in range(count)]
    assert rec.lines("stdout", 0) == expected
    assert rec.lines("stdout", 1) == expected
    assert rec.lines("stdout", 2) == expected


async def test_direct_with_stage_events_is_refused_up_front(
    anyio_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUPRUM_STREAM_BACKEND", "direct")
    rec = Recorder()
    started: list[object] = []
    with observe(rec), before(started.append):
        with pytest.raises(StreamBackendError) as info:
            await (shell("-c", "echo x") | cat()).run(stage_events=True)
    message = str(info.value)
    assert "CUPRUM_STREAM_BACKEND=direct" in message
    assert "stage_events" in message
    # Refused like a misuse: nothing was planned, started or reported as cancelled.
    assert rec.events == []
    assert started == []


async def test_unknown_strategy_is_refused(
    anyio_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUPRUM_STREAM_BACKEND", "carrier-pigeon")
    rec = Recorder()
    with scoped(ScopeConfig(observe_hooks=(rec,))):
        with pytest.raises(StreamBackendError, match="carrier-pigeon"):
            await (shell("-c", "echo x") | cat()).run()
        # A single command has no hops, so no strategy is involved.
        single = await shell("-c", "echo x").run()
    assert single.stdout == "x\n"
    assert [e.phase for e in rec.events if e.phase in ("start", "error")] == ["start"]


async def test_a_stage_started_before_a_later_one_failed_to_start_has_its_start(
    anyio_backend: str, stream_backend: str, tmp_path: Path
) -> None:
    """The first stage's process existed (a pid, stopped by the teardown): observers
    see its ``start`` before its ``error``, so counting ``start`` counts every process."""
    junk = tmp_path / "junk"
    junk.write_bytes(b"\x7fnot a program at all\n")  # executable, but neither ELF nor script
    junk.chmod(0o755)
    pipeline = sleep("30") | SafeCmd(Program(str(junk)), (), PROJECT)
    rec = Recorder()
    with observe(rec), pytest.raises(SpawnError) as caught:
        await pipeline.run()
    assert caught.value.errno == errno.ENOEXEC
    first = [(e.phase, e.pid) for e in rec.events if e.tags.get("pipeline_stage_index") == 0]
    assert [phase for phase, _ in first] == ["plan", "start", "error"]
    assert first[1][1] is not None and first[1][1] == first[2][1]
    second = [e.phase for e in rec.events if e.tags.get("pipeline_stage_index") == 1]
    assert second == ["plan", "error"]


async def test_a_hook_raising_on_that_start_does_not_hide_the_spawn_failure(
    anyio_backend: str, tmp_path: Path
) -> None:
    junk = tmp_path / "junk"
    junk.write_bytes(b"\x7fnot a program at all\n")
    junk.chmod(0o755)

    def refuse_start(event: ExecEvent) -> None:
        if event.phase == "start":
            raise RuntimeError("hook")

    with observe(refuse_start), pytest.raises(SpawnError):
        await (sleep("30") | SafeCmd(Program(str(junk)), (), PROJECT)).run()
