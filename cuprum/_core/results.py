"""Results of commands, pipelines and concurrent batches: what a run hands back.

Plain values, below the policy layer so hooks can be typed with them; ``check()``
raises :class:`~cuprum._core.errors.CommandFailedError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from cuprum._core.errors import CommandFailedError
from cuprum._core.usage import LimitName, ResourceUsage

__all__ = [
    "CommandResult",
    "ConcurrentResult",
    "Outcome",
    "PipelineResult",
]

OutT = TypeVar("OutT", str, bytes)

Outcome = Literal["exited", "cancelled", "not_started"]
"""``exited``: the program ran and was reaped. ``cancelled``: it was stopped by
cuprum (fail-fast in ``run_concurrent``). ``not_started``: fail-fast stopped the
batch before this command was scheduled."""


@dataclass(frozen=True, slots=True)
class CommandResult(Generic[OutT]):
    """What one command did.

    ``stdout``/``stderr`` are ``None`` when not captured (or, in a pipeline, for an
    intermediate stage's stdout). ``*_truncated`` is true when a capture limit cut
    the stream. ``exit_code`` is ``-N`` for a child killed by signal N.

    Containment: ``usage`` is what the command cost (None where the status was
    lost, e.g. SIGCHLD ignored); ``limit`` names the :class:`~cuprum.Limits` field
    that stopped it, where the kernel left evidence of it.
    """

    program: str
    argv: tuple[str, ...]
    exit_code: int
    pid: int | None
    stdout: OutT | None
    stderr: OutT | None
    duration_s: float = 0.0
    outcome: Outcome = "exited"
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    # -- containment --
    usage: ResourceUsage | None = None
    limit: LimitName | None = None

    @property
    def ok(self) -> bool:
        """True when the program ran and exited with status 0."""
        return self.outcome == "exited" and self.exit_code == 0

    def check(self) -> CommandResult[OutT]:
        """Return self when :attr:`ok`; otherwise raise :class:`CommandFailedError`."""
        if not self.ok:
            raise CommandFailedError(self.exit_code, list(self.argv), self.stdout, self.stderr)
        return self


@dataclass(frozen=True, slots=True)
class PipelineResult(Generic[OutT]):
    """What a pipeline did: the final stdout and one :class:`CommandResult` per stage.

    ``failure_index`` is the first stage that failed on its own (a stage stopped by
    cuprum's teardown, or one that died of SIGPIPE because its reader had already
    exited, is not blamed).
    """

    stages: tuple[CommandResult[OutT], ...]
    failure_index: int | None = None

    @property
    def stdout(self) -> OutT | None:
        """The final stage's captured stdout."""
        return self.stages[-1].stdout

    @property
    def stderr(self) -> OutT | None:
        """The final stage's captured stderr."""
        return self.stages[-1].stderr

    @property
    def failure(self) -> CommandResult[OutT] | None:
        """The stage named by :attr:`failure_index`, if any."""
        return None if self.failure_index is None else self.stages[self.failure_index]

    @property
    def ok(self) -> bool:
        """True when no stage failed."""
        return self.failure_index is None

    def check(self) -> PipelineResult[OutT]:
        """Return self when :attr:`ok`; otherwise raise for the failing stage."""
        failure = self.failure
        if failure is not None:
            argv = _pipeline_argv(self.stages)
            raise CommandFailedError(failure.exit_code, argv, self.stdout, failure.stderr)
        return self


def _pipeline_argv(stages: tuple[CommandResult[Any], ...]) -> list[str]:
    argv: list[str] = []
    for stage in stages:
        argv += [*stage.argv, "|"]
    return argv[:-1]


@dataclass(frozen=True, slots=True)
class ConcurrentResult(Generic[OutT]):
    """Results of ``run_concurrent`` in submission order."""

    results: tuple[CommandResult[OutT], ...]

    @property
    def failures(self) -> tuple[int, ...]:
        """Indices of commands that did not succeed (non-zero, cancelled, not started)."""
        return tuple(i for i, result in enumerate(self.results) if not result.ok)

    @property
    def ok(self) -> bool:
        """True when every command exited 0."""
        return all(result.ok for result in self.results)

    @property
    def first_failure(self) -> CommandResult[OutT] | None:
        """The first command that ran and failed, in submission order, or ``None``.

        Commands that fail-fast cancelled or never started are not chosen unless
        nothing else failed.
        """
        failed = [result for result in self.results if not result.ok]
        ran = [result for result in failed if result.outcome == "exited"]
        chosen = ran or failed
        return chosen[0] if chosen else None
