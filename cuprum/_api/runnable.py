"""``run``/``run_sync``/``stream``, written once for commands and pipelines, typed per call.

The type of a result's ``stdout``/``stderr`` follows from four options: ``capture``,
``text``, ``stdout`` and ``stderr`` (:data:`~cuprum._runtime.request.SHAPE_OPTIONS`).
The overloads below map them to one of nine shapes; :class:`Runnable` is generic in
the result type of each shape, so ``SafeCmd`` binds them to ``CommandResult[...]``
and ``Pipeline`` to ``PipelineResult[...]`` (Python has no higher-kinded types, so
the shapes are spelled out once per class, not the overloads). The other options
come as ``**options: Unpack[RunOptions]``, defined once in the runtime.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeAlias, TypeVar, Unpack, overload

from cuprum._model.io import Redirect, StderrTarget, Stream
from cuprum._model.results import CommandResult, PipelineResult
from cuprum._model.spec import CommandSpec

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from cuprum._compose.streaming import StreamHandle
    from cuprum._runtime.request import RunOptions, RunRequest
    from cuprum._runtime.sync import Backend

# The runtime (anyio, the engine, asyncio for run_sync) is imported on first use,
# inside the methods below: `import cuprum` stays cheap.

__all__ = ["Runnable"]

_R: TypeAlias = "CommandResult[Any, Any] | PipelineResult[Any, Any]"
Text = TypeVar("Text", bound=_R)  # captured as str: the default
Bytes = TypeVar("Bytes", bound=_R)  # text=False
ErrText = TypeVar("ErrText", bound=_R)  # stdout redirected: stdout None, stderr str
ErrBytes = TypeVar("ErrBytes", bound=_R)  # ... with text=False
OutText = TypeVar("OutText", bound=_R)  # stderr redirected (or STDOUT): stderr None
OutBytes = TypeVar("OutBytes", bound=_R)  # ... with text=False
Nothing = TypeVar("Nothing", bound=_R)  # capture=False, or both redirected
MaybeText = TypeVar("MaybeText", bound=_R)  # capture given as a plain bool
Unknown = TypeVar("Unknown", bound=_R)  # text given as a plain bool too

_T = Literal[True]
_F = Literal[False]
_Out = Redirect | None
_Err = StderrTarget | None


class Runnable(
    Generic[Text, Bytes, ErrText, ErrBytes, OutText, OutBytes, Nothing, MaybeText, Unknown]
):
    """What commands and pipelines share: building a request and running it."""

    __slots__ = ()

    def _stages(self) -> tuple[CommandSpec, ...]:
        raise NotImplementedError

    def _options(self) -> Mapping[str, Any]:
        """Run options bound to the whole (a pipeline's own); the stages' are merged later."""
        raise NotImplementedError

    def _result(self, results: tuple[CommandResult[Any, Any], ...], failure: int | None) -> Any:
        raise NotImplementedError

    def _request(self, call: dict[str, Any]) -> RunRequest:
        from cuprum._runtime.request import build_request

        own = self._options()
        return build_request(self._stages(), **({**own, **call} if own else call))

    # -- run ------------------------------------------------------------------

    # fmt: off
    @overload
    async def run(
        self, *, capture: _F, text: bool = ..., stdout: _Out = ..., stderr: _Err = ...,
        **options: Unpack[RunOptions],
    ) -> Nothing: ...
    @overload
    async def run(
        self, *, capture: _T = ..., text: _T = ..., stdout: None = ..., stderr: None = ...,
        **options: Unpack[RunOptions],
    ) -> Text: ...
    @overload
    async def run(
        self, *, capture: _T = ..., text: _F, stdout: None = ..., stderr: None = ...,
        **options: Unpack[RunOptions],
    ) -> Bytes: ...
    @overload
    async def run(
        self, *, capture: _T = ..., text: _T = ..., stdout: Redirect, stderr: None = ...,
        **options: Unpack[RunOptions],
    ) -> ErrText: ...
    @overload
    async def run(
        self, *, capture: _T = ..., text: _F, stdout: Redirect, stderr: None = ...,
        **options: Unpack[RunOptions],
    ) -> ErrBytes: ...
    @overload
    async def run(
        self, *, capture: _T = ..., text: _T = ..., stdout: None = ..., stderr: StderrTarget,
        **options: Unpack[RunOptions],
    ) -> OutText: ...
    @overload
    async def run(
        self, *, capture: _T = ..., text: _F, stdout: None = ..., stderr: StderrTarget,
        **options: Unpack[RunOptions],
    ) -> OutBytes: ...
    @overload
    async def run(
        self, *, capture: _T = ..., text: bool = ..., stdout: Redirect, stderr: StderrTarget,
        **options: Unpack[RunOptions],
    ) -> Nothing: ...
    @overload
    async def run(
        self, *, capture: bool = ..., text: _T = ..., stdout: _Out = ..., stderr: _Err = ...,
        **options: Unpack[RunOptions],
    ) -> MaybeText: ...
    @overload
    async def run(
        self, *, capture: bool = ..., text: bool = ..., stdout: _Out = ..., stderr: _Err = ...,
        **options: Unpack[RunOptions],
    ) -> Unknown: ...
    # fmt: on
    async def run(
        self,
        *,
        capture: bool = True,
        text: bool = True,
        stdout: _Out = None,
        stderr: _Err = None,
        **options: Unpack[RunOptions],
    ) -> Any:
        """Run to completion on the current event loop (asyncio or trio); return the result.

        ``capture``: keep stdout/stderr in the result (``False``: they are ``None``).
        ``text=False``: ``bytes`` instead of decoded text. ``stdout``/``stderr``:
        redirect a stream (its field is then ``None``; ``stderr=STDOUT`` merges).
        The other options are :class:`RunOptions`: ``timeout``, ``context``,
        ``check``, ``accept``, ``stdin``, ``echo``, ``capture_limit``, ``on_limit``,
        ``stage_events``. Keywords given here win over those bound with
        ``with_options``.
        """
        call = dict(options, capture=capture, text=text, stdout=stdout, stderr=stderr)
        return await self._run(self._request(call))

    async def _run(self, request: RunRequest) -> Any:
        from cuprum._runtime.engine import run_stages

        if request.stdin is Stream.PIPE:  # a usage error: refused before any hook or event
            raise _pipe_refused(request)
        return self._deliver(request, *await run_stages(request))

    def _deliver(self, request: RunRequest, results: tuple[Any, ...], failure: int | None) -> Any:
        result = self._result(results, failure)
        if request.check:
            result.check()
        return result

    # -- run_sync -------------------------------------------------------------

    # fmt: off
    @overload
    def run_sync(
        self, *, capture: _F, text: bool = ..., stdout: _Out = ..., stderr: _Err = ...,
        backend: Backend = ..., **options: Unpack[RunOptions],
    ) -> Nothing: ...
    @overload
    def run_sync(
        self, *, capture: _T = ..., text: _T = ..., stdout: None = ..., stderr: None = ...,
        backend: Backend = ..., **options: Unpack[RunOptions],
    ) -> Text: ...
    @overload
    def run_sync(
        self, *, capture: _T = ..., text: _F, stdout: None = ..., stderr: None = ...,
        backend: Backend = ..., **options: Unpack[RunOptions],
    ) -> Bytes: ...
    @overload
    def run_sync(
        self, *, capture: _T = ..., text: _T = ..., stdout: Redirect, stderr: None = ...,
        backend: Backend = ..., **options: Unpack[RunOptions],
    ) -> ErrText: ...
    @overload
    def run_sync(
        self, *, capture: _T = ..., text: _F, stdout: Redirect, stderr: None = ...,
        backend: Backend = ..., **options: Unpack[RunOptions],
    ) -> ErrBytes: ...
    @overload
    def run_sync(
        self, *, capture: _T = ..., text: _T = ..., stdout: None = ..., stderr: StderrTarget,
        backend: Backend = ..., **options: Unpack[RunOptions],
    ) -> OutText: ...
    @overload
    def run_sync(
        self, *, capture: _T = ..., text: _F, stdout: None = ..., stderr: StderrTarget,
        backend: Backend = ..., **options: Unpack[RunOptions],
    ) -> OutBytes: ...
    @overload
    def run_sync(
        self, *, capture: _T = ..., text: bool = ..., stdout: Redirect, stderr: StderrTarget,
        backend: Backend = ..., **options: Unpack[RunOptions],
    ) -> Nothing: ...
    @overload
    def run_sync(
        self, *, capture: bool = ..., text: _T = ..., stdout: _Out = ..., stderr: _Err = ...,
        backend: Backend = ..., **options: Unpack[RunOptions],
    ) -> MaybeText: ...
    @overload
    def run_sync(
        self, *, capture: bool = ..., text: bool = ..., stdout: _Out = ..., stderr: _Err = ...,
        backend: Backend = ..., **options: Unpack[RunOptions],
    ) -> Unknown: ...
    # fmt: on
    def run_sync(
        self,
        *,
        capture: bool = True,
        text: bool = True,
        stdout: _Out = None,
        stderr: _Err = None,
        backend: Backend = "asyncio",
        **options: Unpack[RunOptions],
    ) -> Any:
        """:meth:`run` from synchronous code; ``backend`` picks asyncio (default) or trio.
        Same options, same result; ``RuntimeError`` inside a running event loop."""
        from cuprum._runtime.direct import refuse_inside_event_loop, run_direct, runs_direct

        refuse_inside_event_loop("run_sync")
        call = dict(options, capture=capture, text=text, stdout=stdout, stderr=stderr)
        request = self._request(call)
        _check_backend(request, backend)
        if backend == "asyncio" and runs_direct(request):  # needs no event loop
            return self._deliver(request, *run_direct(request))
        from cuprum._runtime.sync import run_sync

        program = str(request.stages[0].program)  # named if the loop cannot start
        return run_sync(lambda: self._run(request), backend=backend, program=program)

    # -- stream ---------------------------------------------------------------

    # fmt: off
    @overload
    def stream(
        self, *, capture: _F, text: bool = ..., stderr: _Err = ...,
        **options: Unpack[RunOptions],
    ) -> AbstractAsyncContextManager[StreamHandle[Nothing]]: ...
    @overload
    def stream(
        self, *, capture: _T = ..., text: _T = ..., stderr: None = ...,
        **options: Unpack[RunOptions],
    ) -> AbstractAsyncContextManager[StreamHandle[Text]]: ...
    @overload
    def stream(
        self, *, capture: _T = ..., text: _F, stderr: None = ...,
        **options: Unpack[RunOptions],
    ) -> AbstractAsyncContextManager[StreamHandle[Bytes]]: ...
    @overload
    def stream(
        self, *, capture: _T = ..., text: _T = ..., stderr: StderrTarget,
        **options: Unpack[RunOptions],
    ) -> AbstractAsyncContextManager[StreamHandle[OutText]]: ...
    @overload
    def stream(
        self, *, capture: _T = ..., text: _F, stderr: StderrTarget,
        **options: Unpack[RunOptions],
    ) -> AbstractAsyncContextManager[StreamHandle[OutBytes]]: ...
    @overload
    def stream(
        self, *, capture: bool = ..., text: _T = ..., stderr: _Err = ...,
        **options: Unpack[RunOptions],
    ) -> AbstractAsyncContextManager[StreamHandle[MaybeText]]: ...
    @overload
    def stream(
        self, *, capture: bool = ..., text: bool = ..., stderr: _Err = ...,
        **options: Unpack[RunOptions],
    ) -> AbstractAsyncContextManager[StreamHandle[Unknown]]: ...
    # fmt: on
    def stream(
        self,
        *,
        capture: bool = True,
        text: bool = True,
        stderr: _Err = None,
        **options: Unpack[RunOptions],
    ) -> AbstractAsyncContextManager[StreamHandle[Any]]:
        """Start the command and stream its stdout: ``async with cmd.stream() as h``.

        Same options as :meth:`run` (stdout goes to the handle, so no ``stdout``
        redirect); ``stdin=PIPE`` lets you :meth:`~StreamHandle.write` to it.
        ``handle.wait()`` returns the result (the stdout not read through the handle
        is in its ``stdout``); with ``check=True`` it raises instead when not ok.
        Leaving the block early terminates the process (SIGTERM, grace, SIGKILL).
        """
        from cuprum._compose.streaming import open_stream

        call = dict(options, capture=capture, text=text, stderr=stderr)
        return open_stream(self._request(call), self._result)


def _pipe_refused(request: RunRequest) -> Exception:
    """The error of ``run()`` given ``stdin=PIPE``, naming the program."""
    from cuprum._runtime.validate import refused

    return refused(request.stages, "stdin=PIPE is only for streaming: use cmd.stream(stdin=PIPE)")


def _check_backend(request: RunRequest, backend: object) -> None:
    """``run_sync``'s ``backend``, refused naming the program before anything runs."""
    if backend not in ("asyncio", "trio"):
        from cuprum._runtime.validate import refused

        raise refused(request.stages, f"backend must be 'asyncio' or 'trio', got {backend!r}")
