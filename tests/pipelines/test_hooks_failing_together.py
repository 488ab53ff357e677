"""Hooks failing in several places of a run at once: the user gets the first hook's
exception, as itself (never an exception group, never a private carrier), and every
terminal event says ``hook_failed``; a cancellation from outside at the same time
wins (the run ends ``cancelled`` and the scope catches it); the run's own timeout at
the same time does not hide the hook's error.

Two relays fail in the same step when the bytes of both hops reach the parent while
the event loop is busy and both relays are waiting for them. Each of stages 0 and 1
first writes a line no hook refuses; once both have had their events (the relays
then wait for more), the last stage writes a line, whose hook (called by the output
reader, a third task) holds the loop until stages 0 and 1 have written their next
lines and, for the ``rust`` relay, until each hop's bytes are past the pump (it tees
them to the parent before the next stage can read them). Then both relays wake in
the same step, before the task group can cancel the second, and both hooks raise.
Every wait is for a condition, under a deadline.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import pytest

from cuprum import (
    ExecEvent,
    LineBatch,
    SafeCmd,
    TimeoutExpired,
    after,
    before,
    observe,
    observe_batches,
)
from cuprum._api.command import Pipeline
from cuprum._runtime import failures

from .pipeline_support import python, wait_until_dead

pytestmark = pytest.mark.anyio

DEADLINE = 10.0
"""Seconds any wait of these tests may take before it fails the test."""

WAIT_FOR = f"""
import os, sys, time
def wait_for(path):
    end = time.monotonic() + {DEADLINE}
    while not os.path.exists(path):
        if time.monotonic() > end:
            sys.exit("gave up waiting for " + path)
        time.sleep(0.001)
def touch(path):
    open(path, "w").close()
"""

FIRST = (
    WAIT_FOR
    + """
print("warm0", flush=True)
wait_for(sys.argv[1])
print("zero", flush=True)
touch(sys.argv[2])
time.sleep(30)  # stopped by the run's teardown
"""
)
"""Stage 0: a first line at once; once told, its line; then it says so, and waits."""

MIDDLE = (
    WAIT_FOR
    + """
sys.stdin.readline()  # warm0: the relay of hop 0 runs
print("warm1", flush=True)
wait_for(sys.argv[1])
print("one", flush=True)
touch(sys.argv[2])
sys.stdin.readline()  # stage 0's line, past the pump of hop 0
touch(sys.argv[3])
time.sleep(30)
"""
)
"""Stage 1: once stage 0's first line is in, a first line; once told, its line; then
it reads stage 0's line, and waits."""

LAST = (
    WAIT_FOR
    + """
sys.stdin.readline()  # warm1
wait_for(sys.argv[1])  # the first lines of stages 0 and 1 have had their events
wait_for(sys.argv[2])
print("two", flush=True)
sys.stdin.readline()  # stage 1's line, past the pump of hop 1
touch(sys.argv[3])
time.sleep(30)
"""
)
"""Stage 2: once both relays have delivered a first line (and, since, are waiting for
more), a line: the hook holding the loop hears it; then stage 1's line."""

WARM = ("warm0", "warm1")
"""The first lines, which no hook refuses."""

ECHO_LINES = """
import sys, time
for line in sys.stdin:
    print(line, end="", flush=True)
time.sleep(30)
"""
"""A middle or last stage: each line on, as it comes; then it waits."""


class HookError(Exception):
    """What the hooks raise."""


def wait_until(done: Callable[[], bool], what: str) -> None:
    """Poll ``done`` (in the calling thread: the event loop's) under the deadline."""
    end = time.monotonic() + DEADLINE
    while not done():
        if time.monotonic() > end:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.001)


def deadline_passed() -> bool:
    """Whether the deadline of the run whose hook asks (its cancel scope's) has passed."""
    return anyio.current_time() >= anyio.current_effective_deadline()


