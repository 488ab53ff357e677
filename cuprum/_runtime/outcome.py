"""What a run hands back: each stage's result, a cancelled run's salvage, a timeout."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cuprum._core.errors import TimeoutExpired
from cuprum._model.results import CommandResult, Outcome
from cuprum._runtime.request import RunRequest
from cuprum._runtime.stage import Stage
from cuprum._runtime.streams import StreamCollector

__all__ = ["result", "timeout_error"]


def _value(req: RunRequest, collector: StreamCollector | None, *, lenient: bool = False) -> Any:
    """A stream's captured value; ``lenient``: None where ``errors="strict"`` fails."""
    if collector is None:
        return None
    try:
        return collector.value(text=req.text)
    except UnicodeDecodeError:
        if lenient:
            return None
        raise


def result(req: RunRequest, stage: Stage, *, outcome: Outcome = "exited") -> CommandResult[Any]:
    """The stage's result. A cancelled one cannot raise for its output: a stream
    that ``errors="strict"`` cannot decode (cut mid-character) is None instead."""
    child = stage.child
    assert child is not None and child.exit_code is not None
    lenient = outcome == "cancelled"
    return CommandResult(
        program=stage.cmd.program,
        argv=stage.argv,
        exit_code=child.exit_code,
        pid=child.pid,
        stdout=_value(req, stage.stdout, lenient=lenient),
        stderr=_value(req, stage.stderr, lenient=lenient),
        duration_s=stage.duration,
        stdout_truncated=stage.stdout.truncated if stage.stdout else False,
        stderr_truncated=stage.stderr.truncated if stage.stderr else False,
        outcome=outcome,
        usage=stage.usage,
        limit=stage.limit,
    )


def timeout_error(req: RunRequest, stages: Sequence[Stage]) -> TimeoutExpired:
    """``TimeoutExpired`` for the whole run, with the final stage's output so far."""
    argv: list[str] = []
    for stage in stages:
        argv += [*stage.argv, "|"]
    last = stages[-1]
    timeout = req.timeout if req.timeout is not None else 0.0
    stdout, stderr = _value(req, last.stdout), _value(req, last.stderr)
    if req.capture and not last.started:  # expired before anything started
        empty = "" if req.text else b""
        stdout = empty if req.stdout is None else None
        stderr = empty if req.stderr is None else None
    return TimeoutExpired(argv[:-1], timeout, stdout, stderr)
