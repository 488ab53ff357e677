"""Structured events: order, fields, one terminal event per stage, line splitting."""

from __future__ import annotations

import dataclasses
import functools
import io
import itertools
from pathlib import Path

import anyio
import pytest
from core_support import (
    DEADLINE,
    MISSING,
    TEST_CATALOGUE,
    WITH_GRANDCHILD,
    Recorder,
    cancel_on_line,
    py,
    recording,
    shell,
)
from hypothesis import given
from hypothesis import strategies as st

import cuprum._core.events as events_module
from cuprum import (
    ECHO,
    SLEEP,
    ExecEvent,
    ExecutionContext,
    ProgramNotFoundError,
    ScopeConfig,
    TimeoutExpired,
    scoped,
    sh,
)
from cuprum._core.events import line_event
from cuprum._runtime.streams import LineSplitter, StreamCollector

pytestmark = pytest.mark.anyio


def _assert_well_formed(events: list[ExecEvent], stages: int = 1) -> None:
    """plan, start, lines, then exactly one terminal event, per stage, in that order."""
    by_stage: dict[object, list[ExecEvent]] = {}
    for event in events:
        by_stage.setdefault(event.tags.get("pipeline_stage_index", 0), []).append(event)
    assert len(by_stage) == stages
    for stage_events in by_stage.values():
        phases = [event.phase for event in stage_events]
        assert phases[0] == "plan"
        assert sum(event.is_terminal for event in stage_events) == 1
        assert stage_events[-1].is_terminal
        if "start" in phases:
            assert phases.index("start") == 1
            assert all(p in ("stdout", "stderr", "stdin_closed") for p in phases[2:-1])
        else:  # never started: nothing between plan and the error
            assert phases == ["plan", "error"]
    stamps = [event.timestamp for event in events]
    assert stamps == sorted(stamps)


async def test_event_order_and_fields(tmp_path: Path) -> None:
    ctx = ExecutionContext(env={"CUPRUM_X": "1"}, cwd=tmp_path, tags={"run_id": "demo"})
    cmd = shell("echo one; echo two >&2; echo three")
    with recording() as rec:
        result = await cmd.run(context=ctx)
    _assert_well_formed(rec.events)
    assert rec.lines("stdout") == ["one", "three"]
    assert rec.lines("stderr") == ["two"]
    for event in rec.events:
        assert event.program == "sh"
        assert event.argv == cmd.argv_with_program
        assert event.cwd == str(tmp_path)
        assert event.env == {"CUPRUM_X": "1"}
        assert event.tags == {"project": "core-tests", "run_id": "demo"}
    plan = rec.of("plan")[0]
    assert plan.pid is None
    assert {event.pid for event in rec.events[1:]} == {result.pid}
    (exit_,) = rec.of("exit")
    assert exit_.exit_code == 0
    assert exit_.duration_s == result.duration_s
    assert exit_.error is None


async def test_default_events_carry_no_env_or_cwd() -> None:
    with recording() as rec:
        await sh.make(ECHO)("-n", "hello events").run()
    _assert_well_formed(rec.events)
    assert rec.lines() == ["hello events"]  # an unterminated last line is still a line
    assert all(event.env is None and event.cwd is None for event in rec.events)
    assert rec.events[0].tags == {"project": "core-ops"}


async def test_line_events_without_capture() -> None:
    with recording() as rec:
        result = await shell("echo a; echo b >&2").run(capture=False)
    assert result.stdout is None
    assert (rec.lines("stdout"), rec.lines("stderr")) == (["a"], ["b"])


async def test_exit_event_of_a_failing_command() -> None:
    with recording() as rec:
        await shell("exit 9").run()
    _assert_well_formed(rec.events)
    assert rec.terminal[0].exit_code == 9


async def test_spawn_failure_ends_with_one_error_event() -> None:
    with recording() as rec, pytest.raises(ProgramNotFoundError):
        await sh.make(MISSING, catalogue=TEST_CATALOGUE)().run()
    _assert_well_formed(rec.events)
    assert rec.terminal[0].error == "spawn_failed"
    assert MISSING in (rec.terminal[0].message or "")


