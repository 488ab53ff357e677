"""``SafeCmd`` and ``Pipeline``: immutable commands that run themselves via the runtime."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from cuprum._core.catalogue import DEFAULT_CATALOGUE, ProgramCatalogue, ProjectSettings
from cuprum._core.errors import InvalidArgumentError
from cuprum._core.programs import Program
from cuprum._core.secret import Secret
from cuprum._model.execution import ExecutionContext
from cuprum._model.io import OnLimit, Redirect, StderrTarget, StdinSource, Stream
from cuprum._model.results import CommandResult, PipelineResult
from cuprum._model.spec import CommandSpec

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from cuprum._compose.streaming import StreamHandle
    from cuprum._runtime.sync import Backend

# The runtime (anyio, the engine, asyncio for run_sync) is imported on first use,
# inside the methods below: `import cuprum` stays cheap.

__all__ = ["Pipeline", "SafeCmd", "SafeCmdBuilder", "make"]

R = TypeVar("R")


class _Runnable(Generic[R]):
    """``run``/``run_sync`` written once for commands and pipelines."""

    __slots__ = ()

    def _stages(self) -> tuple[CommandSpec, ...]:
        raise NotImplementedError

    def _result(self, results: tuple[CommandResult[Any], ...], failure: int | None) -> R:
        raise NotImplementedError

    async def run(
        self,
        *,
        capture: bool = True,
        echo: bool = False,
        context: ExecutionContext | None = None,
        timeout: float | None = None,
        text: bool = True,
        stdin: StdinSource | None = None,
        stdout: Redirect | None = None,
        stderr: StderrTarget | None = None,
        capture_limit: int | None = None,
        on_limit: OnLimit = "truncate",
        check: bool = False,
        stage_events: bool = False,
    ) -> R:
        """Run to completion on the current event loop (asyncio or trio) and return the result.

        ``capture``: keep stdout/stderr in the result. ``echo``: tee them to the
        context's sinks. ``timeout``: seconds (else ``context.timeout``, else the
        scope's). ``text=False``: ``bytes`` instead of decoded text. ``stdin``,
        ``stdout``, ``stderr``: sources and redirects (``stderr=STDOUT`` merges).
        ``capture_limit``/``on_limit``: bound the bytes kept per stream.
        ``check``: raise :class:`CommandFailedError` unless the result is ok.
        ``stage_events`` (pipelines): emit ``stdout`` line events for intermediate
        stages too.
        """
        from cuprum._runtime.engine import run_stages
        from cuprum._runtime.request import build_request

        if stdin is Stream.PIPE:  # a usage error: refused before any hook runs or event
            raise ValueError("stdin=PIPE is only for streaming: use cmd.stream(stdin=PIPE)")
        request = build_request(
            self._stages(),
            capture=capture,
            echo=echo,
            context=context,
            timeout=timeout,
            text=text,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            capture_limit=capture_limit,
            on_limit=on_limit,
            stage_events=stage_events,
        )
        results, failure = await run_stages(request)
        result = self._result(results, failure)
        if check:
            result.check()  # type: ignore[attr-defined]
        return result

    def stream(
        self,
        *,
        capture: bool = True,
        echo: bool = False,
        context: ExecutionContext | None = None,
        timeout: float | None = None,
        text: bool = True,
        stdin: StdinSource | None = None,
        stderr: StderrTarget | None = None,
        capture_limit: int | None = None,
        on_limit: OnLimit = "truncate",
        stage_events: bool = False,
    ) -> AbstractAsyncContextManager[StreamHandle[R]]:  # type: ignore[type-var]
        """Start the command and stream its stdout: ``async with cmd.stream() as h``.

        Same options as :meth:`run` (stdout goes to the handle, so no ``stdout``
        redirect); ``stdin=PIPE`` lets you :meth:`~StreamHandle.write` to it.
        Leaving the block early terminates the process (SIGTERM, grace, SIGKILL).
        """
        from cuprum._compose.streaming import open_stream
        from cuprum._runtime.request import build_request

        request = build_request(
            self._stages(),
            capture=capture,
            echo=echo,
            context=context,
            timeout=timeout,
            text=text,
            stdin=stdin,
            stderr=stderr,
            capture_limit=capture_limit,
            on_limit=on_limit,
            stage_events=stage_events,
        )
        return open_stream(request, self._result)

    def run_sync(
        self,
        *,
        capture: bool = True,
        echo: bool = False,
        context: ExecutionContext | None = None,
        timeout: float | None = None,
        text: bool = True,
        stdin: StdinSource | None = None,
        stdout: Redirect | None = None,
        stderr: StderrTarget | None = None,
        capture_limit: int | None = None,
        on_limit: OnLimit = "truncate",
        check: bool = False,
        stage_events: bool = False,
        backend: Backend = "asyncio",
    ) -> R:
        """:meth:`run` from synchronous code; ``backend`` picks asyncio (default) or trio.

        Raises ``RuntimeError`` when called inside a running event loop.
        """
        from cuprum._runtime.sync import run_sync

        return run_sync(
            lambda: self.run(
                capture=capture,
                echo=echo,
                context=context,
                timeout=timeout,
                text=text,
                stdin=stdin,
                stdout=stdout,
                stderr=stderr,
                capture_limit=capture_limit,
                on_limit=on_limit,
                check=check,
                stage_events=stage_events,
            ),
            backend=backend,
        )


def _check_args(program: str, argv: tuple[str, ...]) -> None:
    for position, arg in enumerate(argv):
        if not isinstance(arg, str):
            raise InvalidArgumentError(
                f"{program}: argument {position} is {type(arg).__name__}, not str: {arg!r}"
            )
        if "\x00" in arg:
            raise InvalidArgumentError(f"{program}: argument {position} contains a NUL byte")


@dataclass(frozen=True, slots=True)
class SafeCmd(_Runnable[CommandResult[Any]]):
    """An allowlisted program with its arguments and owning project. Immutable.

    ``cmd | other`` builds a :class:`Pipeline`. Running checks the active
    allowlist even for a directly constructed ``SafeCmd``.
    """

    program: Program
    argv: tuple[str, ...]
    project: ProjectSettings

    def __post_init__(self) -> None:
        if not isinstance(self.program, str) or not self.program or "\x00" in self.program:
            raise InvalidArgumentError(f"invalid program name {self.program!r}")
        _check_args(self.program, self.argv)

    @property
    def argv_with_program(self) -> tuple[str, ...]:
        """``(program, *argv)``: what the operating system receives."""
        return (self.program, *self.argv)

    def __or__(self, other: SafeCmd | Pipeline) -> Pipeline:
        return Pipeline((self,)) | other

    def _stages(self) -> tuple[CommandSpec, ...]:
        return (self,)

    def _result(
        self, results: tuple[CommandResult[Any], ...], failure: int | None
    ) -> CommandResult[Any]:
        return results[0]


@dataclass(frozen=True, slots=True)
class Pipeline(_Runnable[PipelineResult[Any]]):
    """Commands whose stdout feeds the next one's stdin; build with ``a | b | c``."""

    parts: tuple[SafeCmd, ...]

    def __post_init__(self) -> None:
        if not self.parts:
            raise ValueError("a pipeline needs at least one command")

    def __or__(self, other: SafeCmd | Pipeline) -> Pipeline:
        if isinstance(other, SafeCmd):
            return Pipeline((*self.parts, other))
        if isinstance(other, Pipeline):
            return Pipeline(self.parts + other.parts)
        return NotImplemented

    def _stages(self) -> tuple[CommandSpec, ...]:
        return self.parts

    def _result(
        self, results: tuple[CommandResult[Any], ...], failure: int | None
    ) -> PipelineResult[Any]:
        return PipelineResult(stages=results, failure_index=failure)


