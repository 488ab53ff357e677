"""``run_fleet``: remote commands over many hosts, with a global and a per-host limit.

Each host's commands are admitted in submission order (one admission loop per host,
so a busy host does not hold the others back); a command runs once it holds a slot
of its host and a global slot. With ``fail_fast`` the first failure anywhere cancels
every running command (the engine stops the remote ends too) and starts no more.
Results come back in submission order, and grouped per host by
:meth:`FleetResult.by_host`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.lowlevel

from cuprum._core.context import current_context
from cuprum._core.errors import InvalidArgumentError, RemoteError, TimeoutExpired
from cuprum._model.results import CommandResult, Outcome
from cuprum._runtime.engine import run_stages
from cuprum._runtime.failures import FirstFailure
from cuprum._runtime.request import build_request
from cuprum._runtime.sync import Backend, run_sync
from cuprum._runtime.validate import check_field, check_limit, described
from cuprum.remote.command import RemoteCmd

__all__ = ["FleetConfig", "FleetResult", "run_fleet", "run_fleet_sync", "sessions_for"]


@dataclass(frozen=True, slots=True)
class FleetConfig:
    """How :func:`run_fleet` runs: ``concurrency`` in all, ``per_host`` on each host.

    ``None`` means no limit; ``per_host`` is clamped to each host's ``max_sessions``
    (the sessions its server allows per connection: more would only wait).
    ``fail_fast``: the first failure cancels the rest. ``timeout``: per command, as
    ``run(timeout=...)``, counting the time to open the host's connection.
    A bad value (a limit that is not an ``int`` >= 1, a ``timeout`` that is not a
    number of seconds, a switch that is not a ``bool``) is refused here, when the
    config is built, with :class:`InvalidArgumentError` naming the field.
    """

    concurrency: int | None = 10
    per_host: int | None = 4
    fail_fast: bool = False
    capture: bool = True
    timeout: float | None = None

    def __post_init__(self) -> None:
        for name in ("concurrency", "per_host"):
            check_limit("FleetConfig", name, getattr(self, name))
        for name in ("fail_fast", "capture"):
            check_field("FleetConfig", name, getattr(self, name), "flag")
        check_field("FleetConfig", "timeout", self.timeout, "seconds")


@dataclass(frozen=True, slots=True)
class FleetResult:
    """Every command's result in submission order, and each host's in its order."""

    results: tuple[CommandResult[Any], ...]
    hosts: tuple[str, ...]
    timeouts: Mapping[int, TimeoutExpired] = field(default_factory=dict, repr=False, compare=False)
    """The :class:`TimeoutExpired` of each command whose timeout expired, by index."""

    @property
    def ok(self) -> bool:
        """Every command ran and exited 0."""
        return all(result.ok for result in self.results)

    def by_host(self) -> Mapping[str, tuple[CommandResult[Any], ...]]:
        """Host label -> its results, in the order its commands were submitted."""
        grouped: dict[str, list[CommandResult[Any]]] = {}
        for host, result in zip(self.hosts, self.results, strict=True):
            grouped.setdefault(host, []).append(result)
        return {host: tuple(results) for host, results in grouped.items()}


def sessions_for(cfg: FleetConfig, max_sessions: int) -> int:
    """How many of one host's commands the fleet runs at once: ``per_host``, clamped
    to the host's ``max_sessions``."""
    return max_sessions if cfg.per_host is None else min(cfg.per_host, max_sessions)


def _unfinished(cmd: RemoteCmd, outcome: Outcome) -> CommandResult[Any]:
    return CommandResult(
        program=cmd.program,
        argv=cmd.argv_with_program,
        exit_code=-1,
        pid=None,
        stdout=None,
        stderr=None,
        outcome=outcome,
    )