class Hooks:
    """Records every event and the errors the hooks raised (in the order raised)."""

    def __init__(self) -> None:
        self.events: list[ExecEvent] = []
        self.raised: list[BaseException] = []
        self.scope: anyio.CancelScope | None = None  # cancelled by the first to raise

    def record(self, event: ExecEvent) -> None:
        self.events.append(event)

    def refuse(self, what: str) -> None:
        if self.scope is not None and not self.raised:
            self.scope.cancel()
        error = HookError(f"refused {what}")
        self.raised.append(error)
        raise error

    def kinds(self) -> list[str | None]:
        terminal = [e for e in self.events if e.is_terminal]
        assert {e.phase for e in terminal} == {"error"}, terminal
        return [e.error for e in terminal]

    def pids(self) -> list[int]:
        return [e.pid for e in self.events if e.phase == "start" and e.pid is not None]

    def assert_hook_failure(self, error: BaseException, stages: int = 3) -> None:
        """The first hook's exception, as itself; one ``hook_failed`` error per stage."""
        assert type(error) is HookError, repr(error)
        assert error is self.raised[0]
        assert self.kinds() == ["hook_failed"] * stages
        assert len(self.pids()) == stages
        assert wait_until_dead(self.pids()) == []

    def assert_cancelled(self, scope: anyio.CancelScope, stages: int = 3) -> None:
        assert self.raised, "no hook raised"
        assert scope.cancelled_caught
        assert self.kinds() == ["cancelled"] * stages
        assert len(self.pids()) == stages
        assert wait_until_dead(self.pids()) == []


class Together(Hooks):
    """Holds the loop on stage 2's line until both hops' bytes are at the parent (and,
    with ``late``, the run's deadline has passed); then stages 0 and 1 each refuse
    their line: in ``stdout`` events, or (``batches``) in line batches."""

    def __init__(self, tmp: Path, strategy: str, *, batches: bool = False) -> None:
        super().__init__()
        self.go = tmp / "go"
        self.written = (tmp / "written0", tmp / "written1")
        self.passed = (tmp / "passed0", tmp / "passed1")  # read by the next stage
        self.relayed = (tmp / "relayed0", tmp / "relayed1")  # a first line's event
        self.strategy = strategy
        self.batches = batches
        self.late = False

    def pipeline(self) -> Pipeline:
        go, written, passed = str(self.go), self.written, self.passed
        return (
            python("-c", FIRST, go, str(written[0]))
            | python("-c", MIDDLE, go, str(written[1]), str(passed[0]))
            | python("-c", LAST, *map(str, self.relayed), str(passed[1]))
        )

    @contextmanager
    def registered(self) -> Iterator[None]:
        with observe(self), observe_batches(self.refuse_lines):
            yield

    def __call__(self, event: ExecEvent) -> None:
        self.record(event)
        if event.phase != "stdout":
            return
        stage = event.tags.get("pipeline_stage_index")
        if stage == 2 and event.line == "two":
            self.hold()
        elif stage in (0, 1) and event.line in WARM:
            self.relayed[stage].touch()
        elif stage in (0, 1) and not self.batches:
            self.refuse(f"line {event.line!r} of stage {stage}")

    def refuse_lines(self, batch: LineBatch) -> None:
        stage = batch.tags.get("pipeline_stage_index")
        if not self.batches or batch.phase != "stdout" or stage not in (0, 1):
            return
        if any(line not in WARM for line in batch.lines):
            self.refuse(f"lines {batch.lines!r} of stage {stage}")

    def hold(self) -> None:
        self.go.touch()
        wait_until(lambda: all(p.exists() for p in self.written), "both stages' lines")
        if self.strategy == "rust":  # the pumps run on threads of their own
            wait_until(lambda: all(p.exists() for p in self.passed), "both pumps")
        if self.late:
            wait_until(deadline_passed, "the run's deadline")

    @property
    def together(self) -> bool:
        """Whether both hooks raised (in the same step: the first did not stop the second)."""
        return len(self.raised) == 2


