"""The ``error`` kind of a terminal event says what actually failed (issue 10).

``spawn_failed`` for any failure to start, ``cancelled`` only for cancellation,
``hook_failed`` only for hooks, ``stdin_failed`` for a failing stdin source,
``output_failed`` for a failing echo sink; the exception raised is the one that
failed, never a wrapper.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from core_support import Recorder, py, recording, shell

from cuprum import ExecEvent, ExecutionContext, SpawnError, TimeoutExpired, sh
from cuprum._core.context import current_context
from cuprum._runtime.engine import run_stages
from cuprum._runtime.failures import Source, deadline_expired, error_kind, fail
from cuprum._runtime.request import RunRequest
from cuprum._runtime.streams import CaptureLimitExceeded
from cuprum.remote import RemoteConnectError

pytestmark = pytest.mark.anyio

CAT = "import sys; sys.stdout.write(sys.stdin.read())"


def kinds(rec: Recorder) -> list[str | None]:
    """The ``error`` kind of each terminal event (asserting each is an ``error``)."""
    assert rec.terminal, rec.phases
    assert all(event.phase == "error" for event in rec.terminal), rec.phases
    return [event.error for event in rec.terminal]


class BrokenSink(io.StringIO):
    def write(self, text: str) -> int:
        raise ValueError("echo sink is closed")


@pytest.mark.parametrize(
    "env",
    [{"BAD": "nul\x00inside"}, {"NUL\x00NAME": "x"}, {"A=B": "x"}],
    ids=["nul-value", "nul-name", "equals-in-name"],
)
async def test_an_env_the_os_refuses_is_spawn_failed(
    anyio_backend: str, env: dict[str, str]
) -> None:
    # Straight to the engine: building the request through run() may refuse such an
    # env up front, before any event; the engine must still name it a failed start.
    context = ExecutionContext(env=env)
    with recording() as rec:
        request = RunRequest((shell("true"),), current_context(), context)
        with pytest.raises(ValueError):  # the spawn helper words it
            await run_stages(request)
    assert kinds(rec) == ["spawn_failed"]
    assert rec.of("start") == []


async def test_an_unencodable_stdin_is_spawn_failed(anyio_backend: str) -> None:
    with recording() as rec, pytest.raises(UnicodeEncodeError):
        await py(CAT).run(stdin="lone surrogate \udc80")
    assert kinds(rec) == ["spawn_failed"]
    assert rec.of("start") == []


async def test_a_failing_stdin_source_is_stdin_failed(anyio_backend: str) -> None:
    error = RuntimeError("source broke")

    async def source() -> AsyncIterator[bytes]:
        yield b"first\n"
        raise error

    with recording() as rec, pytest.raises(RuntimeError) as info:
        await py(CAT).run(stdin=source())
    assert info.value is error
    assert kinds(rec) == ["stdin_failed"]
    assert rec.terminal[0].message == "RuntimeError: source broke"


@pytest.mark.parametrize("stages", [1, 2])
async def test_a_stdin_source_raising_system_exit_is_stdin_failed(
    anyio_backend: str, stages: int
) -> None:
    async def source() -> AsyncIterator[bytes]:
        yield b"first\n"
        raise SystemExit("the source exits")

    cmd = py(CAT) if stages == 1 else py(CAT) | py(CAT)
    with recording() as rec, pytest.raises(SystemExit, match="the source exits"):
        await cmd.run(stdin=source())
    assert kinds(rec) == ["stdin_failed"] * stages


async def test_a_stdin_source_interrupted_by_ctrl_c_is_cancelled(anyio_backend: str) -> None:
    async def source() -> AsyncIterator[bytes]:
        yield b"first\n"
        raise KeyboardInterrupt

    with recording() as rec, pytest.raises(KeyboardInterrupt):
        await py(CAT).run(stdin=source())
    assert kinds(rec) == ["cancelled"]


async def test_a_failing_echo_sink_is_output_failed(anyio_backend: str) -> None:
    context = ExecutionContext(stdout_sink=BrokenSink())
    with recording() as rec, pytest.raises(ValueError, match="echo sink is closed"):
        await shell("echo hello; exec sleep 30").run(echo=True, context=context)
    assert kinds(rec) == ["output_failed"]


class ExitingSink(io.StringIO):
    def write(self, text: str) -> int:
        raise SystemExit("the sink exits")


class InterruptedSink(io.StringIO):
    def write(self, text: str) -> int:
        raise KeyboardInterrupt


async def test_an_echo_sink_raising_system_exit_is_output_failed(anyio_backend: str) -> None:
    # (as a hook's SystemExit is hook_failed: raised as itself, the kind says where)
    context = ExecutionContext(stdout_sink=ExitingSink())
    with recording() as rec, pytest.raises(SystemExit, match="the sink exits"):
        await shell("echo hello; exec sleep 30").run(echo=True, context=context)
    assert kinds(rec) == ["output_failed"]


def test_an_echo_sink_raising_system_exit_is_output_failed_without_a_loop() -> None:
    context = ExecutionContext(stdout_sink=ExitingSink())
    with recording() as rec, pytest.raises(SystemExit, match="the sink exits"):
        shell("echo hello; exec sleep 30").run_sync(echo=True, context=context)
    assert kinds(rec) == ["output_failed"]


def test_an_echo_sink_interrupted_by_ctrl_c_is_cancelled_without_a_loop() -> None:
    context = ExecutionContext(stdout_sink=InterruptedSink())
    with recording() as rec, pytest.raises(KeyboardInterrupt):
        shell("echo hello; exec sleep 30").run_sync(echo=True, context=context)
    assert kinds(rec) == ["cancelled"]


async def test_an_echo_sink_raising_system_exit_in_a_stream_is_output_failed(
    anyio_backend: str,
) -> None:
    context = ExecutionContext(stdout_sink=ExitingSink())

    async def read_all() -> None:
        async with shell("echo hello; exec sleep 30").stream(echo=True, context=context) as h:
            async for _ in h.stdout_lines():
                pass

    with recording() as rec, pytest.raises(SystemExit, match="the sink exits"):
        await read_all()
    assert kinds(rec) == ["output_failed"]


@pytest.mark.parametrize("phase", ["plan", "start", "stdout", "stdin_closed"])
async def test_a_failing_hook_is_hook_failed(anyio_backend: str, phase: str) -> None:
    error = LookupError(phase)

    def failing(event: ExecEvent) -> None:
        if event.phase == phase:
            raise error

    with recording() as rec, sh.observe(failing), pytest.raises(LookupError) as info:
        await shell("exec 0<&-; echo out; exec sleep 30").run(stdin=b"x" * 4_000_000)
    assert info.value is error
    assert kinds(rec) == ["hook_failed"]


async def test_a_keyboard_interrupt_in_a_hook_is_cancelled(anyio_backend: str) -> None:
    def interrupt(event: ExecEvent) -> None:
        if event.phase == "stdout":
            raise KeyboardInterrupt

    with recording() as rec, sh.observe(interrupt), pytest.raises(KeyboardInterrupt):
        await shell("echo out; exec sleep 30").run()
    assert kinds(rec) == ["cancelled"]


async def test_only_cancellation_is_cancelled(anyio_backend: str) -> None:
    with recording() as rec, anyio.CancelScope() as scope:

        def cancel(event: ExecEvent) -> None:
            if event.phase == "stdout":
                scope.cancel()

        with sh.observe(cancel):
            await shell("echo out; exec sleep 30").run()
    assert kinds(rec) == ["cancelled"]
    with recording() as rec, pytest.raises(TimeoutExpired):
        await shell("exec sleep 30").run(timeout=0.05)
    assert kinds(rec) == ["timeout"]


def tagged(kind: Source, error: BaseException) -> BaseException:
    """What ``fail(kind, error)`` raises."""
    with pytest.raises(Exception) as info:  # whatever fail() raises
        fail(kind, error)
    return info.value


async def test_error_kind_names_each_exception_type(anyio_backend: str) -> None:
    limit = CaptureLimitExceeded("p", "stdout", 1, "x")
    cases: list[tuple[BaseException, str]] = [
        (KeyboardInterrupt(), "cancelled"),
        (deadline_expired("late"), "timeout"),
        (limit, "capture_limit"),
        (tagged("output_failed", limit), "capture_limit"),  # a kind of its own stays
        (SpawnError(24, "p: cannot start"), "spawn_failed"),
        (tagged("spawn_failed", ValueError("env")), "spawn_failed"),
        (tagged("hook_failed", KeyError("k")), "hook_failed"),
        (tagged("relay_failed", tagged("hook_failed", KeyError("k"))), "hook_failed"),
        (tagged("stdin_failed", RuntimeError("s")), "stdin_failed"),
        (tagged("relay_failed", OSError(5, "EIO")), "relay_failed"),
        (tagged("output_failed", ValueError("sink")), "output_failed"),
        (RemoteConnectError("h", "the connection was lost"), "remote_failed"),
        (RuntimeError("a bug"), "internal_error"),
    ]
    for exc, kind in cases:
        assert error_kind(exc) == kind, exc


async def test_cancelled_exception_class_is_cancelled(anyio_backend: str) -> None:
    seen: list[Any] = []
    with anyio.CancelScope() as scope:
        scope.cancel()
        try:
            await anyio.lowlevel.checkpoint()
        except anyio.get_cancelled_exc_class() as exc:
            seen.append(error_kind(exc))
            raise
    assert seen == ["cancelled"]
