"""An outcome function's own exception reaches the test as itself (its type, its
traceback), with a note naming the fake's expectation and the command; nothing the run
started outlives it."""

from __future__ import annotations

import pytest
from processes import wait_until_dead

from cuprum import ExecEvent, Program, ProgramCatalogue, ProjectSettings, sh
from cuprum.testing import FakePrograms, Outcome, Prefix

TOOL = Program("tool-that-is-not-installed")
tool = sh.make(TOOL, catalogue=ProgramCatalogue(projects=(ProjectSettings("demo", (TOOL,)),)))
NOTE = f"cuprum.testing: raised by the outcome function of prefix ['{TOOL}', 'b'] (for '{TOOL} b')"


class TestBug(Exception):
    """The test's own error, raised by its outcome function."""

    __test__ = False


def _buggy(argv: tuple[str, ...]) -> Outcome:
    raise TestBug(f"bug in the test's fake for {argv[-1]}")


def _surfaced(excinfo: pytest.ExceptionInfo[TestBug]) -> None:
    assert type(excinfo.value) is TestBug
    assert str(excinfo.value) == "bug in the test's fake for b"
    assert excinfo.value.__notes__ == [NOTE]
    assert excinfo.traceback[-1].name == "_buggy"  # raised where the test raised it


@pytest.mark.anyio
async def test_an_outcome_functions_exception_surfaces_as_itself_with_a_note() -> None:
    with FakePrograms() as fake:
        expectation = fake.expect(Prefix(TOOL, "b"), _buggy)
        with pytest.raises(TestBug) as excinfo:
            await tool("b").run()
    _surfaced(excinfo)
    assert expectation.calls == [] and fake.unexpected == []


def test_an_outcome_functions_exception_surfaces_from_run_sync() -> None:
    with FakePrograms() as fake:
        fake.expect(Prefix(TOOL, "b"), _buggy)
        with pytest.raises(TestBug) as excinfo:
            tool("b").run_sync()
    _surfaced(excinfo)


@pytest.mark.anyio
async def test_a_later_stage_raising_leaves_no_earlier_stage_running() -> None:
    events: list[ExecEvent] = []
    with FakePrograms() as fake, sh.observe(events.append):
        fake.expect(Prefix(TOOL, "a"), stdout="x\n", delay=60)
        fake.expect(Prefix(TOOL, "b"), _buggy)
        with pytest.raises(TestBug) as excinfo:
            await (tool("a") | tool("b")).run()
    _surfaced(excinfo)
    pids = {e.pid for e in events if e.pid is not None}
    assert len(pids) == 1  # the first stage started; the second never did
    assert wait_until_dead(pids) == []


@pytest.mark.anyio
async def test_a_note_is_added_once_per_raise() -> None:
    with FakePrograms() as fake:
        fake.expect(Prefix(TOOL, "b"), _buggy)
        for _ in range(2):
            with pytest.raises(TestBug) as excinfo:
                await tool("b").run()
            assert excinfo.value.__notes__ == [NOTE]  # a new exception each time


def test_an_instance_raised_again_keeps_one_note() -> None:
    stored = TestBug("bug in the test's fake for b")

    def again(argv: tuple[str, ...]) -> Outcome:
        raise stored

    with FakePrograms() as fake:
        fake.expect(Prefix(TOOL, "b"), again)
        for _ in range(2):
            with pytest.raises(TestBug) as excinfo:
                tool("b").run_sync()
            assert excinfo.value is stored
            assert stored.__notes__ == [NOTE]  # not one more per raise
