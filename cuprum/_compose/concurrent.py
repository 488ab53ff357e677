"""``run_concurrent``: many commands in one anyio task group under a CapacityLimiter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import anyio

from cuprum._core.context import current_context
from cuprum._model.execution import ExecutionContext
from cuprum._model.results import CommandResult, ConcurrentResult, Outcome
from cuprum._model.spec import CommandSpec
from cuprum._runtime.engine import run_stages
from cuprum._runtime.request import build_request
from cuprum._runtime.sync import Backend, run_sync

__all__ = ["ConcurrentConfig", "run_concurrent", "run_concurrent_sync"]


@dataclass(frozen=True, slots=True)
class ConcurrentConfig:
    """How :func:`run_concurrent` runs its batch.

    ``concurrency``: at most this many at once (``None``: all). ``fail_fast``: on
    the first failure, cancel running commands (SIGTERM, grace, SIGKILL) and never
    start pending ones.
    """

    concurrency: int | None = None
    capture: bool = True
    echo: bool = False
    context: ExecutionContext | None = None
    fail_fast: bool = False

    def __post_init__(self) -> None:
        if self.concurrency is not None and self.concurrency < 1:
            raise ValueError(f"concurrency must be >= 1 or None, got {self.concurrency}")


def _unfinished(cmd: CommandSpec, outcome: Outcome) -> CommandResult[Any]:
    return CommandResult(
        program=cmd.program,
        argv=cmd.argv_with_program,
        exit_code=-1,
        pid=None,
        stdout=None,
        stderr=None,
        outcome=outcome,
    )


async def run_concurrent(
    *commands: CommandSpec, config: ConcurrentConfig | None = None
) -> ConcurrentResult[Any]:
    """Run ``commands`` concurrently; results come back in submission order.

    Each command goes through the same runtime path as ``cmd.run()``, so hooks
    and events fire per command. Cancelling the caller cancels every command.
    Raises :class:`ForbiddenProgramError` before starting any command when one
    of them is not permitted by the current allowlist.
    """
    cfg = config if config is not None else ConcurrentConfig()
    policy = current_context()
    # The whole batch is refused before anything runs, as a single command is.
    for cmd in commands:
        policy.check_permitted(cmd.program)
    requests = [
        build_request(
            (cmd,),
            capture=cfg.capture,
            echo=cfg.echo,
            context=cfg.context,
            timeout=None,
            policy=policy,
        )
        for cmd in commands
    ]
    results: list[CommandResult[Any] | None] = [None] * len(commands)
    scopes: list[anyio.CancelScope] = [anyio.CancelScope() for _ in commands]
    limiter = anyio.CapacityLimiter(cfg.concurrency) if cfg.concurrency else None
    stopping = False

    async def one(index: int) -> None:
        nonlocal stopping
        started = False
        with scopes[index]:
            if limiter is not None:
                await limiter.acquire()
            try:
                if stopping:
                    return
                started = True
                (result,), _ = await run_stages(requests[index])
                results[index] = result
                if cfg.fail_fast and not result.ok and not stopping:
                    stopping = True
                    for i, scope in enumerate(scopes):
                        if i != index:
                            scope.cancel()
            finally:
                if limiter is not None:
                    limiter.release()
        if results[index] is None:
            results[index] = _unfinished(commands[index], "cancelled" if started else "not_started")

    async with anyio.create_task_group() as tg:
        for index in range(len(commands)):
            tg.start_soon(one, index)
    return ConcurrentResult(tuple(r for r in results if r is not None))


def run_concurrent_sync(
    *commands: CommandSpec,
    config: ConcurrentConfig | None = None,
    backend: Backend = "asyncio",
) -> ConcurrentResult[Any]:
    """:func:`run_concurrent` from synchronous code (see ``run_sync``)."""
    return run_sync(
        lambda: run_concurrent(*commands, config=config),
        backend=backend,
        what="run_concurrent_sync",
    )
