"""A hook raising on a line the stream handle reads fails the run with ``hook_failed``.

The handle reads the final stdout in the caller's task, so the hook's exception
propagates there as itself; the run ends with it as ``run()`` would (teardown, one
``error`` event per stage of kind ``hook_failed``, never ``cancelled``), whichever
reader read the line.
"""

from __future__ import annotations

import anyio
import pytest

from cuprum import ExecEvent, SafeCmd, observe
from cuprum._api.command import Pipeline
from cuprum._compose.streaming import StreamHandle

from .streaming_support import CAT, DEADLINE, assert_dead, py

pytestmark = pytest.mark.anyio

LINES_THEN_WAIT = """
import sys, time
sys.stdout.write("a\\nbad\\nc\\n")
sys.stdout.flush()
time.sleep(30)  # stopped by the run's teardown
"""

PARTIAL_LAST = "import sys; sys.stdout.write('a\\nbad')"
"""The line the hook refuses comes at EOF, without its newline."""


class HookError(Exception):
    pass


class Refuser:
    """An observe hook that keeps every event and raises on the stdout line ``bad``."""

    def __init__(self) -> None:
        self.events: list[ExecEvent] = []

    def __call__(self, event: ExecEvent) -> None:
        self.events.append(event)
        if event.phase == "stdout" and event.line == "bad":
            raise HookError("refused")

    def terminal(self) -> list[tuple[str, str | None]]:
        return [(e.phase, e.error) for e in self.events if e.phase in ("exit", "error")]


async def _stream(cmd: SafeCmd | Pipeline, reader: str, pids: list[int]) -> None:
    """Stream ``cmd`` and read it with ``reader`` to the end, its pids kept in ``pids``."""
    async with cmd.stream() as handle:
        pids.extend(handle.pids)
        await _read(handle, reader)


async def _read(handle: StreamHandle, reader: str) -> None:
    if reader == "lines":
        async for _ in handle.stdout_lines():
            pass
    elif reader == "batches":
        async for _ in handle.stdout_batches():
            pass
    elif reader == "chunks":
        async for _ in handle.stdout_chunks():
            pass
    await handle.wait()


def _cmd(code: str, shape: str) -> SafeCmd | Pipeline:
    return py(code) if shape == "command" else py(code) | py(CAT)


@pytest.mark.parametrize("shape", ["command", "pipeline"])
@pytest.mark.parametrize("reader", ["lines", "batches", "chunks", "wait"])
@pytest.mark.parametrize("code", [LINES_THEN_WAIT, PARTIAL_LAST], ids=["mid-run", "at-eof"])
async def test_a_hook_raising_on_a_streamed_line_is_hook_failed(
    anyio_backend: str, stream_backend: str, shape: str, reader: str, code: str
) -> None:
    hook = Refuser()
    pids: list[int] = []

    with observe(hook), anyio.fail_after(DEADLINE):
        with pytest.raises(HookError, match="refused"):  # itself, not a group
            await _stream(_cmd(code, shape), reader, pids)
    stages = 1 if shape == "command" else 2
    assert hook.terminal() == [("error", "hook_failed")] * stages
    (message,) = {e.message for e in hook.events if e.phase == "error"}
    assert message == "HookError: refused"
    await assert_dead(*pids)


async def test_a_hook_error_caught_in_the_block_is_raised_again_by_wait(
    anyio_backend: str,
) -> None:
    hook = Refuser()
    with observe(hook), anyio.fail_after(DEADLINE):
        async with py(LINES_THEN_WAIT).stream() as handle:
            with pytest.raises(HookError):
                await anext(handle.stdout_lines())
            with pytest.raises(HookError):  # the run ended with it
                await handle.wait()
    assert hook.terminal() == [("error", "hook_failed")]


class Exiter(Refuser):
    """Raises ``error`` (a ``SystemExit``, Ctrl+C) on the stdout line ``bad``."""

    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error = error

    def __call__(self, event: ExecEvent) -> None:
        self.events.append(event)
        if event.phase == "stdout" and event.line == "bad":
            raise self.error


@pytest.mark.parametrize("shape", ["command", "pipeline"])
@pytest.mark.parametrize("reader", ["lines", "chunks", "wait"])
@pytest.mark.parametrize("code", [LINES_THEN_WAIT, PARTIAL_LAST], ids=["mid-run", "at-eof"])
async def test_a_hook_raising_systemexit_on_a_streamed_line_is_hook_failed(
    anyio_backend: str, shape: str, reader: str, code: str
) -> None:
    # As in run(): the SystemExit propagates as itself and the run ended hook_failed
    # (it was reported cancelled: the tap kept only an Exception as the run's failure).
    hook = Exiter(SystemExit("the hook exits"))
    pids: list[int] = []

    with observe(hook), anyio.fail_after(DEADLINE):
        with pytest.raises(SystemExit, match="the hook exits") as info:
            await _stream(_cmd(code, shape), reader, pids)
    assert info.value is hook.error
    stages = 1 if shape == "command" else 2
    assert hook.terminal() == [("error", "hook_failed")] * stages
    (message,) = {e.message for e in hook.events if e.phase == "error"}
    assert message == "SystemExit: the hook exits"
    await assert_dead(*pids)


async def test_a_hook_raising_ctrl_c_on_a_streamed_line_is_still_cancelled(
    anyio_backend: str,
) -> None:
    hook = Exiter(KeyboardInterrupt())
    pids: list[int] = []

    with observe(hook), anyio.fail_after(DEADLINE):
        with pytest.raises(KeyboardInterrupt):
            await _stream(py(LINES_THEN_WAIT), "lines", pids)
    assert hook.terminal() == [("error", "cancelled")]
    await assert_dead(*pids)
