"""Stdin data (``stdin=b"..."`` or text) on the direct path, adversarially.

``run_sync()`` feeds it from the run's own poll (``stdin.PolledFeed``); here it is
compared with ``await cmd.run(stdin=...)`` on asyncio and trio, and with
``subprocess.run(input=...)``, where a run ends badly or the input is odd.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
from core_support import open_fds, shell

from cuprum import ExecEvent, ScopeConfig, TimeoutExpired, scoped

BACKENDS = ["asyncio", "trio"]


def _phases(run: Callable[[], Any]) -> tuple[Any, list[ExecEvent]]:
    """What ``run()`` returned or raised, and the run's events but its output lines."""
    seen: list[ExecEvent] = []
    with scoped(ScopeConfig(observe_hooks=(seen.append,))):
        try:
            outcome: Any = run()
        except Exception as exc:  # compared by the caller
            outcome = exc
    return outcome, [e for e in seen if e.phase not in ("stdout", "stderr")]


async def _run(cmd: Any, options: dict[str, Any]) -> Any:
    return await cmd.run(**options)


def test_input_dropped_before_a_timeout_is_still_told() -> None:
    """A child that closes its stdin early, then outlives the timeout: the
    ``stdin_closed`` event comes before the ``error`` event, as on a loop (it was
    only emitted by a direct run that ended well)."""
    shell("true").run_sync(stdin=b"x")  # the shared /dev/null descriptor, opened once
    before = open_fds()
    cmd = shell("exec 0<&-; echo closed; exec sleep 30")
    options: dict[str, Any] = {"stdin": b"x" * (4 << 20), "timeout": 0.3}
    runs = [lambda: cmd.run_sync(**options)]
    runs += [lambda b=b: anyio.run(_run, cmd, options, backend=b) for b in BACKENDS]
    for run in runs:
        outcome, events = _phases(run)
        assert isinstance(outcome, TimeoutExpired) and outcome.output == "closed\n"
        assert [e.phase for e in events] == ["plan", "start", "stdin_closed", "error"]
        assert str(events[2].message).startswith("child closed stdin; ")
    assert open_fds() == before
