"""Fail-fast, blame (failure_index) and SIGPIPE handling in pipelines."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from cuprum import CommandFailedError, ExecEvent, Pipeline, SafeCmd, ScopeConfig, scoped

from .pipeline_support import (
    SIGPIPE_EXIT,
    SIGTERM_EXIT,
    cat,
    false,
    has_exited,
    head,
    python,
    shell,
    sleep,
    true,
    yes,
)

pytestmark = pytest.mark.anyio

#: Far below the 30 s the long-running stages would take on their own.
QUICK = 5.0


def exits(n: int) -> SafeCmd:
    return shell("-c", f"exit {n}")


async def test_fail_fast_stops_long_running_later_stages(
    anyio_backend: str, stream_backend: str
) -> None:
    pipeline = exits(5) | sleep("30") | cat()
    started = time.monotonic()
    result = await pipeline.run()
    elapsed = time.monotonic() - started
    assert elapsed < QUICK
    assert result.failure_index == 0
    assert result.failure is result.stages[0]
    assert result.failure.exit_code == 5
    assert not result.ok
    # sleep never exits on its own within the test: cuprum terminated it.
    assert result.stages[1].exit_code == SIGTERM_EXIT
    assert result.stages[2].exit_code != 5


async def test_fail_fast_stops_long_running_earlier_stage(
    anyio_backend: str, stream_backend: str
) -> None:
    started = time.monotonic()
    result = await (sleep("30") | exits(2)).run()
    assert time.monotonic() - started < QUICK
    assert result.failure_index == 1
    assert result.failure is not None
    assert result.failure.exit_code == 2
    assert result.stages[0].exit_code == SIGTERM_EXIT


BLAME_CASES = {
    "first": (exits(3) | cat() | cat(), 0, 3),
    "middle": (cat() | exits(4) | cat(), 1, 4),
    "last": (cat() | cat() | exits(6), 2, 6),
    "first-with-output": (shell("-c", "echo data; exit 7") | cat() | cat(), 0, 7),
    "middle-reading": (yes() | shell("-c", "read x; exit 8") | cat(), 1, 8),
}


@pytest.mark.parametrize("case", list(BLAME_CASES))
async def test_failing_stage_is_blamed(anyio_backend: str, stream_backend: str, case: str) -> None:
    pipeline, index, code = BLAME_CASES[case]
    for _ in range(10):  # repeated: the blame must not depend on exit timing
        result = await pipeline.run()
        assert result.failure_index == index, [s.exit_code for s in result.stages]
        assert result.failure is result.stages[index]
        assert result.failure.exit_code == code
        assert not result.ok
        with pytest.raises(CommandFailedError) as info:
            result.check()
        assert info.value.returncode == code


@contextmanager
def slow_observer_until_all_exited() -> Iterator[None]:
    """An observe hook that is slow exactly once: at the last stage's ``start`` event
    it waits until every stage has exited, as a busy event loop might.

    Every process of the pipeline has then exited before cuprum looks at any exit.
    """
    pids: list[int] = []

    def hook(event: ExecEvent) -> None:
        if event.phase != "start" or event.pid is None:
            return
        pids.append(event.pid)
        last = int(str(event.tags["pipeline_stages"])) - 1
        if event.tags["pipeline_stage_index"] == last:
            deadline = time.monotonic() + 10
            while not all(has_exited(pid) for pid in pids):
                assert time.monotonic() < deadline, "pipeline stages did not exit"
                time.sleep(0.001)

    with scoped(ScopeConfig(observe_hooks=(hook,))):
        yield


@pytest.mark.parametrize(
    ("pipeline", "index"),
    [(exits(3) | true(), 0), (true() | exits(3) | true(), 1), (false() | true(), 0)],
    ids=["first", "middle", "false-true"],
)
async def test_failing_stage_blamed_when_exits_are_seen_late(
    anyio_backend: str, stream_backend: str, pipeline: Pipeline, index: int
) -> None:
    # Regression: blame used to be decided from whether the downstream had exited
    # by the time cuprum looked, so a failing stage was often reported ok.
    with slow_observer_until_all_exited():
        result = await pipeline.run()
    assert result.stages[index].exit_code != 0
    assert result.failure_index == index


async def test_yes_into_head_is_ok_and_quick(anyio_backend: str, stream_backend: str) -> None:
    started = time.monotonic()
    result = await (yes() | head("-n", "3")).run()
    assert time.monotonic() - started < QUICK
    assert result.stdout == "y\ny\ny\n"
    assert result.ok
    assert result.failure_index is None
    assert result.stages[0].exit_code == SIGPIPE_EXIT
    assert result.stages[1].exit_code == 0


async def test_writer_exiting_on_epipe_is_not_blamed(
    anyio_backend: str, stream_backend: str
) -> None:
    # Python turns EPIPE into an exception and a non-zero exit, not a SIGPIPE death.
    writer = python("-c", "import sys\nwhile True: sys.stdout.write('x' * 65536)")
    result = await (writer | head("-c", "10")).run()
    assert result.stdout == "x" * 10
    assert result.stages[0].exit_code not in (0, SIGTERM_EXIT)
    assert result.ok
    assert result.failure_index is None


async def test_yes_into_false_blames_false(anyio_backend: str, stream_backend: str) -> None:
    started = time.monotonic()
    result = await (yes() | false()).run()
    assert time.monotonic() - started < QUICK
    assert result.failure_index == 1
    assert result.failure is result.stages[1]
    assert result.stages[1].exit_code == 1
    assert result.stages[0].exit_code in (SIGPIPE_EXIT, SIGTERM_EXIT)
    assert not result.ok


async def test_check_raises_for_the_failing_stage(anyio_backend: str, stream_backend: str) -> None:
    pipeline = shell("-c", "cat; echo boom >&2; exit 9") | cat()
    with pytest.raises(CommandFailedError) as info:
        await pipeline.run(stdin="in\n", check=True)
    assert info.value.returncode == 9
    assert info.value.stderr == "boom\n"
    assert info.value.cmd == ["sh", "-c", "cat; echo boom >&2; exit 9", "|", "cat"]
