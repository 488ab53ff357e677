"""An observe hook raising ``SystemExit`` fails the run as a hook's error: its
``error`` events say ``hook_failed`` (they said ``internal_error``) and the run
raises the ``SystemExit`` itself, on every path (a direct ``run_sync``, asyncio,
trio, pipelines). Ctrl+C in a hook stays ``cancelled``."""

from __future__ import annotations

import pytest

from cuprum import ExecEvent, SafeCmd, observe
from cuprum._api.command import Pipeline

from .pipeline_support import python, wait_until_dead

LINES = "import sys\nfor line in sys.stdin:\n    print(line, end='', flush=True)"
"""A last stage that passes each line on as it comes."""


class Hook:
    """Records every event; raises ``error`` on the first event of ``phase``."""

    def __init__(self, phase: str, error: BaseException) -> None:
        self.phase, self.error = phase, error
        self.events: list[ExecEvent] = []
        self.raised = False

    def __call__(self, event: ExecEvent) -> None:
        self.events.append(event)
        if event.phase == self.phase and not self.raised:
            self.raised = True
            raise self.error

    def kinds(self) -> list[str | None]:
        """The terminal events' kinds: one per stage announced (``plan``)."""
        terminal = [e for e in self.events if e.is_terminal]
        assert {e.phase for e in terminal} == {"error"}, terminal
        assert len(terminal) == len([e for e in self.events if e.phase == "plan"])
        return [e.error for e in terminal]

    def assert_dead(self) -> None:
        pids = [e.pid for e in self.events if e.phase == "start" and e.pid is not None]
        assert wait_until_dead(pids) == []


def command(stages: int) -> SafeCmd | Pipeline:
    cmd = python("-c", "print('line', flush=True)")
    return cmd if stages == 1 else cmd | python("-c", LINES)


STAGES = pytest.mark.parametrize("stages", [1, 2], ids=["single", "pipeline"])
PHASES = pytest.mark.parametrize("phase", ["plan", "start", "stdout"])


@STAGES
@PHASES
@pytest.mark.anyio
async def test_a_hook_raising_systemexit_is_hook_failed(
    anyio_backend: str, stages: int, phase: str
) -> None:
    hook = Hook(phase, SystemExit("the hook exits"))
    with observe(hook), pytest.raises(SystemExit, match="the hook exits") as info:
        await command(stages).run()
    assert info.value is hook.error
    assert set(hook.kinds()) == {"hook_failed"}
    hook.assert_dead()


@STAGES
@PHASES
def test_a_hook_raising_systemexit_is_hook_failed_in_run_sync(stages: int, phase: str) -> None:
    # One command runs direct (in this thread), a pipeline on a loop of its own.
    hook = Hook(phase, SystemExit("the hook exits"))
    with observe(hook), pytest.raises(SystemExit, match="the hook exits") as info:
        command(stages).run_sync()
    assert info.value is hook.error
    assert set(hook.kinds()) == {"hook_failed"}
    hook.assert_dead()


@STAGES
@pytest.mark.anyio
async def test_a_hook_raising_ctrl_c_is_still_cancelled(anyio_backend: str, stages: int) -> None:
    hook = Hook("start", KeyboardInterrupt())
    with observe(hook), pytest.raises(KeyboardInterrupt):
        await command(stages).run()
    assert set(hook.kinds()) == {"cancelled"}
    hook.assert_dead()


@STAGES
def test_a_hook_raising_ctrl_c_is_still_cancelled_in_run_sync(stages: int) -> None:
    hook = Hook("start", KeyboardInterrupt())
    with observe(hook), pytest.raises(KeyboardInterrupt):
        command(stages).run_sync()
    assert set(hook.kinds()) == {"cancelled"}
    hook.assert_dead()
