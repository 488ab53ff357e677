"""Line batches (``sh.observe_batches``, hooks with ``on_lines``) and per-line events
of observed hops: the same lines on every stream strategy, on asyncio and trio."""

from __future__ import annotations

import itertools
import sys
from collections.abc import AsyncIterator
from typing import Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cuprum import (
    ExecEvent,
    LineBatch,
    LineBatchObserver,
    Program,
    ProgramCatalogue,
    ProjectSettings,
    Secret,
    observe,
    observe_batches,
    sh,
)
from cuprum.adapters.metrics_adapter import STDOUT_LINES_TOTAL, InMemoryMetrics, MetricsHook

from .pipeline_support import Recorder, cat, python

pytestmark = pytest.mark.anyio

# One write: the lines arrive in a few reads, whatever PYTHONUNBUFFERED says.
LINES = "import sys\nsys.stdout.write(''.join(f'line {i}\\n' for i in range(int(sys.argv[1]))))"


class Batches:
    """A batch hook that keeps every batch."""

    def __init__(self) -> None:
        self.batches: list[LineBatch] = []

    def __call__(self, batch: LineBatch) -> None:
        self.batches.append(batch)

    def lines(self, stage: int) -> list[str]:
        return [
            line
            for b in self.batches
            if b.tags.get("pipeline_stage_index") == stage and b.phase == "stdout"
            for line in b.lines
        ]

    def count(self, stage: int) -> int:
        return sum(
            b.count
            for b in self.batches
            if b.tags.get("pipeline_stage_index") == stage and b.phase == "stdout"
        )


async def test_batches_and_events_carry_the_same_lines(
    anyio_backend: str, stream_backend: str
) -> None:
    rec, batches = Recorder(), Batches()
    pipeline = (
        python("-c", LINES, "5000")
        | cat()
        | python("-c", "import sys; print(sys.stdin.read().count('\\n'))")
    )
    stage_events = stream_backend != "direct"
    with observe(rec), observe_batches(batches):
        result = await pipeline.run(stage_events=stage_events)
    assert result.ok and result.stdout == "5000\n"
    expected = [f"line {i}" for i in range(5000)]
    for stage in (0, 1):
        if stage_events:
            assert rec.lines("stdout", stage) == expected
            assert batches.lines(stage) == expected
            assert batches.count(stage) == 5000
        else:
            assert rec.lines("stdout", stage) == batches.lines(stage) == []
    assert rec.lines("stdout", 2) == batches.lines(2) == ["5000"]
    # A batch hook gets no other event; its batches share the stage's tags object.
    assert all(isinstance(b, LineBatch) for b in batches.batches)
    tags = {e.tags.get("pipeline_stage_index"): e.tags for e in rec.of("start")}
    assert all(b.tags is tags[b.tags.get("pipeline_stage_index")] for b in batches.batches)
    pids = {e.tags.get("pipeline_stage_index"): e.pid for e in rec.of("start")}
    assert all(b.pid == pids[b.tags.get("pipeline_stage_index")] for b in batches.batches)


async def test_a_batch_observer_registered_with_observe(
    anyio_backend: str, stream_backend: str
) -> None:
    class Both:
        def __init__(self) -> None:
            self.phases: list[str] = []
            self.counted = 0

        def __call__(self, event: ExecEvent) -> None:
            self.phases.append(event.phase)

        def on_lines(self, batch: LineBatch) -> None:
            self.counted += batch.count

    hook = Both()
    assert isinstance(hook, LineBatchObserver)
    stage_events = stream_backend != "direct"
    with observe(hook):
        result = await (python("-c", LINES, "300") | cat()).run(stage_events=stage_events)
    assert result.ok
    assert "stdout" not in hook.phases  # its lines come in batches only
    assert hook.phases.count("exit") == 2
    assert hook.counted == (600 if stage_events else 300)


async def test_metrics_count_lines_in_batches(anyio_backend: str, stream_backend: str) -> None:
    increments: list[float] = []

    class Spy(InMemoryMetrics):
        def inc_counter(self, name: str, value: float, labels: object) -> None:
            if name == STDOUT_LINES_TOTAL:
                increments.append(value)
            super().inc_counter(name, value, labels)  # type: ignore[arg-type]

    metrics = Spy()
    stage_events = stream_backend != "direct"
    with sh.observe(MetricsHook(metrics)):
        result = await (python("-c", LINES, "20000") | cat()).run(stage_events=stage_events)
    assert result.ok
    assert metrics.counters[STDOUT_LINES_TOTAL] == (40000 if stage_events else 20000)
    assert len(increments) < 20000 / 2  # batches, not one increment per line


