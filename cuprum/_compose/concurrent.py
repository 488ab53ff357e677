"""``run_concurrent``: many commands in one anyio task group under a CapacityLimiter."""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Literal, overload

import anyio
import anyio.lowlevel

from cuprum._core.context import current_context
from cuprum._core.errors import InvalidArgumentError, TimeoutExpired
from cuprum._core.results import ErrT, OutputGeneric, OutT
from cuprum._core.secret import shown_argv
from cuprum._model.execution import ExecutionContext
from cuprum._model.results import CommandResult, ConcurrentResult, Outcome
from cuprum._model.spec import CommandSpec
from cuprum._runtime.engine import run_stages
from cuprum._runtime.failures import FirstFailure
from cuprum._runtime.request import build_request
from cuprum._runtime.sync import Backend, run_sync
from cuprum._runtime.validate import check_field, check_limit, described

__all__ = ["ConcurrentConfig", "run_concurrent", "run_concurrent_sync"]


@dataclass(frozen=True, slots=True)
class ConcurrentConfig(OutputGeneric, Generic[OutT, ErrT]):
    """How :func:`run_concurrent` runs its batch.

    ``concurrency``: at most this many at once (``None``: all). ``fail_fast``: on
    the first failure, cancel running commands (SIGTERM, grace, SIGKILL) and never
    start pending ones. ``capture``/``text`` decide the type of each result's
    output, as for ``run()``: ``ConcurrentConfig(text=False)`` is a
    ``ConcurrentConfig[bytes, bytes]``. ``context``, when given, replaces the
    context the commands bind; ``echo=True`` echoes every command.
    """

    concurrency: int | None = None
    capture: bool = True
    echo: bool = False
    context: ExecutionContext | None = None
    fail_fast: bool = False
    text: bool = True

    if TYPE_CHECKING:
        # The output types follow capture/text, as for run(); dataclass writes __init__.
        @overload
        def __init__(
            self: ConcurrentConfig[str, str],
            concurrency: int | None = ...,
            capture: Literal[True] = ...,
            echo: bool = ...,
            context: ExecutionContext | None = ...,
            fail_fast: bool = ...,
            text: Literal[True] = ...,
        ) -> None: ...
        @overload
        def __init__(
            self: ConcurrentConfig[bytes, bytes],
            concurrency: int | None = ...,
            capture: Literal[True] = ...,
            echo: bool = ...,
            context: ExecutionContext | None = ...,
            fail_fast: bool = ...,
            *,
            text: Literal[False],
        ) -> None: ...
        @overload
        def __init__(
            self: ConcurrentConfig[None, None],
            concurrency: int | None = ...,
            *,
            capture: Literal[False],
            echo: bool = ...,
            context: ExecutionContext | None = ...,
            fail_fast: bool = ...,
            text: bool = ...,
        ) -> None: ...
        @overload
        def __init__(
            self: ConcurrentConfig[str | bytes | None, str | bytes | None],
            concurrency: int | None = ...,
            capture: bool = ...,
            echo: bool = ...,
            context: ExecutionContext | None = ...,
            fail_fast: bool = ...,
            text: bool = ...,
        ) -> None: ...
        def __init__(self, *args: Any, **kwargs: Any) -> None: ...

    def __post_init__(self) -> None:
        # Refused here, naming the field, as FleetConfig does: fail_fast="no" is truthy.
        check_limit("ConcurrentConfig", "concurrency", self.concurrency)
        for name in ("capture", "echo", "fail_fast", "text"):
            check_field("ConcurrentConfig", name, getattr(self, name), "flag")
        if self.context is not None and not isinstance(self.context, ExecutionContext):
            raise InvalidArgumentError(
                "ConcurrentConfig: context must be an ExecutionContext or None, "
                f"got {described(self.context)}"
            )


_SPEC = ("program", "argv", "argv_with_program", "project")  # what CommandSpec promises


def _check_batch(what: str, commands: tuple[object, ...], config: object) -> None:
    """Refuse what is not a command, or a config that is not one, naming ``what``."""
    if config is not None and not isinstance(config, ConcurrentConfig):
        raise InvalidArgumentError(
            f"{what}: config must be a ConcurrentConfig or None, got {described(config)}"
        )
    for index, cmd in enumerate(commands):
        if isinstance(cmd, str) or not all(hasattr(cmd, name) for name in _SPEC):
            hint = " (run a pipeline with its own run())" if hasattr(cmd, "parts") else ""
            raise InvalidArgumentError(
                f"{what}: commands[{index}] must be a command (SafeCmd), got {described(cmd)}{hint}"
            )