class _Fleet:
    """One :func:`run_fleet` call: requests, limits, scopes, results."""

    def __init__(self, commands: tuple[RemoteCmd, ...], cfg: FleetConfig) -> None:
        policy = current_context()
        for cmd in commands:  # the whole fleet is refused before anything connects
            policy.check_permitted(cmd.program)
        self.commands, self.cfg = commands, cfg
        self.requests = [
            build_request((c,), capture=cfg.capture, echo=False, context=None, timeout=cfg.timeout)
            for c in commands
        ]
        self.results: list[CommandResult[Any] | None] = [None] * len(commands)
        self.scopes = [anyio.CancelScope() for _ in commands]
        self.limit = anyio.CapacityLimiter(cfg.concurrency) if cfg.concurrency else None
        self.stopping = False
        self.errors: list[RemoteError] = []  # without fail_fast: raised once all ended
        self.failure = FirstFailure()  # what stopped the fleet: the first raised, bare
        self.raised: dict[int, int] = {}  # when each run's failure was raised
        self.timeouts: dict[int, TimeoutExpired] = {}

    def _stop_others(self, index: int) -> None:
        self.stopping = True
        for i, scope in enumerate(self.scopes):
            if i != index:
                scope.cancel()

    async def one(self, index: int, host_limit: anyio.CapacityLimiter, slot: object) -> None:
        started = False
        try:
            with self.scopes[index]:
                if self.limit is not None:
                    await self.limit.acquire()
                try:
                    if self.stopping:
                        return
                    started = True

                    def keep(salvaged: tuple[CommandResult[Any], ...]) -> None:
                        self.results[index] = salvaged[0]

                    try:
                        (res,), _ = await run_stages(
                            self.requests[index],
                            on_stopped=keep,
                            on_failed=functools.partial(self.raised.__setitem__, index),
                        )
                    except TimeoutExpired as exc:
                        # One command's timeout is its failure (outcome "timed_out").
                        self.timeouts[index] = exc
                        res = self.results[index] or _unfinished(self.commands[index], "timed_out")
                    self.results[index] = res
                    if self.cfg.fail_fast and not res.ok and not self.stopping:
                        self._stop_others(index)
                finally:
                    if self.limit is not None:
                        self.limit.release()
        except anyio.get_cancelled_exc_class():
            raise  # the caller's cancellation (each command's own scope catches its own)
        except BaseException as exc:  # an error, or Ctrl+C (or SystemExit) in a hook
            if not self.cfg.fail_fast and isinstance(exc, RemoteError):
                self.errors.append(exc)  # the other hosts go on; raised at the end
                return
            # Anything else stops the fleet; several at once raise the first (bare).
            self.failure.add(exc, self.raised.get(index))
            if not self.stopping:
                self._stop_others(index)
        finally:
            host_limit.release_on_behalf_of(slot)
            if self.results[index] is None:
                outcome: Outcome = "cancelled" if started else "not_started"
                self.results[index] = _unfinished(self.commands[index], outcome)

    async def admit_host(self, indices: list[int], tg: anyio.abc.TaskGroup) -> None:
        """Let one host's commands in, in order, each under the host's limit."""
        per_host = sessions_for(self.cfg, self.commands[indices[0]].host.max_sessions)
        host_limit = anyio.CapacityLimiter(per_host)
        for index in indices:
            slot = object()
            await host_limit.acquire_on_behalf_of(slot)
            if self.stopping:
                host_limit.release_on_behalf_of(slot)
                return
            tg.start_soon(self.one, index, host_limit, slot)


def _check_fleet(what: str, commands: tuple[object, ...], config: object) -> None:
    """Refuse what is not a remote command, or a config that is not one, naming ``what``."""
    if config is not None and not isinstance(config, FleetConfig):
        raise InvalidArgumentError(
            f"{what}: config must be a FleetConfig or None, got {described(config)}"
        )
    for index, cmd in enumerate(commands):
        if not isinstance(cmd, RemoteCmd):
            raise InvalidArgumentError(
                f"{what}: commands[{index}] must be a RemoteCmd (host.cmd(...)), "
                f"got {described(cmd)}"
            )


async def run_fleet(*commands: RemoteCmd, config: FleetConfig | None = None) -> FleetResult:
    """Run remote ``commands`` across their hosts; see :class:`FleetConfig`.

    Raises :class:`ForbiddenProgramError` before connecting anywhere when a program
    is not permitted, :class:`InvalidArgumentError` for a value that is not a
    :class:`RemoteCmd`. A host that cannot be reached, or whose connection is lost,
    raises its :class:`RemoteError` once the other commands have ended (at once,
    stopping them, with ``fail_fast``); a single failure surfaces as itself, several
    as an exception group. Anything else (a hook raising, a program that cannot
    start) stops the fleet and is raised as itself: when several fail at once, the
    first raised.
    """
    _check_fleet("run_fleet", commands, config)
    cfg = config if config is not None else FleetConfig()
    if not commands:
        await anyio.lowlevel.checkpoint()
        return FleetResult((), ())
    fleet = _Fleet(commands, cfg)
    per_host: dict[str, list[int]] = {}
    for index, cmd in enumerate(commands):
        per_host.setdefault(cmd.host.label, []).append(index)
    async with anyio.create_task_group() as tg:
        for indices in per_host.values():
            tg.start_soon(fleet.admit_host, indices, tg)
    if fleet.failure:
        raise fleet.failure.first()
    if len(fleet.errors) == 1:
        raise fleet.errors[0]
    if fleet.errors:
        raise ExceptionGroup(f"run_fleet: {len(fleet.errors)} commands failed", fleet.errors)
    results = tuple(
        r if r is not None else _unfinished(c, "not_started")
        for r, c in zip(fleet.results, commands, strict=True)
    )
    return FleetResult(results, tuple(cmd.host.label for cmd in commands), dict(fleet.timeouts))


def run_fleet_sync(
    *commands: RemoteCmd, config: FleetConfig | None = None, backend: Backend = "asyncio"
) -> FleetResult:
    """:func:`run_fleet` from synchronous code."""
    _check_fleet("run_fleet_sync", commands, config)
    return run_sync(
        lambda: run_fleet(*commands, config=config), backend=backend, what="run_fleet_sync"
    )
