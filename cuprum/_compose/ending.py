"""What a stream handle hands out once its run has ended: the result, or the run's error,
with what only the handle knows added.

The engine builds them from the request alone; the handle adds the stdout it did not
read (a result's ``stdout``, a timeout's ``output``: :class:`~cuprum.TimeoutExpired`
at ``wait()`` or as the block exits carries the partial output, like ``run()``'s)
and the secrets sent with ``write()`` (hidden by their ``repr()``, their message,
``check()``'s ``CommandFailedError`` and a pickle, as the run's own are).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from cuprum._compose.output import Output
from cuprum._core.errors import TimeoutExpired
from cuprum._core.secret import Secret
from cuprum._model.io import OnLimit
from cuprum._model.results import PipelineResult
from cuprum._runtime.request import RunRequest
from cuprum._runtime.streams import StreamCollector
from cuprum._runtime.terminal import TerminalCollector

__all__ = ["held_rest", "with_output", "with_rest"]


def held_rest(
    req: RunRequest,
    out: Output,
    terminal: bool,
    secrets: tuple[Secret[Any], ...],
    on_limit: OnLimit,
    *,
    keep: bool = False,
) -> StreamCollector:
    """A collector of the rest of stdout, as ``run()`` would capture it (its ``secrets``:
    the run's and those sent), holding what ``out`` held undelivered; ``keep``: ``out``
    still holds it too, for a reader after this."""
    ctx = req.context
    collector = TerminalCollector if terminal else StreamCollector
    held = out.take_bytes()  # first: then the state is where it begins
    if keep:
        out.unread_bytes(held, out.state)
    rest = collector(
        program=req.stages[-1].program,
        name="stdout",
        capture=req.capture,
        encoding=ctx.encoding,
        errors=ctx.errors,
        limit=req.capture_limit,
        on_limit=on_limit,
        text=req.text,
        secrets=secrets,
        state=out.state,  # decoded from where the readers before left off
    )
    rest.feed(held)
    return rest


def with_output(error: TimeoutExpired, output: str | bytes | None) -> None:
    """Give ``error`` the stdout the handle had left: in its ``repr()`` (its ``args``)
    and in a copy or a pickle of it too."""
    error.output = output
    if len(error.args) >= 3:  # (cmd, timeout, output, stderr), as constructed
        error.args = (*error.args[:2], output, *error.args[3:])
    saved = getattr(error, "_init_args", None)
    if saved is not None:  # (cmd, timeout, output, stderr), keywords
        args, kwargs = saved
        error._keep_args(*args[:2], output, *args[3:], **kwargs)


def with_rest(
    result: Any,
    stdout: tuple[str | bytes | None, bool] | None,
    secrets: tuple[Secret[Any], ...] | None,
) -> Any:
    """``result`` (a command's or a pipeline's) with ``stdout`` (the value and whether a
    limit cut it; ``None``: not captured) and every stage hiding ``secrets`` (``None``:
    none were sent, the run's own are all there is)."""
    if isinstance(result, PipelineResult):
        stages = [_stage(stage, None, secrets) for stage in result.stages]
        stages[-1] = _stage(stages[-1], stdout, None)
        return dataclasses.replace(result, stages=tuple(stages))
    return _stage(result, stdout, secrets)


def _stage(
    result: Any,
    stdout: tuple[str | bytes | None, bool] | None,
    secrets: tuple[Secret[Any], ...] | None,
) -> Any:
    changes: dict[str, Any] = {}
    if stdout is not None:
        changes["stdout"], changes["stdout_truncated"] = stdout
    if secrets is not None:
        changes["secrets"] = secrets
    return dataclasses.replace(result, **changes) if changes else result