ATTEMPTS = 5
"""Runs of a scenario until both hooks fail in the same step. Almost always the first
does: rarely (trio, the ``python`` relay) a relay is still at the checkpoint after its
first line when the loop is held, so it runs before the other wakes, and the task group
cancels the other before its hook is called. Every run is checked in full."""


def attempts(tmp: Path, strategy: str, *, batches: bool = False) -> Iterator[Together]:
    """A fresh :class:`Together` per run, until one run has had both hooks raise."""
    for attempt in range(ATTEMPTS):
        folder = tmp / str(attempt)
        folder.mkdir()
        hooks = Together(folder, strategy, batches=batches)
        yield hooks
        if hooks.together:
            return
    raise AssertionError(f"the two hooks never failed in the same step in {ATTEMPTS} runs")


def relayed(stream_backend: str) -> None:
    if stream_backend == "direct":
        pytest.skip("stage_events needs a relay: a direct hop has none")


@pytest.mark.parametrize("batches", [False, True], ids=["events", "batches"])
async def test_hooks_of_two_stages_failing_together_give_the_first_hooks_error(
    anyio_backend: str, stream_backend: str, tmp_path: Path, batches: bool
) -> None:
    relayed(stream_backend)
    for hooks in attempts(tmp_path, stream_backend, batches=batches):
        with hooks.registered(), pytest.raises(HookError) as info:
            with anyio.fail_after(DEADLINE):
                await hooks.pipeline().run(stage_events=True)
        hooks.assert_hook_failure(info.value)


def test_hooks_of_two_stages_failing_together_in_run_sync(
    stream_backend: str, tmp_path: Path
) -> None:
    relayed(stream_backend)
    for hooks in attempts(tmp_path, stream_backend):
        with hooks.registered(), pytest.raises(HookError) as info:
            hooks.pipeline().run_sync(stage_events=True, timeout=DEADLINE)
        hooks.assert_hook_failure(info.value)


async def test_hooks_failing_together_as_the_deadline_passes_give_the_hooks_error(
    anyio_backend: str, stream_backend: str, tmp_path: Path
) -> None:
    relayed(stream_backend)
    for hooks in attempts(tmp_path, stream_backend):
        hooks.late = True
        with hooks.registered(), pytest.raises(HookError) as info:
            await hooks.pipeline().run(stage_events=True, timeout=1.0)
        hooks.assert_hook_failure(info.value)


async def test_hooks_failing_together_as_the_run_is_cancelled_from_outside(
    anyio_backend: str, stream_backend: str, tmp_path: Path
) -> None:
    relayed(stream_backend)
    for hooks in attempts(tmp_path, stream_backend):
        with hooks.registered(), anyio.fail_after(DEADLINE), anyio.CancelScope() as scope:
            hooks.scope = scope
            await hooks.pipeline().run(stage_events=True)
        hooks.assert_cancelled(scope)


class OnFirstLine(Hooks):
    """Refuses the first stdout line of stage ``stage``, once ``wait()`` holds."""

    def __init__(self, stage: int | None, wait: Callable[[], bool] = lambda: True) -> None:
        super().__init__()
        self.stage = stage
        self.wait = wait

    def __call__(self, event: ExecEvent) -> None:
        self.record(event)
        if event.phase == "stdout" and event.tags.get("pipeline_stage_index") == self.stage:
            wait_until(self.wait, "the hook's moment")
            self.refuse(f"line {event.line!r} of stage {self.stage}")


def three_stages(where: str) -> Pipeline | SafeCmd:
    """A line through three stages (or one), which then wait (stopped by the teardown)."""
    first = python("-c", "import time\nprint('line', flush=True)\ntime.sleep(30)")
    if where == "single":
        return first
    return first | python("-c", ECHO_LINES) | python("-c", ECHO_LINES)


