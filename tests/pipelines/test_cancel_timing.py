"""Cancellation at any moment: whenever the caller's scope ends a run, nothing survives.

Hypothesis picks when the cancel lands (right after the stages are spawned,
while their output flows, or once everything is idle), how many stages there
are, how much they print and whether the parent observes the hops. Whatever the
timing, the run ends promptly with one terminal event per stage, and no process
of the run's process groups (children and the grandchildren they started), fd
or thread outlives it. (Spawning involves no await, so a cancel cannot land
between the stages' spawns.)
"""

from __future__ import annotations

import os
import threading
import time

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from processes import wait_until_groups_empty

from cuprum import ExecEvent, Pipeline, observe

from .pipeline_support import Recorder, shell, wait_until_dead

pytestmark = pytest.mark.anyio

#: Bounds a broken cancellation (a failure, never a hang).
GUARD = 20.0
#: Each stage starts a grandchild in its group and reports it on stderr, writes a
#: few lines (or none), relays its stdin, then waits: nothing ends on its own.
STAGE = (
    'sleep 300 & echo "grandchild $!" >&2; '
    'i=0; while [ $i -lt {lines} ]; do echo "line $i"; i=$((i+1)); done; '
    "cat; wait"
)


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    delay_ms=st.one_of(st.just(0), st.integers(0, 5), st.integers(5, 60)),
    stages=st.integers(1, 3),
    lines=st.sampled_from([0, 3, 2000]),
    observed=st.booleans(),
)
async def test_cancel_at_any_moment_leaves_nothing_behind(
    anyio_backend: str,
    stream_backend: str,
    *,
    delay_ms: int,
    stages: int,
    lines: int,
    observed: bool,
) -> None:
    if observed and stream_backend == "direct":
        observed = False  # direct cannot serve stage_events: covered by the others
    script = STAGE.format(lines=lines)
    pipeline = Pipeline(tuple(shell("-c", script) for _ in range(stages)))
    await (shell("-c", "echo warm-up") | shell("-c", "cat")).run()  # the loop's own fds
    fds, threads = open_fds(), threading.active_count()
    rec = Recorder()
    grandchildren: list[int] = []

    def hook(event: ExecEvent) -> None:
        rec(event)
        line = event.line or ""
        if event.phase == "stderr" and line.startswith("grandchild "):
            grandchildren.append(int(line.split()[1]))

    started = time.monotonic()
    with observe(hook), anyio.move_on_after(delay_ms / 1000) as scope:
        await pipeline.run(timeout=GUARD, stage_events=observed)
    assert scope.cancelled_caught, "nothing in the run ends on its own"
    assert time.monotonic() - started < GUARD / 2

    if delay_ms == 0 or not rec.events:
        # The deadline had passed before the run began: it started nothing at all.
        assert rec.events == []
        assert open_fds() == fds
        return
    # One terminal event per planned stage, each a cancellation.
    assert len(rec.of("plan")) == stages
    terminal = [e for e in rec.events if e.is_terminal]
    assert len(terminal) == stages
    assert {(e.phase, e.error) for e in terminal} == {("error", "cancelled")}
    # Every process of every group is gone: children and grandchildren (each
    # child's pid is its process group's id), seen or not.
    pids = [e.pid for e in rec.of("start") if e.pid is not None]
    assert len(pids) == stages
    assert wait_until_dead([*pids, *grandchildren]) == []
    assert wait_until_groups_empty(pids) == []
    # No fd or thread (a rust relay's pump thread) outlives the call.
    assert open_fds() == fds
    assert threading.active_count() == threads