async def test_timeout_ends_with_one_error_event() -> None:
    with recording() as rec, pytest.raises(TimeoutExpired):
        await sh.make(SLEEP)("300").run(timeout=0.05)
    _assert_well_formed(rec.events)
    assert rec.terminal[0].error == "timeout"


async def test_cancellation_ends_with_one_error_event() -> None:
    with anyio.CancelScope() as scope:
        with recording(on_line=cancel_on_line(scope, "ready")) as rec:
            await shell("echo ready; exec sleep 300").run(timeout=DEADLINE)
    _assert_well_formed(rec.events)
    assert rec.terminal[0].error == "cancelled"


async def test_pipeline_has_one_terminal_event_per_stage() -> None:
    with recording() as rec:
        result = await (sh.make(ECHO)("a") | shell("cat; echo err >&2")).run()
    assert result.stdout == "a\n"
    _assert_well_formed(rec.events, stages=2)
    assert [e.tags["pipeline_stage_index"] for e in rec.terminal] == [0, 1]
    assert all(e.tags["pipeline_stages"] == 2 for e in rec.events)
    assert rec.lines("stderr") == ["err"]


async def test_pipeline_timeout_ends_every_stage() -> None:
    with recording() as rec, pytest.raises(TimeoutExpired):
        await (shell(WITH_GRANDCHILD) | shell("cat")).run(timeout=0.1)
    _assert_well_formed(rec.events, stages=2)
    assert [e.error for e in rec.terminal] == ["timeout", "timeout"]


async def test_scope_observe_hooks_see_events() -> None:
    rec = Recorder()
    with scoped(ScopeConfig(observe_hooks=(rec,))):
        await sh.make(ECHO)("x").run()
    _assert_well_formed(rec.events)


async def test_lines_longer_than_64k_are_delivered_whole() -> None:
    long_a, long_b = "a" * (200 * 1024), "b" * (100 * 1024 + 3)
    script = (
        "import sys\n"
        f"sys.stdout.write('a' * {len(long_a)} + '\\n')\n"
        f"sys.stdout.write('b' * {len(long_b)})\n"
    )
    with recording() as rec:
        result = await py(script).run()
    assert rec.lines() == [long_a, long_b]
    assert result.stdout == long_a + "\n" + long_b


async def test_multibyte_character_split_across_reads(tmp_path: Path) -> None:
    """The child writes the first two bytes of U+20AC, waits until the parent has read
    them (it saw the line before them), then writes the last byte."""
    marker = tmp_path / "go-on"
    script = (
        "import os, sys, time\n"
        "os.write(1, b'go\\n\\xe2\\x82')\n"
        "deadline = time.monotonic() + 10\n"
        f"while not os.path.exists({str(marker)!r}) and time.monotonic() < deadline:\n"
        "    time.sleep(0.001)\n"
        "os.write(1, b'\\xac tail\\n')\n"
    )

    def on_line(event: ExecEvent) -> None:
        if event.line == "go":
            marker.touch()

    sink = io.StringIO()
    ctx = ExecutionContext(stdout_sink=sink, errors="strict")
    with recording(on_line=on_line) as rec:
        result = await py(script).run(echo=True, context=ctx)
    assert marker.exists()
    assert rec.lines() == ["go", "\u20ac tail"]
    assert sink.getvalue() == result.stdout == "go\n\u20ac tail\n"


# -- the line machinery itself, over arbitrary chunkings -----------------------------