WHERE = pytest.mark.parametrize("where", ["hop", "last", "single"])
"""Which line the hook refuses: stage 0's (a relayed hop, ``stage_events``), the last
stage's (the output reader's, on every strategy), or a single command's."""


def stage_of(where: str, stream_backend: str) -> int | None:
    """The ``pipeline_stage_index`` of the line refused (skipping what does not apply)."""
    if where == "hop":
        relayed(stream_backend)
        return 0
    if where == "single" and stream_backend != "direct":
        pytest.skip("a single command has no hop: one stream strategy is enough")
    return 2 if where == "last" else None


def stages(where: str) -> int:
    return 1 if where == "single" else 3


@WHERE
async def test_a_hook_failing_as_the_run_is_cancelled_from_outside_is_cancelled(
    anyio_backend: str, stream_backend: str, where: str
) -> None:
    hooks = OnFirstLine(stage_of(where, stream_backend))
    with observe(hooks), anyio.fail_after(DEADLINE), anyio.CancelScope() as scope:
        hooks.scope = scope  # cancelled, then the hook raises
        await three_stages(where).run(stage_events=where == "hop")
    hooks.assert_cancelled(scope, stages(where))


@WHERE
async def test_a_hook_failing_as_the_deadline_passes_is_hook_failed(
    anyio_backend: str, stream_backend: str, where: str
) -> None:
    hooks = OnFirstLine(stage_of(where, stream_backend), deadline_passed)
    with observe(hooks), pytest.raises(HookError) as info:
        await three_stages(where).run(stage_events=where == "hop", timeout=1.0)
    hooks.assert_hook_failure(info.value, stages(where))


class EveryLine(Hooks):
    """Refuses every stdout line of stage ``stage``."""

    def __init__(self, stage: int | None) -> None:
        super().__init__()
        self.stage = stage

    def __call__(self, event: ExecEvent) -> None:
        self.record(event)
        if event.phase == "stdout" and event.tags.get("pipeline_stage_index") == self.stage:
            self.refuse(f"line {event.line!r}")


@WHERE
async def test_a_hook_failing_again_on_the_last_partial_line_keeps_its_first_error(
    anyio_backend: str, stream_backend: str, where: str
) -> None:
    # One write: the line "a" and the start of "b", delivered when the stream ends.
    first = python("-c", "import sys\nsys.stdout.write('a\\nb')")
    cat = "import sys\nsys.stdout.write(sys.stdin.read())"
    hooks = EveryLine(stage_of(where, stream_backend))
    command = first if where == "single" else first | python("-c", cat) | python("-c", cat)
    with observe(hooks), pytest.raises(HookError) as info:
        with anyio.fail_after(DEADLINE):
            await command.run(stage_events=where == "hop")
    assert str(info.value) == "refused line 'a'"
    hooks.assert_hook_failure(info.value, stages(where))


async def test_before_and_after_hooks_of_two_stages_failing_give_the_first_error(
    anyio_backend: str, stream_backend: str
) -> None:
    pipeline = python("-c", "print(0)") | python("-c", "import sys; sys.stdin.read()")
    hooks = Hooks()
    programs: list[str] = []

    def refuse_two(cmd: object, *result: object) -> None:
        programs.append(str(cmd))
        if len(programs) <= 2:
            hooks.refuse(f"stage {len(programs) - 1}")

    with observe(hooks.record), before(refuse_two), pytest.raises(HookError) as info:
        await pipeline.run()
    assert str(info.value) == "refused stage 0"
    assert hooks.events == []  # before hooks run before any event or process
    programs.clear()
    hooks.raised.clear()
    with observe(hooks.record), after(refuse_two), pytest.raises(HookError) as info:
        await pipeline.run(timeout=DEADLINE)
    assert str(info.value) == "refused stage 0"
    # After hooks run once the run has ended: its events say it ended, each stage exited.
    assert [e.phase for e in hooks.events if e.is_terminal] == ["exit"] * 2


