"""``run_concurrent``: many commands in one anyio task group under a CapacityLimiter."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.lowlevel

from cuprum._core.context import current_context
from cuprum._core.secret import shown_argv
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
        argv=shown_argv(cmd.argv_with_program),
        exit_code=-1,
        pid=None,
        stdout=None,
        stderr=None,
        outcome=outcome,
    )


class _Batch:
    """The state of one :func:`run_concurrent` call: results, scopes, fail-fast."""

    def __init__(self, commands: tuple[CommandSpec, ...], cfg: ConcurrentConfig) -> None:
        policy = current_context()
        # The whole batch is refused before anything runs, as a single command is.
        for cmd in commands:
            policy.check_permitted(cmd.program)
        self.commands = commands
        self.cfg = cfg
        self.results: list[CommandResult[Any] | None] = [None] * len(commands)
        self.requests = [
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
        self.scopes = [anyio.CancelScope() for _ in commands]
        self.limiter = anyio.CapacityLimiter(cfg.concurrency) if cfg.concurrency else None
        self.stopping = False

    def keeper(self, index: int) -> Callable[[tuple[CommandResult[Any], ...]], None]:
        """The engine's ``on_cancelled``: keep what a cancelled command had (its pid,
        exit status and output so far)."""

        def keep(salvaged: tuple[CommandResult[Any], ...]) -> None:
            self.results[index] = salvaged[0]

        return keep

    async def one(self, index: int, slot: object | None) -> None:
        """Run command ``index`` (let in under ``slot``); fail fast if it fails."""
        started = False
        try:
            with self.scopes[index]:
                if self.stopping:  # fail-fast began after this command was let in
                    return
                started = True
                request = self.requests[index]
                (result,), _ = await run_stages(request, on_cancelled=self.keeper(index))
                self.results[index] = result
                if self.cfg.fail_fast and not result.ok and not self.stopping:
                    self.stopping = True
                    for i, scope in enumerate(self.scopes):
                        if i != index:
                            scope.cancel()
        finally:
            if self.limiter is not None:
                self.limiter.release_on_behalf_of(slot)
        if self.results[index] is None:
            outcome: Outcome = "cancelled" if started else "not_started"
            self.results[index] = _unfinished(self.commands[index], outcome)

    def outcome(self) -> ConcurrentResult[Any]:
        return ConcurrentResult(
            tuple(
                result if result is not None else _unfinished(self.commands[i], "not_started")
                for i, result in enumerate(self.results)
            )
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
    if not commands:
        await anyio.lowlevel.checkpoint()  # a checkpoint, like any async call
        return ConcurrentResult(())
    batch = _Batch(commands, cfg)
    try:
        await _admit(batch.one, len(commands), batch.limiter, lambda: batch.stopping)
    except BaseExceptionGroup as group:
        # One failing command (say a program missing from PATH) surfaces as itself,
        # as it would from cmd.run(), not wrapped in a group.
        if len(group.exceptions) == 1:
            raise group.exceptions[0] from None
        raise
    return batch.outcome()


async def _admit(
    one: Callable[[int, object | None], Coroutine[Any, Any, None]],
    count: int,
    limiter: anyio.CapacityLimiter | None,
    stopping: Callable[[], bool],
) -> None:
    """Start ``one(index, slot)`` for each command, under the limiter, in order."""
    async with anyio.create_task_group() as tg:
        # Commands are let in here, in submission order: tasks competing for the
        # limiter would be admitted in whatever order the event loop wakes them
        # (trio may reverse a batch, so concurrency=1 could run them backwards).
        for index in range(count):
            slot: object | None = None
            if limiter is not None:
                slot = object()
                await limiter.acquire_on_behalf_of(slot)
            if stopping():
                if limiter is not None:
                    limiter.release_on_behalf_of(slot)
                break
            tg.start_soon(one, index, slot)


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
