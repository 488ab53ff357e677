"""A streamed run's observers see every stdout line before its terminal event.

The handle reads the final stdout in the caller's task, maybe long after the
program exited; the run ends only once that stdout has been read to its end,
and a run that ended early (timeout, leaving the block) sends no line after its
terminal event.
"""

from __future__ import annotations

import pytest
from anyio import wait_all_tasks_blocked

from cuprum import TimeoutExpired, observe

from .streaming_support import Recorder, process_state, py, wait_until

pytestmark = pytest.mark.anyio

THREE_LINES = "print('a'); print('b'); print('c')"


def assert_terminal_last(recorder: Recorder) -> None:
    """Each stage's terminal event is its last (stages: one ``tags`` mapping each)."""
    stages: dict[int, list[str]] = {}
    for event in recorder.events:
        stages.setdefault(id(event.tags), []).append(event.phase)
    for phases in stages.values():
        assert phases[-1] in ("exit", "error"), phases
        assert sum(phase in ("exit", "error") for phase in phases) == 1, phases


async def test_lines_read_after_the_program_exited_come_before_exit(
    anyio_backend: str, stream_backend: str
) -> None:
    recorder = Recorder()
    with observe(recorder):
        async with (
            py(THREE_LINES) | py("import sys; sys.stdout.write(sys.stdin.read())")
        ).stream() as handle:
            last = handle.pids[-1]
            await wait_until(lambda: process_state(last) in ("Z", None), "the program to exit")
            await wait_all_tasks_blocked()  # the run had every chance to end by now
            lines = [line async for line in handle.stdout_lines()]
            result = await handle.wait()
    assert lines == ["a", "b", "c"]
    assert result.ok
    assert [
        event.line for event in recorder.of("stdout") if event.tags.get("pipeline_stage_index") == 1
    ] == lines
    assert_terminal_last(recorder)
    assert recorder.events[-1].phase == "exit"


async def test_leaving_the_block_unread_ends_the_run_without_later_lines(
    anyio_backend: str,
) -> None:
    recorder = Recorder()
    with observe(recorder):
        async with py(THREE_LINES).stream() as handle:
            (pid,) = handle.pids
            await wait_until(lambda: process_state(pid) in ("Z", None), "the program to exit")
    assert recorder.of("stdout") == []  # nobody read them
    assert_terminal_last(recorder)
    assert recorder.events[-1].error == "cancelled"


async def test_no_line_event_after_a_timeout(anyio_backend: str) -> None:
    recorder = Recorder()
    code = "import sys, time; print('early', flush=True); time.sleep(30)"
    lines: list[str] = []

    async def read_after_the_teardown() -> None:
        async with py(code).stream(timeout=0.5) as handle:
            (pid,) = handle.pids
            await wait_until(lambda: process_state(pid) is None, "the teardown")
            lines.extend([line async for line in handle.stdout_lines()])  # still in the pipe
            await handle.wait()

    with observe(recorder), pytest.raises(TimeoutExpired):
        await read_after_the_teardown()
    assert lines == ["early"]
    assert recorder.of("stdout") == []
    assert_terminal_last(recorder)
    assert recorder.events[-1].error == "timeout"