def _chunk(data: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *sorted(cuts), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def _expected_lines(text: str) -> list[str]:
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


@given(st.text(), st.data())
def test_collector_lines_echo_and_capture_for_any_chunking(text: str, data: st.DataObject) -> None:
    encoded = text.encode("utf-8")
    cuts = data.draw(st.lists(st.integers(0, len(encoded)), max_size=12))
    lines: list[str] = []
    echo = io.StringIO()
    collector = StreamCollector(
        program="p", name="stdout", capture=True, encoding="utf-8", errors="strict", echo=echo
    )
    collector.bind_lines(lines.append)  # how the engine binds them, after spawning
    for chunk in _chunk(encoded, cuts):
        collector.feed(chunk)
    collector.close()
    assert lines == _expected_lines(text)
    assert echo.getvalue() == text
    assert collector.value(text=True) == text
    assert collector.value(text=False) == encoded


@given(st.binary(), st.data())
def test_collector_replaces_invalid_bytes_like_a_one_shot_decode(
    raw: bytes, data: st.DataObject
) -> None:
    cuts = data.draw(st.lists(st.integers(0, len(raw)), max_size=8))
    lines: list[str] = []
    collector = StreamCollector(
        program="p",
        name="stderr",
        capture=False,
        encoding="utf-8",
        errors="replace",
        on_line=lines.append,
    )
    for chunk in _chunk(raw, cuts):
        collector.feed(chunk)
    collector.close()
    assert lines == _expected_lines(raw.decode("utf-8", "replace"))
    assert collector.value(text=True) is None


@given(st.lists(st.text(), max_size=10))
def test_line_splitter_joins_pieces(pieces: list[str]) -> None:
    lines: list[str] = []
    splitter = LineSplitter(lines.append)
    for piece in pieces:
        splitter.feed(piece)
    splitter.close()
    splitter.close()  # idempotent
    assert lines == _expected_lines("".join(pieces))


@given(st.binary(max_size=200), st.integers(0, 100), st.data())
def test_capture_limit_truncates_at_the_limit(raw: bytes, limit: int, data: st.DataObject) -> None:
    cuts = data.draw(st.lists(st.integers(0, len(raw)), max_size=8))
    collector = StreamCollector(
        program="p", name="stdout", capture=True, encoding="utf-8", errors="replace", limit=limit
    )
    for chunk in _chunk(raw, cuts):
        collector.feed(chunk)
    collector.close()
    assert collector.raw() == raw[:limit]
    assert collector.truncated == (len(raw) > limit)


@given(
    phase=st.sampled_from(["stdout", "stderr"]),
    program=st.text(min_size=1),
    argv=st.lists(st.text()).map(tuple),
    cwd=st.none() | st.text(),
    env=st.none() | st.dictionaries(st.text(), st.text()),
    pid=st.none() | st.integers(min_value=1),
    line=st.text(),
)
def test_line_event_equals_the_constructor(
    *,
    phase: str,
    program: str,
    argv: tuple[str, ...],
    cwd: str | None,
    env: dict[str, str] | None,
    pid: int | None,
    line: str,
) -> None:
    # The engine's per-line fast path builds the same event as ExecEvent(...), every
    # field set (a field added to ExecEvent and not to line_event fails here).
    tags = {"project": "p"}
    fast = line_event(phase, program, argv, cwd, env, tags, 12.5, pid, line)  # type: ignore[arg-type]
    slow = ExecEvent(phase, program, argv, cwd, env, tags, 12.5, pid, line)  # type: ignore[arg-type]
    assert [f.name for f in dataclasses.fields(ExecEvent)] == list(events_module._FIELDS)
    assert fast == slow
    assert all(getattr(fast, f) == getattr(slow, f) for f in events_module._FIELDS)
    assert fast.tags is tags and type(fast) is ExecEvent
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.line = "changed"  # type: ignore[misc]


@pytest.mark.parametrize("hook_count", [0, 1, 2, 3])
def test_deliver_lines_gives_every_hook_each_line_in_order(hook_count: int) -> None:
    # One hook takes a path of its own (no loop over the hooks): the events and their
    # order must be the same as with several, and the same as the constructor's.
    seen: list[tuple[int, ExecEvent]] = []
    hooks = [functools.partial(lambda i, ev: seen.append((i, ev)), i) for i in range(hook_count)]
    tags = {"project": "p"}
    events_module.deliver_lines(
        hooks, "stdout", "cat", ("cat",), None, None, tags, 1.5, 7, ["a", "b"]
    )
    expected = [
        (i, ExecEvent("stdout", "cat", ("cat",), None, None, tags, 1.5, 7, line))
        for line in ("a", "b")
        for i in range(hook_count)
    ]
    assert seen == expected
    assert all(type(ev) is ExecEvent and ev.tags is tags for _, ev in seen)