def _unfinished(cmd: CommandSpec, outcome: Outcome, cfg: ConcurrentConfig) -> CommandResult:
    """The entry of a command that never ran: no output, typed as the batch's."""
    empty = ("" if cfg.text else b"") if cfg.capture else None
    return CommandResult(
        program=cmd.program,
        argv=shown_argv(cmd.argv_with_program),
        exit_code=-1,
        pid=None,
        stdout=empty,
        stderr=empty,
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
        self.results: list[CommandResult | None] = [None] * len(commands)
        options: dict[str, Any] = {"capture": cfg.capture, "text": cfg.text, "check": False}
        if cfg.echo:
            options["echo"] = True
        if cfg.context is not None:
            options["context"] = cfg.context
        # Each command's bound options (timeout, accept, ...) apply; check does not:
        # the batch collects failures (ConcurrentResult.check() raises for them).
        self.requests = [build_request((cmd,), policy=policy, **options) for cmd in commands]
        self.scopes = [anyio.CancelScope() for _ in commands]
        self.limiter = anyio.CapacityLimiter(cfg.concurrency) if cfg.concurrency else None
        self.stopping = False
        self.timeouts: dict[int, TimeoutExpired] = {}
        # Errors that stop the batch (a program missing from PATH, a hook raising):
        # the first to be raised is, bare, on every backend (see failures.FirstFailure).
        self.errors = FirstFailure()
        self.raised: dict[int, int] = {}  # when each run's failure was raised

    def keeper(self, index: int) -> Callable[[tuple[CommandResult, ...]], None]:
        """The engine's ``on_stopped``: keep what a cancelled command had (its pid,
        exit status and output so far)."""

        def keep(salvaged: tuple[CommandResult, ...]) -> None:
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
                try:
                    (done,), _ = await run_stages(
                        request,
                        on_stopped=self.keeper(index),
                        on_failed=functools.partial(self.raised.__setitem__, index),
                    )
                    self.results[index] = done
                except TimeoutExpired as exc:
                    # One command's timeout is that command's failure, not the batch's.
                    self.timeouts[index] = exc
                    if self.results[index] is None:  # it timed out before it ran
                        cmd = self.commands[index]
                        self.results[index] = _unfinished(cmd, "timed_out", self.cfg)
                entry = self.results[index]
                if self.cfg.fail_fast and entry is not None and not entry.ok:
                    self.stop_others(index)
        except anyio.get_cancelled_exc_class():
            raise  # the caller's cancellation (each command's own scope catches its own)
        except BaseException as exc:  # an error, or Ctrl+C (or SystemExit) in a hook
            self.errors.add(exc, self.raised.get(index))
            self.stop_others(index)
        finally:
            if self.limiter is not None:
                self.limiter.release_on_behalf_of(slot)
        if self.results[index] is None:
            outcome: Outcome = "cancelled" if started else "not_started"
            self.results[index] = _unfinished(self.commands[index], outcome, self.cfg)

    def stop_others(self, index: int) -> None:
        """Cancel every command but ``index`` and let no more in (once)."""
        if self.stopping:
            return
        self.stopping = True
        for i, scope in enumerate(self.scopes):
            if i != index:
                scope.cancel()

    def outcome(self) -> ConcurrentResult:
        """The batch's result, or the first error raised among those that stopped it."""
        if self.errors:
            raise self.errors.first()
        return ConcurrentResult(
            tuple(
                result if result is not None else _unfinished(cmd, "not_started", self.cfg)
                for cmd, result in zip(self.commands, self.results, strict=True)
            ),
            timeouts=dict(self.timeouts),
        )


@overload
async def run_concurrent(
    *commands: CommandSpec, config: None = None
) -> ConcurrentResult[str, str]: ...
@overload
async def run_concurrent(
    *commands: CommandSpec, config: ConcurrentConfig[OutT, ErrT]
) -> ConcurrentResult[OutT, ErrT]: ...
async def run_concurrent(
    *commands: CommandSpec, config: ConcurrentConfig | None = None
) -> ConcurrentResult:
    """Run ``commands`` concurrently; results come back in submission order.

    Each command goes through the same runtime path as ``cmd.run()``, so hooks
    and events fire per command. Cancelling the caller cancels every command.
    Raises :class:`ForbiddenProgramError` before starting any command when one
    of them is not permitted by the current allowlist, and
    :class:`InvalidArgumentError` for something that is not a command.
    """
    _check_batch("run_concurrent", commands, config)
    cfg = config if config is not None else ConcurrentConfig()
    if not commands:
        await anyio.lowlevel.checkpoint()  # a checkpoint, like any async call
        return ConcurrentResult(())
    batch = _Batch(commands, cfg)
    # A failing command (say a program missing from PATH) surfaces as itself, as
    # it would from cmd.run(), not wrapped in a group: _Batch.one keeps it.
    await _admit(batch.one, len(commands), batch.limiter, lambda: batch.stopping)
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


@overload
def run_concurrent_sync(
    *commands: CommandSpec, config: None = None, backend: Backend = "asyncio"
) -> ConcurrentResult[str, str]: ...
@overload
def run_concurrent_sync(
    *commands: CommandSpec, config: ConcurrentConfig[OutT, ErrT], backend: Backend = "asyncio"
) -> ConcurrentResult[OutT, ErrT]: ...
def run_concurrent_sync(
    *commands: CommandSpec,
    config: ConcurrentConfig | None = None,
    backend: Backend = "asyncio",
) -> ConcurrentResult:
    """:func:`run_concurrent` from synchronous code (see ``run_sync``)."""
    _check_batch("run_concurrent_sync", commands, config)
    return run_sync(
        lambda: run_concurrent(*commands, config=config),
        backend=backend,
        what="run_concurrent_sync",
    )
