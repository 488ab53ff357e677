"""Before/after/observe hooks: order across scopes, and what a failing hook does."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pytest
from core_support import (
    DEADLINE,
    Recorder,
    assert_dead,
    open_fds,
    process_state,
    recording,
    shell,
    wait_until,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from cuprum import (
    ECHO,
    TRUE,
    CommandResult,
    CommandSpec,
    ExecEvent,
    InvalidArgumentError,
    ScopeConfig,
    after,
    before,
    current_context,
    logging_hook,
    scoped,
    sh,
)

pytestmark = pytest.mark.anyio


class BoomError(Exception):
    pass


def _before(log: list[str], name: str) -> Any:
    return lambda cmd: log.append(f"before:{name}")


def _after(log: list[str], name: str) -> Any:
    return lambda cmd, result: log.append(f"after:{name}")


async def test_before_fifo_and_after_lifo_across_nested_scopes() -> None:
    log: list[str] = []

    def phases(event: ExecEvent) -> None:
        if event.phase in ("plan", "exit"):
            log.append(event.phase)

    outer = ScopeConfig(before_hooks=(_before(log, "s1"),), after_hooks=(_after(log, "s1"),))
    inner = ScopeConfig(before_hooks=(_before(log, "s2"),), after_hooks=(_after(log, "s2"),))
    with scoped(outer), before(_before(log, "r1")), after(_after(log, "r1")), sh.observe(phases):
        with scoped(inner), before(_before(log, "r2")), after(_after(log, "r2")):
            await sh.make(TRUE)().run()
    assert log == [
        "before:s1",
        "before:r1",
        "before:s2",
        "before:r2",
        "plan",
        "exit",
        "after:r2",
        "after:s2",
        "after:r1",
        "after:s1",
    ]


@settings(max_examples=20, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=1, max_size=4))
def test_hook_order_for_any_nesting(levels: list[tuple[int, int]]) -> None:
    log: list[str] = []
    registered: list[str] = []

    def enter(depth: int) -> None:
        if depth == len(levels):
            sh.make(TRUE)().run_sync()
            return
        n_before, n_after = levels[depth]
        names = [f"{depth}.{i}" for i in range(max(n_before, n_after))]
        config = ScopeConfig(
            before_hooks=tuple(_before(log, name) for name in names[:n_before]),
            after_hooks=tuple(_after(log, name) for name in names[:n_after]),
        )
        registered.extend(names[:n_after])
        with scoped(config):
            enter(depth + 1)

    enter(0)
    expected_before = [
        f"before:{depth}.{i}" for depth, (n, _) in enumerate(levels) for i in range(n)
    ]
    expected_after = [f"after:{name}" for name in reversed(registered)]
    assert log == expected_before + expected_after


async def test_hooks_receive_the_command_and_its_result() -> None:
    seen: list[tuple[str, object]] = []
    cmd = shell("echo hi; exit 5")

    def on_before(c: CommandSpec) -> None:
        seen.append(("before", c))

    def on_after(c: CommandSpec, result: CommandResult) -> None:
        seen.append(("after", (c, result.exit_code, result.stdout)))

    with before(on_before), after(on_after):
        result = await cmd.run()
    assert seen == [("before", cmd), ("after", (cmd, 5, "hi\n"))]
    assert result.exit_code == 5


async def test_failing_before_hook_propagates_and_nothing_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    error = BoomError("before")
    later: list[str] = []

    def failing(cmd: CommandSpec) -> None:
        raise error

    with recording() as rec, before(failing), before(lambda cmd: later.append("before")):
        with after(lambda cmd, result: later.append("after")):
            with pytest.raises(BoomError) as excinfo:
                await shell(f"touch '{marker}'").run()
    assert excinfo.value is error
    assert later == []
    assert rec.events == []
    assert not marker.exists()


def _pidfile_script(pidfile: Path) -> str:
    """Start a grandchild, say so on both streams, then record both pids and wait.

    The pid file appears only once both lines are in the pipes.
    """
    return (
        'sleep 300 & echo "out $!"; echo "err $!" >&2; '
        f"echo \"$$ $!\" > '{pidfile}.tmp'; mv '{pidfile}.tmp' '{pidfile}'; wait"
    )


def _raise_on(phase: str, pidfile: Path, error: BaseException) -> Any:
    def hook(event: ExecEvent) -> None:
        if event.phase == phase:
            if phase == "start":  # let the child get its grandchild going first
                wait_until(pidfile.exists, what="the child's pid file")
            raise error

    return hook


@pytest.mark.parametrize("phase", ["start", "stdout", "stderr"])
async def test_failing_observe_hook_tears_the_group_down(phase: str, tmp_path: Path) -> None:
    pidfile = tmp_path / "pids"
    error = BoomError(phase)
    first, last = Recorder(), Recorder()
    after_calls: list[object] = []
    cmd = shell(_pidfile_script(pidfile))
    await shell("echo warm-up").run()  # whatever the event loop keeps open is open now
    fds = open_fds()
    with sh.observe(first), sh.observe(_raise_on(phase, pidfile, error)), sh.observe(last):
        with after(lambda c, r: after_calls.append(r)):
            with pytest.raises(BoomError) as excinfo:
                await cmd.run(timeout=DEADLINE)
    assert excinfo.value is error
    for rec in (first, last):
        (terminal,) = rec.terminal
        assert (terminal.phase, terminal.error) == ("error", "hook_failed")
        assert terminal.message is not None and "BoomError" in terminal.message
        assert rec.events[-1] is terminal
    assert after_calls == []
    child = first.pid
    grandchild = int((first.lines("stdout") + first.lines("stderr"))[0].split()[1])
    assert process_state(child) is None  # reaped
    assert_dead(grandchild)
    assert open_fds() == fds


async def test_failing_observe_hook_on_plan_spawns_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    error = BoomError("plan")

    def failing(event: ExecEvent) -> None:
        raise error

    with sh.observe(failing), pytest.raises(BoomError) as excinfo:
        await shell(f"touch '{marker}'").run()
    assert excinfo.value is error
    assert not marker.exists()


async def test_observe_hook_that_keeps_failing_still_ends_every_other_hook(
    tmp_path: Path,
) -> None:
    raised: list[BoomError] = []

    def always(event: ExecEvent) -> None:
        if event.phase != "plan":
            raised.append(BoomError(event.phase))
            raise raised[-1]

    pidfile = tmp_path / "pids"
    with sh.observe(always), recording() as rec, pytest.raises(BoomError) as excinfo:
        await shell(_pidfile_script(pidfile)).run()
    assert excinfo.value is raised[0]
    assert [(e.phase, e.error) for e in rec.terminal] == [("error", "hook_failed")]


async def test_observe_hook_failing_again_on_drained_output_leaks_nothing(
    tmp_path: Path,
) -> None:
    pidfile = tmp_path / "pids"
    cmd = shell(_pidfile_script(pidfile))
    await shell("echo warm-up").run()
    fds = open_fds()

    def always(event: ExecEvent) -> None:
        if event.phase == "start":
            wait_until(pidfile.exists, what="the child's output")  # output is buffered now
        if event.phase in ("start", "stdout", "stderr"):
            raise BoomError(event.phase)

    with recording() as rec, sh.observe(always), pytest.raises(BoomError):
        await cmd.run()
    child, grandchild = (int(pid) for pid in pidfile.read_text().split())
    assert process_state(child) is None
    assert_dead(grandchild)
    assert open_fds() == fds
    assert [(e.phase, e.error) for e in rec.terminal] == [("error", "hook_failed")]


async def test_failing_observe_hook_on_exit_propagates_after_reaping() -> None:
    error = BoomError("exit")
    pids: list[int] = []

    def failing(event: ExecEvent) -> None:
        if event.phase == "exit":
            assert event.pid is not None
            pids.append(event.pid)
            raise error

    with sh.observe(failing), pytest.raises(BoomError) as excinfo:
        await sh.make(ECHO)("x").run()
    assert excinfo.value is error
    assert process_state(pids[0]) is None


async def test_failing_after_hook_propagates_after_the_process_was_reaped() -> None:
    error = BoomError("after")
    states: list[str | None] = []

    def failing(cmd: CommandSpec, result: CommandResult) -> None:
        assert result.pid is not None
        states.append(process_state(result.pid))
        raise error

    with recording() as rec, after(failing), pytest.raises(BoomError) as excinfo:
        await shell("echo done").run()
    assert excinfo.value is error
    assert states == [None]  # already reaped when the hook ran
    assert rec.phases[-1] == "exit"


async def test_detached_hooks_are_not_called() -> None:
    calls: list[str] = []
    registration = before(lambda cmd: calls.append("before"))
    registration.detach()
    with after(lambda cmd, result: calls.append("after")) as reg:
        pass
    reg.detach()  # idempotent
    await sh.make(TRUE)().run()
    assert calls == []


# -- logging_hook -------------------------------------------------------------------


def _extra(record: logging.LogRecord, name: str) -> object:
    """A field the hook passed through ``extra=``."""
    return record.__dict__[name]


async def test_logging_hook_logs_start_and_exit(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="cuprum")
    with logging_hook():
        result = await sh.make(ECHO)("-n", "hello logging").run()
    start, exit_ = (r for r in caplog.records if r.name == "cuprum")
    assert start.levelno == exit_.levelno == logging.INFO
    assert "echo" in start.getMessage() and "hello logging" in start.getMessage()
    assert _extra(start, "cuprum_program") == "echo"
    assert _extra(start, "cuprum_argv") == ("echo", "-n", "hello logging")
    assert _extra(exit_, "cuprum_pid") == result.pid
    assert _extra(exit_, "cuprum_exit_code") == 0
    assert _extra(exit_, "cuprum_duration_s") == result.duration_s
    assert _extra(exit_, "cuprum_stdout_len") == len("hello logging")
    assert _extra(exit_, "cuprum_stderr_len") == 0
    assert f"pid={result.pid}" in exit_.getMessage()


async def test_logging_hook_custom_logger_and_levels(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("myapp.commands")
    caplog.set_level(logging.DEBUG, logger="myapp.commands")
    with logging_hook(logger=logger, start_level=logging.DEBUG, exit_level=logging.WARNING):
        await shell("exit 2").run(capture=False)
    records = [r for r in caplog.records if r.name == "myapp.commands"]
    assert [r.levelno for r in records] == [logging.DEBUG, logging.WARNING]
    assert _extra(records[1], "cuprum_exit_code") == 2
    assert _extra(records[1], "cuprum_stdout_len") == 0
    assert _extra(records[1], "cuprum_stderr_len") == 0
    assert not [r for r in caplog.records if r.name == "cuprum"]


async def test_logging_hook_respects_levels_and_detach(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="cuprum")
    with logging_hook():  # INFO records are below the logger's level
        await sh.make(TRUE)().run()
    registration = logging_hook(start_level=logging.ERROR)
    registration.detach()
    await sh.make(TRUE)().run()
    assert [r for r in caplog.records if r.name == "cuprum"] == []


async def test_logging_hook_timing_is_plausible(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="cuprum")
    start = time.perf_counter()
    with logging_hook():
        await sh.make(TRUE)().run()
    elapsed = time.perf_counter() - start
    (exit_,) = (r for r in caplog.records if r.name == "cuprum" and "exit" in r.getMessage())
    duration = _extra(exit_, "cuprum_duration_s")
    assert isinstance(duration, float)
    assert 0 < duration <= elapsed


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"logger": "myapp"}, r"logger must be a logging.Logger or None, got 'myapp'"),
        ({"start_level": "INFO"}, r"start_level must be an int \(logging.INFO, ...\), got 'INFO'"),
        ({"exit_level": None}, r"exit_level must be an int \(logging.INFO, ...\), got None"),
        ({"exit_level": True}, r"exit_level must be an int \(logging.INFO, ...\), got True"),
    ],
)
def test_logging_hook_refuses_bad_arguments_when_registered(
    options: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=rf"^logging_hook: {message}"):
        logging_hook(**options)  # type: ignore[arg-type]
    assert current_context().before_hooks == ()
    assert current_context().after_hooks == ()


async def test_logging_hook_takes_a_logger_adapter(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="myapp.adapted")
    adapter = logging.LoggerAdapter(logging.getLogger("myapp.adapted"), {"request": "r1"})
    with logging_hook(logger=adapter):  # type: ignore[arg-type]
        await sh.make(TRUE)().run()
    records = [r for r in caplog.records if r.name == "myapp.adapted"]
    assert [r.getMessage().split()[:3] for r in records] == [
        ["cuprum", "start", "program=true"],
        ["cuprum", "exit", "program=true"],
    ]
