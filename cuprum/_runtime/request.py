"""``RunRequest``: everything one run needs, built from ``run()`` keyword arguments."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cuprum._core.context import CuprumContext, current_context
from cuprum._model.execution import ExecutionContext
from cuprum._model.io import OnLimit, StreamEnds
from cuprum._model.spec import CommandSpec
from cuprum._runtime.validate import validate_request

if TYPE_CHECKING:
    from cuprum._model.results import CommandResult

__all__ = ["RunRequest", "build_request", "resolve_timeout"]


@dataclass(frozen=True, slots=True)
class RunRequest:
    """Everything one run needs, resolved by the caller (timeout precedence included)."""

    stages: tuple[CommandSpec, ...]
    policy: CuprumContext
    context: ExecutionContext
    capture: bool = True
    echo: bool = False
    timeout: float | None = None
    text: bool = True
    stdin: Any = None
    stdout: Any = None
    stderr: Any = None
    capture_limit: int | None = None
    on_limit: OnLimit = "truncate"
    stage_events: bool = False
    ends: StreamEnds | None = None
    #: Called with what a cancelled run had (pids, exit statuses after the
    #: teardown, output so far) before the cancellation propagates.
    on_cancelled: Callable[[tuple[CommandResult[Any], ...]], None] | None = None


_DEFAULT_CONTEXT = ExecutionContext()


def resolve_timeout(
    explicit: float | None, context: ExecutionContext, policy: CuprumContext
) -> float | None:
    """Explicit argument, then ``ExecutionContext.timeout``, then ``ScopeConfig.timeout``."""
    if explicit is not None:
        return explicit
    if context.timeout is not None:
        return context.timeout
    return policy.timeout


def build_request(
    stages: tuple[CommandSpec, ...],
    *,
    capture: bool,
    echo: bool,
    context: ExecutionContext | None,
    timeout: float | None,
    text: bool = True,
    stdin: Any = None,
    stdout: Any = None,
    stderr: Any = None,
    capture_limit: int | None = None,
    on_limit: OnLimit = "truncate",
    stage_events: bool = False,
    policy: CuprumContext | None = None,
    ends: StreamEnds | None = None,
    on_cancelled: Callable[[tuple[CommandResult[Any], ...]], None] | None = None,
) -> RunRequest:
    """Resolve defaults against the current context once, at the call site."""
    policy = policy if policy is not None else current_context()
    ctx = context if context is not None else _DEFAULT_CONTEXT
    validate_request(
        stages,
        timeout=timeout,
        context=ctx,
        policy=policy,
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        capture_limit=capture_limit,
        on_limit=on_limit,
    )
    return RunRequest(
        stages=stages,
        policy=policy,
        context=ctx,
        capture=capture,
        echo=echo,
        timeout=resolve_timeout(timeout, ctx, policy),
        text=text,
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        capture_limit=capture_limit,
        on_limit=on_limit,
        stage_events=stage_events,
        ends=ends,
        on_cancelled=on_cancelled,
    )
