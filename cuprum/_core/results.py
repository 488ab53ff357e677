"""Results of commands, pipelines and concurrent batches: what a run hands back.

Plain values, below the policy layer so hooks can be typed with them; ``check()``
raises :class:`~cuprum._core.errors.CommandFailedError`.

Each result is generic in the types of its captured ``stdout`` and ``stderr``:
``str`` (the default, decoded text), ``bytes`` (``text=False``) or ``None`` (not
captured: ``capture=False``, or the stream was redirected). ``run()`` picks them
from its arguments, so ``cmd.run_sync().stdout`` is a ``str`` to the type checker.
``CommandResult[str]`` means both streams are ``str``; a bare ``CommandResult``
(what an after hook receives) may hold any of the three.
"""

from __future__ import annotations

import sys
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Generic, Literal, Self, cast

from cuprum._core.error_base import redacted
from cuprum._core.errors import CommandFailedError, TimeoutExpired
from cuprum._core.secret import Secret
from cuprum._core.usage import LimitName, ResourceUsage

if TYPE_CHECKING:
    from typing_extensions import TypeVar  # PEP 696 defaults, for the type checker
elif sys.version_info >= (3, 13):
    from typing import TypeVar
else:

    def TypeVar(name: str, *args: Any, default: Any = None, **kwargs: Any) -> Any:
        """``typing.TypeVar`` before 3.13 has no ``default``: only checkers read it."""
        return typing.TypeVar(name, *args, **kwargs)


__all__ = [
    "ACCEPT_ZERO",
    "CommandResult",
    "ConcurrentResult",
    "ErrT",
    "OutT",
    "OutputGeneric",
    "Outcome",
    "PipelineResult",
]

OutT = TypeVar("OutT", bound="str | bytes | None", covariant=True, default="str | bytes | None")
"""The type of a result's ``stdout``: ``str``, ``bytes`` or ``None``."""
ErrT = TypeVar("ErrT", bound="str | bytes | None", covariant=True, default=OutT)
"""The type of a result's ``stderr`` (by default the same as ``stdout``'s)."""


class OutputGeneric:
    """Lets ``X[str]`` mean ``X[str, str]`` at run time too (before 3.13 the
    ``typing`` module knows no TypeVar defaults); checkers read :data:`ErrT`'s."""

    __slots__ = ()

    if not TYPE_CHECKING:

        def __class_getitem__(cls, params):
            if not isinstance(params, tuple):
                params = (params, params)
            return super().__class_getitem__(params)


ACCEPT_ZERO: frozenset[int] = frozenset({0})
"""The exit codes that count as success unless a command or run says otherwise."""

Outcome = Literal["exited", "cancelled", "timed_out", "not_started"]
"""``exited``: the program ran and was reaped. ``cancelled``: it was stopped by
cuprum (fail-fast in ``run_concurrent``). ``timed_out``: its run's ``timeout``
expired in a ``run_concurrent`` batch, which stopped it and went on.
``not_started``: fail-fast stopped the batch before this command was scheduled."""


@dataclass(frozen=True, slots=True)
class CommandResult(OutputGeneric, Generic[OutT, ErrT]):
    """What one command did.

    ``stdout``/``stderr`` are ``None`` when not captured (or, in a pipeline, for an
    intermediate stage's stdout). ``*_truncated`` is true when a capture limit cut
    the stream. ``exit_code`` is ``-N`` for a child killed by signal N.
    ``accepted``: the exit codes that count as success for this command (``{0}``
    unless the command or the run declared others with ``accept=``).
    ``stdout``/``stderr`` hold what the program wrote, secrets included; ``argv``
    shows each :class:`~cuprum.Secret` as ``***``, and ``repr()`` replaces the value
    of each of the run's ``secrets`` with ``***`` everywhere.

    Containment: ``usage`` is what the command cost (None where the status was
    lost, e.g. SIGCHLD ignored); ``limit`` names the :class:`~cuprum.Limits` field
    that stopped it, where the kernel left evidence of it.
    """

    program: str
    argv: tuple[str, ...]
    exit_code: int
    pid: int | None
    stdout: OutT
    stderr: ErrT
    duration_s: float = 0.0
    outcome: Outcome = "exited"
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    accepted: frozenset[int] = ACCEPT_ZERO
    secrets: tuple[Secret[Any], ...] = field(default=(), repr=False, compare=False)
    # -- containment --
    usage: ResourceUsage | None = None
    limit: LimitName | None = None

    @property
    def ok(self) -> bool:
        """True when the program ran and its exit code is accepted (0 by default)."""
        return self.outcome == "exited" and self.exit_code in self.accepted

    def __repr__(self) -> str:
        # stdout/stderr keep what the program wrote; the repr hides the run's secrets.
        return _result_repr(self)

    def check(self) -> Self:
        """Return self when :attr:`ok`; otherwise raise :class:`CommandFailedError`."""
        if not self.ok:
            raise CommandFailedError(
                self.exit_code,
                list(self.argv),
                self.stdout,
                self.stderr,
                program=self.program,
                secrets=self.secrets,
            )
        return self


def _result_repr(result: CommandResult[Any]) -> str:
    """What the dataclass ``repr`` would be, from values with the run's secrets redacted
    (before ``repr``, which escapes what it shows: a search of its text would miss them)."""
    secrets = result.secrets
    shown = ", ".join(
        f"{f.name}={redacted(getattr(result, f.name), secrets)!r}" for f in fields(result) if f.repr
    )
    return f"{type(result).__qualname__}({shown})"


