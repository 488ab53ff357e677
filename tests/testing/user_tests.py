"""What a user's test file looks like: run by test_plugin.py through pytester.

Not collected directly (no ``test_`` prefix): ``test_plugin.py`` copies it into a
pytester directory and runs pytest on it with the ``cuprum.testing`` plugin.
"""

from __future__ import annotations

import contextlib
import re

import pytest

from cuprum import (
    ConcurrentConfig,
    ExecEvent,
    Program,
    ProgramCatalogue,
    ProjectSettings,
    TimeoutExpired,
    is_rust_available,
    run_concurrent,
    sh,
)
from cuprum.testing import FakePrograms, Outcome, Prefix

TOOL = Program("tool-that-is-not-installed")
CATALOGUE = ProgramCatalogue(projects=(ProjectSettings("demo", (TOOL,)),))
tool = sh.make(TOOL, catalogue=CATALOGUE)
NAME = str(TOOL)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_canned_stdout_and_exit_code(cuprum_fake: FakePrograms) -> None:
    status = cuprum_fake.expect(f"{NAME} status", stdout="clean\n", stderr="warn\n", exit_code=2)
    events: list[ExecEvent] = []
    with sh.observe(events.append):
        result = tool("status").run_sync()
    assert (result.exit_code, result.stdout, result.stderr) == (2, "clean\n", "warn\n")
    assert result.argv == (NAME, "status")
    assert {ev.argv for ev in events} == {(NAME, "status")}
    assert [ev.phase for ev in events] == ["plan", "start", "stdout", "stderr", "exit"]
    assert status.used and len(status.calls) == 1
    cuprum_fake.assert_all_used()


def test_killed_by_a_signal(cuprum_fake: FakePrograms) -> None:
    cuprum_fake.expect(Prefix(NAME), exit_code=-15)
    assert tool("anything").run_sync().exit_code == -15


@pytest.mark.anyio
async def test_async_run_regex_and_bytes(cuprum_fake: FakePrograms) -> None:
    cuprum_fake.expect(re.compile(rf"{NAME} fetch \S+"), stdout=b"\xff\x00")
    result = await tool("fetch", "origin").run(text=False)
    assert result.stdout == b"\xff\x00"


@pytest.mark.anyio
async def test_delay_hits_timeout_and_partial_output_survives(cuprum_fake: FakePrograms) -> None:
    cuprum_fake.expect(f"{NAME} slow", stdout="partial\n", delay=60)
    with pytest.raises(TimeoutExpired) as info:
        await tool("slow").run(timeout=0.5)
    assert info.value.output == "partial\n"


@pytest.fixture(params=["direct", "python", "rust"])
def stream_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "rust" and not is_rust_available():
        pytest.skip("stream strategy 'rust' needs the cuprum_native extension")
    monkeypatch.setenv("CUPRUM_STREAM_BACKEND", str(request.param))
    return str(request.param)


@pytest.mark.anyio
async def test_pipeline_of_fakes(cuprum_fake: FakePrograms, stream_backend: str) -> None:
    cuprum_fake.expect(f"{NAME} produce", stdout="a\nb\n")
    consume = cuprum_fake.expect(
        Prefix(NAME, "consume"), lambda argv: Outcome(stdout=f"{argv[-1]}: 2\n")
    )
    result = await (tool("produce") | tool("consume", "count")).run()
    assert result.stdout == "count: 2\n"
    assert [stage.argv[1] for stage in result.stages] == ["produce", "consume"]
    assert consume.calls[0].stdin == b"a\nb\n"


@pytest.mark.anyio
async def test_streaming_a_fake(cuprum_fake: FakePrograms) -> None:
    cuprum_fake.expect(f"{NAME} tail", stdout="one\ntwo\n", exit_code=1)
    async with tool("tail").stream() as handle:
        lines = [line async for line in handle.stdout_lines()]
        result = await handle.wait()
    assert (lines, result.exit_code) == (["one", "two"], 1)


@pytest.mark.anyio
async def test_run_concurrent_of_fakes(cuprum_fake: FakePrograms) -> None:
    cuprum_fake.expect(lambda argv: argv[1:2] == ("job",), lambda argv: Outcome(stdout=argv[2]))
    result = await run_concurrent(
        *(tool("job", str(n)) for n in range(4)), config=ConcurrentConfig(concurrency=2)
    )
    assert [r.stdout for r in result.results] == ["0", "1", "2", "3"]
    assert len(cuprum_fake.calls) == 4


def test_times_then_the_next_expectation(cuprum_fake: FakePrograms) -> None:
    cuprum_fake.expect(f"{NAME} poll", stdout="busy", times=2)
    cuprum_fake.expect(f"{NAME} poll", stdout="done")
    assert [tool("poll").run_sync().stdout for _ in range(3)] == ["busy", "busy", "done"]
    cuprum_fake.assert_all_used()


def test_unexpected_command_fails_even_when_caught(cuprum_fake: FakePrograms) -> None:
    cuprum_fake.expect(f"{NAME} status")
    with contextlib.suppress(Exception):  # the code under test swallows it; the fixture does not
        tool("push", "--force").run_sync()


def test_unused_expectation(cuprum_fake: FakePrograms) -> None:
    cuprum_fake.expect(f"{NAME} status")
    cuprum_fake.expect(Prefix(NAME, "deploy"), times=2)
    tool("status").run_sync()
    cuprum_fake.assert_all_used()
