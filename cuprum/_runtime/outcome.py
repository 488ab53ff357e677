"""What a run hands back: each stage's result, a cancelled run's salvage, a timeout.

A run that ended normally decodes its output strictly if asked to (and may raise
``UnicodeDecodeError``, as ``subprocess.run`` does); a cancelled run's salvage and a
``TimeoutExpired`` cannot raise for their output, so a stream that ``errors="strict"``
cannot decode is given as its bytes there (:meth:`.StreamCollector.salvage`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cuprum._core.errors import TimeoutExpired
from cuprum._model.results import CommandResult, Outcome
from cuprum._runtime.request import RunRequest
from cuprum._runtime.secrets import run_secrets
from cuprum._runtime.stage import Stage
from cuprum._runtime.streams import StreamCollector

__all__ = ["result", "timeout_error"]


def _value(req: RunRequest, collector: StreamCollector | None, *, salvage: bool) -> Any:
    """A stream's captured value; ``salvage`` (a run that ended in an error of its
    own): never raises, the bytes where ``errors="strict"`` cannot decode them."""
    if collector is None:
        return None
    if salvage:
        return collector.salvage(text=req.text)
    return collector.value(text=req.text)


def _text_value(req: RunRequest, collector: StreamCollector | None) -> Any:
    """A cancelled result's value: as the result's type says, text when text was
    asked for (decoded with ``"replace"`` where ``errors="strict"`` fails)."""
    value = _value(req, collector, salvage=True)
    if req.text and isinstance(value, bytes):
        return value.decode(req.context.encoding, "replace")
    return value


def result(req: RunRequest, stage: Stage, *, outcome: Outcome = "exited") -> CommandResult[Any]:
    """The stage's result. A stopped one (cancelled, timed out) cannot raise for its
    output: a stream that ``errors="strict"`` cannot decode (cut mid-character) is
    decoded with ``"replace"`` instead, so it is still the ``str`` its type promises."""
    child = stage.child
    assert child is not None and child.exit_code is not None
    out, err = stage.stdout, stage.stderr
    if outcome != "exited":
        stdout, stderr = _text_value(req, out), _text_value(req, err)
    else:  # (each value asked of its collector here: this is every run's path)
        stdout = None if out is None else out.value(text=req.text)
        stderr = None if err is None else err.value(text=req.text)
    return CommandResult(
        program=stage.cmd.program,
        argv=stage.argv,
        exit_code=child.exit_code,
        pid=child.pid,
        stdout=stdout,
        stderr=stderr,
        duration_s=stage.duration,
        stdout_truncated=out.truncated if out is not None else False,
        stderr_truncated=err.truncated if err is not None else False,
        outcome=outcome,
        accepted=req.accepted(stage.index),
        secrets=run_secrets(req),
        usage=stage.usage,
        limit=stage.limit,
    )


def timeout_error(req: RunRequest, stages: Sequence[Stage]) -> TimeoutExpired:
    """``TimeoutExpired`` for the whole run, with the final stage's output so far.

    After the teardown: a pipeline's error names the stages the teardown found
    still running (``stopped``), and the most upstream of them as the culprit; when
    none was (every stage had exited, a pipe was still held open), the last stage.
    """
    argv: list[str] = []
    for stage in stages:
        argv += [*stage.argv, "|"]
    last = stages[-1]
    timeout = req.timeout if req.timeout is not None else 0.0
    stdout = _value(req, last.stdout, salvage=True)
    stderr = _value(req, last.stderr, salvage=True)
    if req.capture and not last.started:  # expired before anything started
        empty = "" if req.text else b""
        stdout = empty if req.stdout is None else None
        stderr = empty if req.stderr is None else None
    if len(stages) == 1:
        return TimeoutExpired(
            argv[:-1], timeout, stdout, stderr, program=last.cmd.program, secrets=run_secrets(req)
        )
    running = tuple(s.index for s in stages if s.child is not None and s.child.stopped)
    named = stages[running[0]] if running else (stages[0] if not last.started else last)
    return TimeoutExpired(
        argv[:-1],
        timeout,
        stdout,
        stderr,
        program=named.cmd.program,
        stage_index=named.index,
        running=running,
        secrets=run_secrets(req),
    )
