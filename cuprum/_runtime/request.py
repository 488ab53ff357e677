"""The run options, defined once, and ``RunRequest``: everything one run needs.

:class:`RunOptions` names every keyword of ``run()``, ``run_sync()``, ``stream()``
and ``with_options()`` that does not change the type of the result;
:data:`SHAPE_OPTIONS` are the four that do (``capture``, ``text``, ``stdout``,
``stderr``), so each method lists them itself, in typed overloads. The defaults
live in :class:`RunRequest`'s fields, and :func:`build_request` turns keywords
into a request. To add an option: a key in :class:`RunOptions`, a field with its
default in :class:`RunRequest` (``tests/core/test_run_options.py`` checks that the
two agree), and its check in :mod:`.validate`.

A request is a value: the engine reads it and never writes to it. What a caller
needs back from a run while it is going on comes through the engine's callbacks
(:func:`cuprum._runtime.engine.run_stages`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any, Final, NamedTuple, TypedDict

from cuprum._core.context import CuprumContext, current_context
from cuprum._core.errors import InvalidArgumentError
from cuprum._core.results import ACCEPT_ZERO
from cuprum._model.execution import ExecutionContext
from cuprum._model.io import OnLimit, StdinSource
from cuprum._model.spec import CommandSpec
from cuprum._runtime.refusal import who
from cuprum._runtime.validate import check_accept, check_field, validate_request

if TYPE_CHECKING:  # a terminal's model is loaded only for a run with tty=
    from cuprum._model.terminal import Terminal

__all__ = [
    "SHAPE_OPTIONS",
    "RunOptions",
    "RunRequest",
    "bound_options",
    "build_request",
    "check_switches",
    "merge_stage_options",
    "resolve_timeout",
]


class RunOptions(TypedDict, total=False):
    """The options of a run that do not change the type of its result.

    Accepted by ``run()``, ``run_sync()`` and ``stream()`` of a command or a
    pipeline, and by ``with_options()`` / ``sh.make(..., **options)``, which bind
    them to a command or a builder. Each key is optional; the defaults are those
    of :class:`RunRequest`.
    """

    echo: bool
    """Tee stdout/stderr, as they arrive, to the context's sinks (default ``False``)."""
    context: ExecutionContext | None
    """Per-run details: env, cwd, cancel grace, default timeout, sinks, decoding."""
    timeout: float | None
    """Seconds for the whole run; else ``context.timeout``, else the scope's."""
    stdin: StdinSource | None
    """The first stage's stdin: bytes, str, a path, an open file, an async iterable of
    bytes, ``DEVNULL`` (the default), ``INHERIT``, or ``PIPE`` (streaming only)."""
    capture_limit: int | None
    """At most this many bytes kept per captured stream."""
    on_limit: OnLimit
    """``"truncate"`` (the default) or ``"raise"`` (:class:`CaptureLimitExceeded`)."""
    check: bool
    """Raise :class:`CommandFailedError` unless the result is ok."""
    stage_events: bool
    """Pipelines: emit ``stdout`` line events for intermediate stages too."""
    tty: bool | Terminal
    """One command: run it on a pseudo-terminal, its controlling terminal (``True``, or
    a :class:`Terminal` for its size and more); see docs/terminals.md."""
    accept: Collection[int]
    """The exit codes that count as success, e.g. ``(0, 1)`` for grep (default ``0``).
    Bound to a command it belongs to that command, even as a stage of a pipeline.
    Given to a command's run it replaces the command's own; given to a pipeline (its
    run or ``with_options``) it applies to every stage that declares none."""


SHAPE_OPTIONS: Final = frozenset({"capture", "text", "stdout", "stderr"})
"""The options that decide the type of ``stdout``/``stderr`` in the result: given
per call, never bound (a bound ``text=False`` would make the types lie)."""


class RunRequest(NamedTuple):
    """Everything one run needs, resolved by the caller (timeout precedence included).

    Beyond the stages, the policy and the options, ``stage_accept`` holds each
    stage's accepted exit codes (:meth:`accepted`), resolved when it was built.
    """

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
    check: bool = False
    accept: frozenset[int] | None = None
    stage_accept: tuple[frozenset[int], ...] = ()
    tty: Terminal | None = None  # ``tty=``, resolved (``True`` is ``Terminal()``)

    def accepted(self, index: int) -> frozenset[int]:
        """The exit codes that count as success for stage ``index``."""
        return self.stage_accept[index] if self.stage_accept else ACCEPT_ZERO


_DEFAULT_CONTEXT = ExecutionContext()
_REQUEST_ONLY = frozenset({"stages", "policy", "stage_accept"})
OPTION_NAMES: Final = frozenset(RunRequest._fields) - _REQUEST_ONLY
"""Every keyword :func:`build_request` takes: :class:`RunOptions` and :data:`SHAPE_OPTIONS`."""
_NOTHING: Mapping[str, Any] = {}
_SWITCHES: Final = frozenset({"capture", "text", "echo", "check", "stage_events"})
"""The options that are ``True`` or ``False``: ``text=None`` or ``check="yes"`` is refused."""


