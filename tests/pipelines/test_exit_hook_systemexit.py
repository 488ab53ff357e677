"""An observe hook raising ``SystemExit`` on an ``exit`` event: every stage still gets
its ``exit`` event, and every hook each of them (the events stopped at the first
``SystemExit``; an ``Exception`` never stopped them), then the run raises the
``SystemExit`` itself, as for an ``Exception`` raised there, with no ``error`` event
(the processes have ended: ``exit`` was their terminal event). On asyncio, trio and
``run_sync`` (a single command runs direct, without an event loop)."""

from __future__ import annotations

import pytest

from cuprum import ExecEvent, SafeCmd, observe
from cuprum._api.command import Pipeline

from .pipeline_support import python

LINES = "import sys\nfor line in sys.stdin:\n    print(line, end='', flush=True)"
"""A last stage that passes each line on as it comes."""


class Recorder:
    """Records the terminal events; raises ``error`` on the first ``exit`` event."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error
        self.terminal: list[tuple[str, int | None]] = []

    def __call__(self, event: ExecEvent) -> None:
        if event.is_terminal:
            self.terminal.append((event.phase, event.pid))
        if event.phase == "exit" and self.error is not None:
            error, self.error = self.error, None
            raise error


def command(stages: int) -> SafeCmd | Pipeline:
    cmd = python("-c", "print('line', flush=True)")
    return cmd if stages == 1 else cmd | python("-c", LINES)


def check(stages: int, *hooks: Recorder) -> None:
    """Every hook had one ``exit`` event per stage, each stage's, and nothing after."""
    for hook in hooks:
        assert [phase for phase, _ in hook.terminal] == ["exit"] * stages
        assert len({pid for _, pid in hook.terminal}) == stages
    assert all(hook.terminal == hooks[0].terminal for hook in hooks)


STAGES = pytest.mark.parametrize("stages", [1, 2], ids=["single", "pipeline"])
ERRORS = pytest.mark.parametrize(
    "first", [None, RuntimeError("an earlier error")], ids=["alone", "after-an-exception"]
)


@STAGES
@ERRORS
@pytest.mark.anyio
async def test_a_hook_raising_systemexit_on_exit_stops_no_exit_event(
    anyio_backend: str, stages: int, first: Exception | None
) -> None:
    exiting = SystemExit("the hook exits")
    # The hooks in turn: one raising ``first`` (before the SystemExit), the one that
    # exits, one after it (which sees every exit all the same).
    hooks = (Recorder(first), Recorder(exiting), Recorder())
    with observe(hooks[0]), observe(hooks[1]), observe(hooks[2]):
        with pytest.raises(SystemExit) as info:
            await command(stages).run()
    assert info.value is exiting  # not the Exception raised before it: it wins, as bare
    check(stages, *hooks)


@STAGES
@ERRORS
def test_a_hook_raising_systemexit_on_exit_stops_no_exit_event_in_run_sync(
    stages: int, first: Exception | None
) -> None:
    exiting = SystemExit("the hook exits")
    hooks = (Recorder(first), Recorder(exiting), Recorder())
    with observe(hooks[0]), observe(hooks[1]), observe(hooks[2]):
        with pytest.raises(SystemExit) as info:
            command(stages).run_sync()
    assert info.value is exiting
    check(stages, *hooks)