@dataclass(frozen=True, slots=True)
class PipelineResult(OutputGeneric, Generic[OutT, ErrT]):
    """What a pipeline did: the final stdout and one :class:`CommandResult` per stage.

    ``failure_index`` is the first stage that failed on its own: it exited with a
    code its command does not accept. A stage stopped by cuprum's teardown, or one
    that died of SIGPIPE because its reader had already exited, is not blamed.
    Intermediate stages never capture stdout, so their ``stdout`` is ``None``.
    """

    stages: tuple[CommandResult[OutT | None, ErrT], ...]
    failure_index: int | None = None

    @property
    def stdout(self) -> OutT:
        """The final stage's captured stdout."""
        return cast("OutT", self.stages[-1].stdout)

    @property
    def stdout_truncated(self) -> bool:
        """Whether a capture limit cut :attr:`stdout` (the final stage's)."""
        return self.stages[-1].stdout_truncated

    @property
    def stderr(self) -> ErrT:
        """The final stage's captured stderr (each stage's is in :attr:`stages`)."""
        return self.stages[-1].stderr

    @property
    def stderr_truncated(self) -> bool:
        """Whether a capture limit cut :attr:`stderr` (the final stage's; each stage's
        is in :attr:`stages`)."""
        return self.stages[-1].stderr_truncated

    @property
    def failure(self) -> CommandResult[OutT | None, ErrT] | None:
        """The stage named by :attr:`failure_index`, if any."""
        return None if self.failure_index is None else self.stages[self.failure_index]

    @property
    def exit_code(self) -> int:
        """The failing stage's exit code when a stage failed, else the final stage's.

        So for a pipeline that ran to its end it is non-zero (or not accepted) exactly
        when :attr:`ok` is false, like a shell's ``set -o pipefail`` status but naming
        the stage that failed first rather than the last one; stages cuprum stopped
        are not counted.
        """
        failure = self.failure
        return (failure if failure is not None else self.stages[-1]).exit_code

    @property
    def duration_s(self) -> float:
        """The pipeline's wall time: its stages start together, so the longest stage's."""
        return max(stage.duration_s for stage in self.stages)

    @property
    def outcome(self) -> Outcome:
        """``exited`` when every stage ran to its end; otherwise the first other stage's
        (``cancelled``: cuprum stopped the pipeline, as leaving a ``stream()`` block
        early does)."""
        for stage in self.stages:
            if stage.outcome != "exited":
                return stage.outcome
        return "exited"

    @property
    def ok(self) -> bool:
        """True when the pipeline ran to its end and no stage failed."""
        return self.failure_index is None and self.outcome == "exited"

    def check(self) -> Self:
        """Return self when :attr:`ok`; otherwise raise for the failing stage (or, for a
        pipeline cuprum stopped, the first stage it stopped): its program, index, exit
        code and stderr, with the whole pipeline as ``cmd``."""
        index = self.failure_index
        if index is None and self.outcome != "exited":  # stopped: no stage is blamed
            index = next(i for i, stage in enumerate(self.stages) if stage.outcome != "exited")
        if index is not None:
            failure = self.stages[index]
            raise CommandFailedError(
                failure.exit_code,
                _pipeline_argv(self.stages),
                self.stdout,
                failure.stderr,
                program=failure.program,
                stage_index=index,
                secrets=failure.secrets,
            )
        return self


def _pipeline_argv(stages: tuple[CommandResult[Any, Any], ...]) -> list[str]:
    argv: list[str] = []
    for stage in stages:
        argv += [*stage.argv, "|"]
    return argv[:-1]


@dataclass(frozen=True, slots=True)
class ConcurrentResult(OutputGeneric, Generic[OutT, ErrT]):
    """Results of ``run_concurrent`` in submission order."""

    results: tuple[CommandResult[OutT, ErrT], ...]
    timeouts: Mapping[int, TimeoutExpired] = field(default_factory=dict, repr=False, compare=False)
    """The :class:`TimeoutExpired` of each command whose timeout expired, by index."""

    @property
    def failures(self) -> tuple[int, ...]:
        """Indices of commands that did not succeed (not accepted, cancelled, not started)."""
        return tuple(i for i, result in enumerate(self.results) if not result.ok)

    @property
    def ok(self) -> bool:
        """True when every command succeeded."""
        return all(result.ok for result in self.results)

    @property
    def first_failure(self) -> CommandResult[OutT, ErrT] | None:
        """The first command that ran and failed (or timed out), in submission order,
        or ``None``. Commands that fail-fast cancelled or never started are not
        chosen unless nothing else failed.
        """
        failed = [result for result in self.results if not result.ok]
        ran = [result for result in failed if result.outcome in ("exited", "timed_out")]
        chosen = ran or failed
        return chosen[0] if chosen else None

    def check(self) -> Self:
        """Return self when :attr:`ok`; otherwise raise for :attr:`first_failure`:
        its :class:`TimeoutExpired` when it timed out, else :class:`CommandFailedError`."""
        failure = self.first_failure
        if failure is not None:
            index = next(i for i, res in enumerate(self.results) if res is failure)
            if index in self.timeouts:
                raise self.timeouts[index]
            failure.check()
            # cancelled or never started: not ok, yet its exit code may be accepted
            raise CommandFailedError(
                failure.exit_code, list(failure.argv), failure.stdout, failure.stderr
            )
        return self
