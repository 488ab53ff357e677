"""File descriptors: children see only 0-2, and the parent leaks none, however a run ends."""

from __future__ import annotations

import io
from typing import Any

import anyio
import pytest
from core_support import DEADLINE, cancel_on_line, open_fds, py, recording, shell

from cuprum import LS, STDOUT, ExecEvent, ExecutionContext, TimeoutExpired, sh

pytestmark = pytest.mark.anyio

LIST_FDS = sh.make(LS)("/proc/self/fd")
EXPECTED_CHILD_FDS = ["0", "1", "2", "3"]  # 3 is ls's own handle on the directory


def _listed(text: str | None) -> list[str]:
    assert text is not None
    return sorted(text.split(), key=int)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"stdin": b"some input"},
        {"stdin": "x" * 200_000},
        {"stderr": STDOUT},
        {"text": False},
    ],
    ids=["default", "stdin-bytes", "stdin-large", "stderr-merged", "bytes"],
)
async def test_child_sees_only_the_standard_fds(
    options: dict[str, Any], inheritable_fd: int
) -> None:
    result = await LIST_FDS.run(**options)
    out = result.stdout.decode() if isinstance(result.stdout, bytes) else result.stdout
    assert _listed(out) == EXPECTED_CHILD_FDS


async def test_child_sees_only_the_standard_fds_with_echo_and_observers(
    inheritable_fd: int,
) -> None:
    sink = io.StringIO()
    with recording() as rec:
        result = await LIST_FDS.run(
            capture=False, echo=True, context=ExecutionContext(stdout_sink=sink)
        )
    assert result.stdout is None
    assert _listed(sink.getvalue()) == EXPECTED_CHILD_FDS
    assert sorted(rec.lines(), key=int) == EXPECTED_CHILD_FDS


async def test_python_child_sees_only_the_standard_fds(inheritable_fd: int) -> None:
    result = await py("import os; print(' '.join(os.listdir('/proc/self/fd')))").run()
    assert _listed(result.stdout) == EXPECTED_CHILD_FDS


async def test_no_fd_left_open_after_100_runs() -> None:
    cmd = shell("echo out; echo err >&2")
    await cmd.run()  # warm-up: the event loop's own fds
    before = open_fds()
    for _ in range(100):
        result = await cmd.run()
        assert result.stdout == "out\n"
    assert open_fds() == before


async def test_no_fd_left_open_after_failed_runs() -> None:
    await shell("true").run()
    before = open_fds()

    def failing(event: ExecEvent) -> None:
        if event.phase == "stdout":
            raise KeyError("hook")

    for _ in range(10):
        await shell("exit 3").run()
        with pytest.raises(TimeoutExpired):
            await shell("echo x; exec sleep 300").run(timeout=0.01)
        with anyio.CancelScope() as scope:
            with recording(on_line=cancel_on_line(scope, "ready")):
                await shell("echo ready; exec sleep 300").run(timeout=DEADLINE)
        with sh.observe(failing), pytest.raises(KeyError):
            await shell("echo x; exec sleep 300").run(timeout=DEADLINE)
        await shell("kill -9 $$").run(stdin=b"data")
    assert open_fds() == before


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_no_fd_left_open_after_100_sync_runs(backend: Any) -> None:
    cmd = shell("echo out; echo err >&2")
    cmd.run_sync(backend=backend)  # warm-up: the thread's loop keeps its fds
    before = open_fds()
    for _ in range(100):
        assert cmd.run_sync(backend=backend).stderr == "err\n"
    assert open_fds() == before