def carriers(kind: failures.Source, *errors: BaseException) -> list[Exception]:
    """What ``fail(kind, error)`` raises, for each of ``errors`` (in this order)."""
    raised: list[Exception] = []
    for error in errors:
        try:
            failures.fail(kind, error)
        except Exception as exc:  # the private carrier
            raised.append(exc)
    return raised


def test_several_failures_in_a_group_are_the_first_raised() -> None:
    first, second = HookError("first"), HookError("second")
    one, two = carriers("hook_failed", first, second)
    # The task that raised first may end last (a rust relay waits for its pump).
    group = ExceptionGroup("tasks", [two, ExceptionGroup("inner", [one])])
    failure = failures.unwrap(group)
    assert failures.error_kind(failure) == "hook_failed"
    assert failures.cause(failure) is first


def test_a_cancellation_in_a_group_wins_over_the_failures() -> None:
    (tagged,) = carriers("hook_failed", HookError("refused"))
    interrupt = KeyboardInterrupt()
    group = BaseExceptionGroup("tasks", [tagged, BaseExceptionGroup("inner", [interrupt])])
    failure = failures.unwrap(group)
    assert failure is interrupt
    assert failures.error_kind(failure) == "cancelled"


def test_a_carried_group_of_several_stays_the_group_it_was() -> None:
    # Someone else's group (a hook's own, raised as it is): never taken apart.
    theirs = ExceptionGroup("the hook's own", [HookError("a"), HookError("b")])
    (tagged,) = carriers("hook_failed", theirs)
    assert failures.cause(failures.unwrap(ExceptionGroup("tasks", [tagged]))) is theirs


async def test_a_hook_failing_on_a_hops_last_partial_line_at_the_timeout_is_a_timeout(
    anyio_backend: str, stream_backend: str
) -> None:
    # Stage 0's output has no newline: its relay delivers it only when it stops, here
    # at the run's timeout. The hook raising on it cannot make the run a hook failure:
    # the timeout ended the run, and the last stage's output is in TimeoutExpired.
    relayed(stream_backend)
    first = python(
        "-c", "import sys, time\nsys.stdout.write('b')\nsys.stdout.flush()\ntime.sleep(30)"
    )
    last = python("-c", "import sys\nprint('out', flush=True)\nsys.stdin.read()")
    hooks = EveryLine(0)
    with observe(hooks), pytest.raises(TimeoutExpired) as info:
        with anyio.fail_after(DEADLINE):
            await (first | last).run(stage_events=True, timeout=1.0)
    assert info.value.output == "out\n"
    assert [str(e) for e in hooks.raised] == ["refused line 'b'"]  # it had its event
    terminal = [e for e in hooks.events if e.is_terminal]
    assert [e.error for e in terminal] == ["timeout", "timeout"]
    assert len(hooks.pids()) == 2
    assert wait_until_dead(hooks.pids()) == []


def test_the_first_failure_of_a_batch_is_the_first_raised() -> None:
    first, second = HookError("first"), HookError("second")
    one, two = carriers("hook_failed", first, second)
    batch = failures.FirstFailure()
    # Each run's own failure, as raised; the order is that of the carriers.
    batch.add(second, failures.raised_order(two))
    batch.add(first, failures.raised_order(one))
    assert batch.first() is first
    batch.add(HookError("untagged, now"))
    assert batch.first() is first


def test_ctrl_c_in_a_batch_wins_over_the_failures_raised_before() -> None:
    batch = failures.FirstFailure()
    (tagged,) = carriers("hook_failed", HookError("first"))
    batch.add(HookError("first"), failures.raised_order(tagged))
    interrupt, later = KeyboardInterrupt(), SystemExit()
    batch.add(interrupt)
    batch.add(later)
    assert batch.first() is interrupt
