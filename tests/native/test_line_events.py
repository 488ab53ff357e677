"""Per-line events built by the extension (``deliver_line_events``): the very events
``ExecEvent(...)`` builds, and the same events the pure path delivers."""

from __future__ import annotations

import dataclasses
import gc
import sys
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cuprum import ExecEvent, Program, ProgramCatalogue, sh
from cuprum._runtime import emit
from cuprum._transport import native

pytestmark = pytest.mark.native

FIELDS = [f.name for f in dataclasses.fields(ExecEvent)]
LINE = FIELDS.index("line")


def builder() -> tuple[Any, list[int]]:
    found = emit._native_events()
    assert found is not None, "the extension should build line events"
    return found


def template(**fields: Any) -> tuple[Any, ...]:
    base: dict[str, Any] = dict.fromkeys(FIELDS)
    base.update(phase="stdout", program="p", argv=("p",), tags={}, timestamp=0.0)
    base.update(fields)
    return tuple(base[name] for name in FIELDS)


@given(
    phase=st.sampled_from(["stdout", "stderr"]),
    argv=st.lists(st.text(max_size=5), max_size=3).map(tuple),
    cwd=st.none() | st.text(max_size=5),
    env=st.none() | st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
    pid=st.none() | st.integers(1, 2**31),
    lines=st.lists(st.text(max_size=8), max_size=5),
)
def test_the_events_equal_the_constructors(
    *,
    phase: str,
    argv: tuple[str, ...],
    cwd: str | None,
    env: dict[str, str] | None,
    pid: int | None,
    lines: list[str],
) -> None:
    build, offsets = builder()
    tags = {"project": "p"}
    values = template(phase=phase, argv=argv, cwd=cwd, env=env, tags=tags, timestamp=1.5, pid=pid)
    seen: list[ExecEvent] = []
    build(ExecEvent, offsets, values, LINE, lines, (seen.append,))
    assert [ev.line for ev in seen] == lines
    for ev, line in zip(seen, lines, strict=True):
        assert type(ev) is ExecEvent and ev.tags is tags
        assert ev == ExecEvent(phase, "p", argv, cwd, env, tags, 1.5, pid, line)  # type: ignore[arg-type]
        with pytest.raises(dataclasses.FrozenInstanceError):
            ev.line = "changed"  # type: ignore[misc]


def test_references_are_kept_and_released() -> None:
    build, offsets = builder()
    tags: dict[str, object] = {"project": "p"}
    line = "a line of its own"
    before = sys.getrefcount(tags), sys.getrefcount(line)
    seen: list[ExecEvent] = []
    build(ExecEvent, offsets, template(tags=tags), LINE, [line] * 3, (seen.append,))
    assert sys.getrefcount(tags) == before[0] + 3
    seen.clear()
    gc.collect()
    assert (sys.getrefcount(tags), sys.getrefcount(line)) == before


def test_every_hook_in_order_and_the_first_error_stops_the_batch() -> None:
    build, offsets = builder()
    calls: list[tuple[str, str | None]] = []

    def first(ev: ExecEvent) -> None:
        calls.append(("first", ev.line))

    def second(ev: ExecEvent) -> None:
        calls.append(("second", ev.line))
        if ev.line == "b":
            raise KeyError("stop")

    with pytest.raises(KeyError, match="stop"):
        build(ExecEvent, offsets, template(), LINE, ["a", "b", "c"], (first, second))
    assert calls == [("first", "a"), ("second", "a"), ("first", "b"), ("second", "b")]


def test_bad_arguments_are_refused() -> None:
    build, offsets = builder()
    with pytest.raises(TypeError, match="str"):
        build(ExecEvent, offsets, template(), LINE, [b"bytes"], ())
    with pytest.raises(ValueError, match="agree"):
        build(ExecEvent, offsets[:-1], template(), LINE, ["x"], ())
    with pytest.raises(ValueError, match="outside"):
        build(ExecEvent, [8, *offsets[1:]], template(), LINE, ["x"], ())

    class WithDict:
        def __init__(self) -> None:
            self.a = object()

    thing = WithDict()
    assert native.line_events(thing, (thing.a,)) is None  # a layout it cannot account for


def test_the_native_and_pure_paths_deliver_the_same_events(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    py = Program(sys.executable)
    cmd = sh.make(py, catalogue=ProgramCatalogue.of(py))(
        "-c", "import sys; sys.stdout.write('one\\ntwo\\r\\n\\xe9\\n'); sys.stderr.write('err')"
    )

    def run() -> list[tuple[Any, ...]]:
        events: list[ExecEvent] = []
        with sh.observe(events.append):
            cmd.run_sync()
        lines = [ev for ev in events if ev.phase in ("stdout", "stderr")]
        return [
            (*dataclasses.astuple(ev)[:6], ev.line, *dataclasses.astuple(ev)[9:]) for ev in lines
        ]

    native_events = run()
    monkeypatch.setenv("CUPRUM_STREAM_BACKEND", "python")
    assert emit._event_builder() is None
    assert run() == native_events
    assert [ev[6] for ev in native_events] == ["one", "two\r", "\xe9", "err"]