def resolve_timeout(
    explicit: float | None, context: ExecutionContext, policy: CuprumContext
) -> float | None:
    """Explicit argument, then ``ExecutionContext.timeout``, then ``ScopeConfig.timeout``."""
    if explicit is not None:
        return explicit
    if context.timeout is not None:
        return context.timeout
    return policy.timeout


def check_switches(what: str, options: Mapping[str, object]) -> None:
    """:class:`InvalidArgumentError` for a switch (:data:`_SWITCHES`) that is not
    ``True`` or ``False``: when a run is built, and when ``with_options()`` binds one."""
    for name in _SWITCHES.intersection(options):  # (nothing to do for the defaults)
        check_field(what, name, options[name], "flag")


def check_option_names(what: str, names: Collection[str]) -> None:
    """``TypeError`` for a keyword that is no run option (with the nearest one)."""
    if OPTION_NAMES.issuperset(names):
        return
    import difflib  # only for the message

    name = next(name for name in names if name not in OPTION_NAMES)
    close = difflib.get_close_matches(name, sorted(OPTION_NAMES), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise TypeError(f"{what}: unexpected run option {name!r}{hint}")


def bound_options(cmd: object) -> Mapping[str, Any]:
    """The run options bound to a command (``SafeCmd.options``); empty for any other."""
    options = getattr(cmd, "options", None)
    if not options:
        return _NOTHING
    return options if isinstance(options, Mapping) else _NOTHING


def merge_stage_options(stages: tuple[CommandSpec, ...]) -> dict[str, Any]:
    """The run-wide options the stages bind (each stage's ``accept`` stays its own).

    A pipeline runs under one set of options, so two stages binding different
    values for one option are refused, naming both.
    """
    merged: dict[str, Any] = {}
    owner: dict[str, str] = {}
    for stage in stages:
        for name, value in bound_options(stage).items():
            if name == "accept":
                continue
            if name in merged and not _same(merged[name], value):
                raise InvalidArgumentError(
                    f"{owner[name]} and {stage.program} bind different values of {name!r}; "
                    "a pipeline runs with one: bind it on the pipeline (pipeline.with_options)"
                )
            merged[name] = value
            owner[name] = stage.program
    return merged


def _same(a: object, b: object) -> bool:
    try:
        return a is b or bool(a == b)
    except Exception:  # a value whose == cannot answer
        return False


def build_request(
    stages: tuple[CommandSpec, ...],
    /,
    *,
    policy: CuprumContext | None = None,
    **options: Any,
) -> RunRequest:
    """A checked request for ``stages`` under the current context (or ``policy``).

    ``options`` are the run's keywords (:class:`RunOptions` and the shape options);
    they win over the options the stages bind (:func:`merge_stage_options`). Every
    value is checked here, before any hook, event or process.
    """
    if not OPTION_NAMES.issuperset(options):
        check_option_names(who(stages), options)
    bound = False
    for stage in stages:  # (a loop, not any(): this is on every run's path)
        if bound_options(stage):
            bound = True
            break
    if bound:
        options = {**merge_stage_options(stages), **options}
    check_switches(who(stages), options)
    policy = policy if policy is not None else current_context()
    context = options.pop("context", None)
    ctx = context if context is not None else _DEFAULT_CONTEXT
    timeout = options.pop("timeout", None)
    validate_request(
        stages,
        timeout=timeout,
        context=context,  # None: the default, which has nothing to check
        policy=policy,
        stdin=options.get("stdin"),
        stdout=options.get("stdout"),
        stderr=options.get("stderr"),
        capture_limit=options.get("capture_limit"),
        on_limit=options.get("on_limit", "truncate"),
    )
    if "tty" in options:
        from cuprum._runtime.terminal import resolve_tty  # termios: only for tty=

        options["tty"] = resolve_tty(
            stages, options["tty"], stdin=options.get("stdin"), stdout=options.get("stdout")
        )
    accept = options.pop("accept", None)
    run_accept = check_accept(who(stages), accept) if accept is not None else None
    return RunRequest(
        stages=stages,
        policy=policy,
        context=ctx,
        timeout=resolve_timeout(timeout, ctx, policy),
        accept=run_accept,
        stage_accept=_stage_accept(stages, run_accept) if bound or run_accept else (),
        **options,
    )


def _stage_accept(
    stages: tuple[CommandSpec, ...], run_accept: frozenset[int] | None
) -> tuple[frozenset[int], ...]:
    """Each stage's own ``accept``, else the run's; ``()`` when nobody set one.

    A single command's run is that command's: the run's ``accept`` replaces its own.
    """
    if len(stages) == 1 and run_accept is not None:
        return (run_accept,)
    own = [bound_options(stage).get("accept") for stage in stages]
    if run_accept is None and all(codes is None for codes in own):
        return ()
    default = run_accept if run_accept is not None else ACCEPT_ZERO
    return tuple(
        check_accept(stage.program, codes) if codes is not None else default
        for stage, codes in zip(stages, own, strict=True)
    )
