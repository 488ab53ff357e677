"""``RunRequest``: everything one run needs, built from ``run()`` keyword arguments.

A request is a value: the engine reads it and never writes to it. What a caller
needs back from a run while it is going on comes through the engine's callbacks
(:func:`cuprum._runtime.engine.run_stages`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cuprum._core.context import CuprumContext, current_context
from cuprum._model.execution import ExecutionContext
from cuprum._model.io import OnLimit
from cuprum._model.spec import CommandSpec
from cuprum._runtime.validate import validate_request

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
    )