async def test_noise_rules_mark_lines_in_batches(anyio_backend: str, stream_backend: str) -> None:
    py = Program(sys.executable)
    project = ProjectSettings("noisy", (py,), noise_rules=(r"^progress:", r"done$"))
    noisy = sh.make(py, catalogue=ProgramCatalogue(projects=(project,)))
    script = "print('progress: 1'); print('data'); print('progress: 2'); print('all done')"
    batches = Batches()
    stage_events = stream_backend != "direct"
    with observe_batches(batches):
        result = await (
            noisy("-c", script) | noisy("-c", "import sys; sys.stdout.write(sys.stdin.read())")
        ).run(stage_events=stage_events)
    assert result.ok
    stages = (0, 1) if stage_events else (1,)
    for stage in stages:
        mine = [b for b in batches.batches if b.tags["pipeline_stage_index"] == stage]
        assert [line for b in mine for line in b.kept] == ["data"]
        assert sum(b.noise for b in mine) == 3
        assert [line for b in mine for line in b.lines][1] == "data"


async def test_secrets_never_show_in_batches(anyio_backend: str, stream_backend: str) -> None:
    batches, rec = Batches(), Recorder()
    secret = Secret("hunter2")
    stage_events = stream_backend != "direct"
    pipeline = python("-c", "import sys; print('pw=' + sys.argv[1])", secret) | cat()
    with observe(rec), observe_batches(batches):
        result = await pipeline.run(stage_events=stage_events)
    assert result.ok
    seen = [line for b in batches.batches for line in b.lines]
    assert seen and all(line == "pw=***" for line in seen)
    assert all(e.line == "pw=***" for e in rec.of("stdout"))


async def test_a_failing_batch_hook_ends_the_run(anyio_backend: str, stream_backend: str) -> None:
    rec = Recorder()
    raised: list[LineBatch] = []

    def explode(batch: LineBatch) -> None:
        if not raised:  # once: two jobs failing at once would be another test
            raised.append(batch)
            raise RuntimeError("boom")

    stage_events = stream_backend != "direct"
    with observe(rec), observe_batches(explode), pytest.raises(RuntimeError, match="boom"):
        await (python("-c", LINES, "10") | cat()).run(stage_events=stage_events)
    errors = rec.of("error")
    assert len(errors) == 2 and {e.error for e in errors} == {"hook_failed"}


def test_observe_batches_refuses_what_is_not_callable() -> None:
    with pytest.raises(TypeError, match="observe_batches"):
        observe_batches("not a hook")  # type: ignore[arg-type]


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(data)) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds) if b > a]


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.lists(
        st.one_of(
            st.text(alphabet="ab\r\n\u00e9\U0001f600", max_size=10).map(str.encode),
            st.sampled_from([b"\n", b"\xff", b"\xe2\x82", b"\r\n"]),
        ),
        max_size=10,
    ).map(b"".join),
    cuts=st.lists(st.integers(0, 60), max_size=5),
    backend=st.sampled_from(["asyncio", "trio"]),
)
def test_relayed_lines_match_the_definition(
    stream_backend: str, data: bytes, cuts: list[int], backend: Literal["asyncio", "trio"]
) -> None:
    if stream_backend == "direct":
        pytest.skip("stage_events needs a relaying strategy")
    rec, batches = Recorder(), Batches()

    async def source() -> AsyncIterator[bytes]:  # the chunks as the first stage receives them
        for chunk in chunked(data, cuts):
            yield chunk

    with observe(rec), observe_batches(batches):
        result = (cat() | cat()).run_sync(stdin=source(), stage_events=True, backend=backend)
    assert result.ok
    expected = data.decode("utf-8", "replace").split("\n")
    if expected[-1] == "":
        expected.pop()
    assert rec.lines("stdout", 0) == expected
    assert batches.lines(0) == expected
    assert batches.count(0) == len(expected)
    assert rec.lines("stdout", 1) == expected  # the captured last stage: the same rules