def _stringify(program: str, value: object, what: str) -> str:
    if value is None:
        raise InvalidArgumentError(
            f"{program}: {what} is None; decide whether to skip or substitute it before "
            "calling the builder"
        )
    return value if isinstance(value, Secret) else str(value)  # str() would redact it


class SafeCmdBuilder:
    """Builds :class:`SafeCmd` values for one catalogued program (from :func:`make`)."""

    __slots__ = ("program", "project")

    def __init__(self, program: Program, project: ProjectSettings) -> None:
        self.program = program
        self.project = project

    def __call__(self, *args: object, **flags: object) -> SafeCmd:
        """Positional args via ``str()``; ``flag_name=v`` becomes ``--flag-name=v``."""
        argv = [_stringify(self.program, arg, f"argument {i}") for i, arg in enumerate(args)]
        for name, value in flags.items():
            flag = name.replace("_", "-")
            # "+", not an f-string: "--flag=" + Secret is a Secret
            argv.append(f"--{flag}=" + _stringify(self.program, value, f"--{flag}"))
        return SafeCmd(self.program, tuple(argv), self.project)

    def __repr__(self) -> str:
        return f"<SafeCmdBuilder {self.program} ({self.project.name})>"


def make(program: Program, *, catalogue: ProgramCatalogue = DEFAULT_CATALOGUE) -> SafeCmdBuilder:
    """A builder for ``program``; raises :class:`UnknownProgramError` if not catalogued."""
    entry = catalogue.lookup(program)
    return SafeCmdBuilder(entry.program, entry.project)
