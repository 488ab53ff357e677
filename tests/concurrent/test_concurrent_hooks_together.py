"""Hooks of several ``run_concurrent`` commands raising together: the batch raises the
first hook's exception, as itself (never an exception group, never a trio or anyio
type), on asyncio and trio alike, as one run does for its stages
(tests/pipelines/test_hooks_failing_together.py); Ctrl+C or ``SystemExit`` in a hook
is raised bare too, and a cancellation from outside at the same time wins.

The last command submitted prints its line at once; the others wait to be told. Its
hook tells them and holds the loop until each has written its line (so every reader
is ready), then raises: the first to raise, though submitted last. The others' hooks
raise on their lines as their readers wake, long before the first command's teardown
(SIGTERM, the exit) lets the batch stop them. Every wait is for a condition, under a
deadline.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import anyio
import pytest
from concurrent_support import python, wait_until_dead

from cuprum import (
    ConcurrentConfig,
    ExecEvent,
    ExecutionContext,
    SafeCmd,
    observe,
    run_concurrent,
    run_concurrent_sync,
)

pytestmark = pytest.mark.anyio

DEADLINE = 10.0
"""Seconds any wait of these tests may take before it fails the test."""

COMMANDS = 3

PROGRAM = f"""
import os, sys, time
go, written = sys.argv[1:]
end = time.monotonic() + {DEADLINE}
while go != "-" and not os.path.exists(go):
    if time.monotonic() > end:
        sys.exit("gave up waiting for " + go)
    time.sleep(0.001)
print("line", flush=True)
open(written, "w").close()
time.sleep(30)  # stopped by the batch
"""
"""Once told (``-``: at once), a line; then it says so, and waits."""


class HookError(Exception):
    """What the hooks raise."""


class Together:
    """The batch's commands and the one hook every command's events go to."""

    def __init__(self, tmp: Path, error: type[BaseException] = HookError) -> None:
        self.go = tmp / "go"
        self.written = [tmp / f"written{i}" for i in range(COMMANDS)]
        self.error = error
        self.raised: list[BaseException] = []
        self.events: list[ExecEvent] = []
        self.scope: anyio.CancelScope | None = None  # cancelled by the first to raise

    def commands(self, *, feed: bool = False) -> list[SafeCmd]:
        last = COMMANDS - 1
        commands = [
            python("-c", PROGRAM, "-" if i == last else str(self.go), str(written))
            for i, written in enumerate(self.written)
        ]
        guard = ExecutionContext(timeout=4 * DEADLINE)  # a batch that hung fails, late
        if feed:  # stdin from an async iterable: each run has a task group
            return [cmd.with_options(stdin=_idle(), context=guard) for cmd in commands]
        return [cmd.with_options(context=guard) for cmd in commands]

    def __call__(self, event: ExecEvent) -> None:
        self.events.append(event)
        if event.phase != "stdout":
            return
        if not self.raised:  # the last command's line: the first to raise
            self.go.touch()
            _wait_until(lambda: all(p.exists() for p in self.written[:-1]), "every line")
            if self.scope is not None:
                self.scope.cancel()
        error = self.error(f"refused the line of pid {event.pid}")
        self.raised.append(error)
        raise error

    def assert_first(self, error: BaseException) -> None:
        """The first hook's exception, as itself, every hook raised, nothing left running."""
        assert type(error) is self.error, repr(error)
        assert error is self.raised[0]
        assert len(self.raised) == COMMANDS, "the hooks did not raise together"
        self.assert_ended()
        if self.error is HookError:  # (Ctrl+C in a hook is ``cancelled``)
            assert self._terminal(self.raised[0]).error == "hook_failed"

    def assert_ended(self) -> None:
        pids = [e.pid for e in self.events if e.phase == "start" and e.pid is not None]
        assert len(pids) == COMMANDS
        terminal = [e for e in self.events if e.is_terminal]
        assert sorted(e.pid or 0 for e in terminal) == sorted(pids)  # one each
        assert {e.phase for e in terminal} == {"error"}
        assert wait_until_dead(pids) == []

    def _terminal(self, error: BaseException) -> ExecEvent:
        pid = int(str(error).rsplit(" ", 1)[1])
        (event,) = [e for e in self.events if e.is_terminal and e.pid == pid]
        return event


async def _idle() -> AsyncIterator[bytes]:
    """A stdin source that never yields (abandoned when the command ends)."""
    await anyio.sleep_forever()
    yield b""  # pragma: no cover


def _wait_until(done: Callable[[], bool], what: str) -> None:
    """Poll ``done()`` (in the event loop's thread: the loop is held) under the deadline."""
    end = time.monotonic() + DEADLINE
    while not done():
        if time.monotonic() > end:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.001)


@pytest.mark.parametrize("fail_fast", [False, True], ids=["collect", "fail_fast"])
@pytest.mark.parametrize("feed", [False, True], ids=["plain", "stdin"])
async def test_hooks_of_several_commands_failing_together_give_the_first_hooks_error(
    anyio_backend: str, tmp_path: Path, fail_fast: bool, feed: bool
) -> None:
    hooks = Together(tmp_path)
    config = ConcurrentConfig(fail_fast=fail_fast)
    with observe(hooks), pytest.raises(HookError) as info:
        with anyio.fail_after(2 * DEADLINE):
            await run_concurrent(*hooks.commands(feed=feed), config=config)
    hooks.assert_first(info.value)


@pytest.mark.parametrize("error", [SystemExit, KeyboardInterrupt])
async def test_hooks_raising_systemexit_or_ctrl_c_together_raise_the_first_bare(
    anyio_backend: str, tmp_path: Path, error: type[BaseException]
) -> None:
    hooks = Together(tmp_path, error)
    with observe(hooks), pytest.raises(error) as info:
        with anyio.fail_after(2 * DEADLINE):
            await run_concurrent(*hooks.commands())
    hooks.assert_first(info.value)


async def test_hooks_failing_together_as_the_batch_is_cancelled_from_outside(
    anyio_backend: str, tmp_path: Path
) -> None:
    hooks = Together(tmp_path)
    with observe(hooks), anyio.fail_after(2 * DEADLINE), anyio.CancelScope() as scope:
        hooks.scope = scope
        await run_concurrent(*hooks.commands(feed=True))
    assert scope.cancelled_caught
    assert hooks.raised
    hooks.assert_ended()


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_hooks_failing_together_in_run_concurrent_sync(backend: str, tmp_path: Path) -> None:
    hooks = Together(tmp_path)
    with observe(hooks), pytest.raises(HookError) as info:
        run_concurrent_sync(*hooks.commands(), backend=backend)  # type: ignore[call-overload]
    hooks.assert_first(info.value)
