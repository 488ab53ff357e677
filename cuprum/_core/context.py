"""The scoped execution policy: allowlist, hooks and default timeout, in a ContextVar.

Every change produces a new immutable :class:`CuprumContext`; ``scoped`` restores the
parent on exit, registrations (``allow``, ``before``, ``after``, ``observe``) remove
exactly what they added when detached. Because the value lives in a ``ContextVar``,
threads and tasks each see their own.

A registration is *live* in the context it was made in and in every context derived
from it (a nested scope, a task started there), until detached there; a second
``ContextVar`` lists the live ones. ``detach()`` undoes it where it is live, and a
``scoped`` block that exits hands its detaches on to the parent it restores, so a
registration detached inside a nested block stays detached outside it. Once the
scope it was made in has exited it is live nowhere there, and a late ``detach()``
changes nothing (the scope's exit already undid it).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any, Literal, Self

from cuprum._core.errors import ForbiddenProgramError, InvalidArgumentError
from cuprum._core.events import BatchHook, ExecEvent, ObserveHook
from cuprum._core.loader_env import LOADER_ENV_NAMES, LOADER_ENV_PREFIXES, is_loader_variable
from cuprum._core.programs import Program
from cuprum._core.results import CommandResult
from cuprum._core.spec import CommandSpec

__all__ = [
    "LOADER_ENV_NAMES",
    "LOADER_ENV_PREFIXES",
    "AfterHook",
    "AllowRegistration",
    "BeforeHook",
    "CuprumContext",
    "HookRegistration",
    "ScopeConfig",
    "after",
    "allow",
    "before",
    "current_context",
    "get_context",
    "is_loader_variable",
    "observe",
    "observe_batches",
    "scoped",
]

BeforeHook = Callable[[CommandSpec], None]
"""Called with each command (each stage of a pipeline) before anything starts."""
AfterHook = Callable[[CommandSpec, CommandResult], None]
"""Called with each command (each stage of a pipeline) and its result, after it ran.

The result may be of any shape: its ``stdout``/``stderr`` are ``str``, ``bytes`` or
``None`` depending on how the run was asked (a bare ``CommandResult``)."""


@dataclass(frozen=True, slots=True)
class CuprumContext:
    """The policy in force: which programs may run, which hooks see them.

    An empty ``allowlist`` means no policy has been set: every program may run
    (:meth:`permits`). :meth:`is_allowed` answers the narrower question "is this
    program on the list?", so it is ``False`` for everything on an empty list.

    ``enforced`` is set once a scope narrows a non-empty allowlist, or by
    ``ScopeConfig(fail_closed=True)``: from then on an empty allowlist (two disjoint
    scopes, say) permits nothing, so narrowing can never fall back to the permissive
    default.

    ``allow_loader_env``: env overlays may set loader variables (``LD_PRELOAD``, ...);
    refused otherwise (see ``docs/security.md``).
    """

    allowlist: frozenset[Program] = frozenset()
    before_hooks: tuple[BeforeHook, ...] = ()
    after_hooks: tuple[AfterHook, ...] = ()
    observe_hooks: tuple[ObserveHook, ...] = ()
    timeout: float | None = None
    enforced: bool = False
    allow_loader_env: bool = False

    def __post_init__(self) -> None:
        if type(self.allowlist) is not frozenset:  # every replace() passes one through
            object.__setattr__(self, "allowlist", _programs("CuprumContext", self.allowlist))

    def is_allowed(self, program: Program) -> bool:
        """Whether ``program`` is on this context's allowlist."""
        return program in self.allowlist

    def permits(self, program: Program) -> bool:
        """Whether ``program`` may run here: listed, or no policy at all."""
        return program in self.allowlist or not (self.allowlist or self.enforced)

    def check_allowed(self, program: Program) -> None:
        """Raise :class:`ForbiddenProgramError` unless :meth:`is_allowed`."""
        if program not in self.allowlist:
            listed = ", ".join(sorted(self.allowlist)) or "nothing"
            raise ForbiddenProgramError(
                program, f"not allowed in the current context (allowlist: {listed})"
            )

    def check_permitted(self, program: Program) -> None:
        """Raise :class:`ForbiddenProgramError` unless :meth:`permits`; used before a run."""
        if not self.permits(program):
            self.check_allowed(program)


_ROOT = CuprumContext()
_CURRENT: ContextVar[CuprumContext] = ContextVar("cuprum_context", default=_ROOT)
#: The registrations live in the current context, in the order they were made.
_LIVE: ContextVar[tuple[_Registration, ...]] = ContextVar("cuprum_registrations", default=())


def current_context() -> CuprumContext:
    """The :class:`CuprumContext` in force for the calling thread or task."""
    return _CURRENT.get()


get_context = current_context


@dataclass(frozen=True, slots=True)
class ScopeConfig:
    """What a :func:`scoped` block changes.

    ``allowlist=None`` keeps the parent's; otherwise the parent's non-empty
    allowlist is intersected with it (a scope can only narrow), and an empty parent
    takes it as the new base. An empty intersection permits nothing (it never
    widens to the permissive default). Hooks are appended; ``timeout`` replaces the
    default.

    ``fail_closed=True``: from this scope down, an empty allowlist permits nothing
    (``ScopeConfig(allowlist=frozenset(), fail_closed=True)`` runs no program at all);
    it cannot be switched off further down. ``allow_loader_env``: ``True`` lets env
    overlays set loader variables (``LD_PRELOAD``, ``LD_LIBRARY_PATH``, ...), ``False``
    refuses them again, ``None`` keeps the parent's choice (refused at the root).
    """

    allowlist: frozenset[Program] | None = None
    before_hooks: tuple[BeforeHook, ...] = ()
    after_hooks: tuple[AfterHook, ...] = ()
    observe_hooks: tuple[ObserveHook, ...] = ()
    timeout: float | None = None
    fail_closed: bool = False
    allow_loader_env: bool | None = None

    def __post_init__(self) -> None:
        if self.allowlist is not None:  # a lone str would be a set of its characters
            object.__setattr__(self, "allowlist", _programs("ScopeConfig", self.allowlist))
        for kind in ("before_hooks", "after_hooks", "observe_hooks"):
            hooks = getattr(self, kind)
            if callable(hooks) or isinstance(hooks, str) or not isinstance(hooks, Iterable):
                raise TypeError(f"ScopeConfig.{kind} must be a tuple of hooks, got {hooks!r}")
            object.__setattr__(self, kind, tuple(_hook(f"ScopeConfig.{kind}", h) for h in hooks))


def _programs(owner: str, value: object) -> frozenset[Program]:
    """An allowlist as a frozenset of programs; a ``str`` (``"echo"`` would be its
    letters) or anything else that is not a collection of them is refused."""
    if not isinstance(value, str | bytes) and isinstance(value, Iterable):
        programs = frozenset(value)
        if all(isinstance(program, str) for program in programs):
            return programs
    raise InvalidArgumentError(
        f"{owner}: allowlist must be a collection of programs (frozenset([ECHO])), "
        f"got {value!r} ({type(value).__name__})"
    )


def _hook(where: str, hook: Any) -> Any:
    """``hook``, refused at registration (not at the next run) unless callable."""
    if not callable(hook):
        raise TypeError(f"{where}: a hook must be callable, got {hook!r}")
    return hook


def _narrow(parent: CuprumContext, config: ScopeConfig) -> CuprumContext:
    allowlist, enforced = parent.allowlist, parent.enforced or config.fail_closed
    if config.allowlist is not None:
        if parent.allowlist or parent.enforced:
            allowlist, enforced = parent.allowlist & frozenset(config.allowlist), True
        else:
            allowlist = frozenset(config.allowlist)
    loader = config.allow_loader_env
    return CuprumContext(
        allowlist=allowlist,
        before_hooks=parent.before_hooks + tuple(config.before_hooks),
        after_hooks=parent.after_hooks + tuple(config.after_hooks),
        observe_hooks=parent.observe_hooks + tuple(config.observe_hooks),
        timeout=config.timeout if config.timeout is not None else parent.timeout,
        enforced=enforced,
        allow_loader_env=parent.allow_loader_env if loader is None else loader,
    )


@contextmanager
def scoped(config: ScopeConfig | None = None, **legacy: Any) -> Iterator[CuprumContext]:
    """Run a block under a narrowed context; the parent is restored on exit.

    ``scoped(allowlist=..., timeout=...)`` (the pre-0.2 keyword form) still works
    but warns: pass a :class:`ScopeConfig`.
    """
    if legacy:
        if config is not None:
            raise TypeError("scoped() takes a ScopeConfig or legacy keywords, not both")
        warnings.warn(
            "scoped(allowlist=...) is deprecated; use scoped(ScopeConfig(allowlist=...))",
            DeprecationWarning,
            stacklevel=3,
        )
        config = ScopeConfig(**legacy)  # it takes any collection of programs
    if config is not None and not isinstance(config, ScopeConfig):
        raise TypeError(f"scoped() takes a ScopeConfig, got {config!r}")
    live = _LIVE.get()
    new = _narrow(_CURRENT.get(), config or ScopeConfig())
    token = _CURRENT.set(new)
    try:
        yield new
    finally:
        inside = _LIVE.get()
        _CURRENT.reset(token)
        if inside is not live:
            _restore_live(live, inside)


def _restore_live(live: tuple[_Registration, ...], inside: tuple[_Registration, ...]) -> None:
    """On a scope's exit: the parent's registrations, less those detached inside the
    block (undone in the restored parent too); those made inside end with it."""
    kept = {id(registration) for registration in inside}
    gone = [registration for registration in live if id(registration) not in kept]
    _LIVE.set(tuple(registration for registration in live if id(registration) in kept))
    if gone:  # undone with the parent's remaining registrations live
        ctx = _CURRENT.get()
        for registration in reversed(gone):
            ctx = registration._undo(ctx)
        _CURRENT.set(ctx)


class _Registration:
    """A change to the current context that can be undone, or used with ``with``."""

    __slots__ = ()

    def _made(self, ctx: CuprumContext) -> None:
        """Put ``ctx`` (the context with the change) in force, the registration live."""
        _CURRENT.set(ctx)
        _LIVE.set((*_LIVE.get(), self))

    def detach(self) -> None:
        """Undo the registration in the current context, and in the enclosing scopes up
        to the one it was made in as they exit; where it is not live (detached already,
        its scope exited, another thread) nothing happens."""
        live = _LIVE.get()
        if any(registration is self for registration in live):
            _LIVE.set(tuple(registration for registration in live if registration is not self))
            _CURRENT.set(self._undo(_CURRENT.get()))

    def _undo(self, ctx: CuprumContext) -> CuprumContext:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.detach()


class AllowRegistration(_Registration):
    """Handle returned by :func:`allow`; ``detach()`` removes what it added, but what
    another live ``allow()`` added too (each registration keeps its own grant)."""

    __slots__ = ("added",)

    def __init__(self, added: frozenset[Program]) -> None:
        self.added: frozenset[Program] = added

    def _undo(self, ctx: CuprumContext) -> CuprumContext:
        return replace(ctx, allowlist=ctx.allowlist - (self.added - _granted(self)))


def _granted(but: object = None) -> frozenset[Program]:
    """What the live ``allow()`` registrations (other than ``but``) added to the list."""
    live = (r for r in _LIVE.get() if isinstance(r, AllowRegistration) and r is not but)
    return frozenset().union(*(registration.added for registration in live))


def allow(*programs: Program) -> AllowRegistration:
    """Add programs to the current context's allowlist until detached.

    Note: on an empty (permissive) allowlist this makes the list non-empty, so
    only the added programs are then permitted.
    """
    for program in programs:
        if not isinstance(program, str):
            raise TypeError(f"allow(): a program is a str, got {program!r}")
    ctx = _CURRENT.get()
    added = frozenset(programs) - (ctx.allowlist - _granted())
    registration = AllowRegistration(added)
    registration._made(replace(ctx, allowlist=ctx.allowlist | added))
    return registration


HookKind = Literal["before_hooks", "after_hooks", "observe_hooks"]


def _without(hooks: tuple[Any, ...], hook: object) -> tuple[Any, ...]:
    for index in range(len(hooks) - 1, -1, -1):
        if hooks[index] is hook:
            return hooks[:index] + hooks[index + 1 :]
    return hooks


class HookRegistration(_Registration):
    """Handle returned by :func:`before`, :func:`after` and :func:`observe`."""

    __slots__ = ("hooks",)

    def __init__(self, hooks: Iterable[tuple[HookKind, object]]) -> None:
        self.hooks: tuple[tuple[HookKind, object], ...] = tuple(hooks)

    def _undo(self, ctx: CuprumContext) -> CuprumContext:
        for kind, hook in self.hooks:
            ctx = _with_hooks(ctx, kind, _without(getattr(ctx, kind), hook))
        return ctx


def _with_hooks(ctx: CuprumContext, kind: HookKind, hooks: tuple[Any, ...]) -> CuprumContext:
    if kind == "before_hooks":
        return replace(ctx, before_hooks=hooks)
    if kind == "after_hooks":
        return replace(ctx, after_hooks=hooks)
    return replace(ctx, observe_hooks=hooks)


def register_hooks(*hooks: tuple[HookKind, object]) -> HookRegistration:
    """Append hooks to the current context; shared by before/after/observe/logging_hook."""
    ctx = _CURRENT.get()
    for kind, hook in hooks:
        checked = _hook(f"{kind.removesuffix('_hooks')}()", hook)
        ctx = _with_hooks(ctx, kind, (*getattr(ctx, kind), checked))
    registration = HookRegistration(hooks)
    registration._made(ctx)
    return registration


def before(hook: BeforeHook) -> HookRegistration:
    """Register a hook called with each command before it starts (FIFO order)."""
    return register_hooks(("before_hooks", hook))


def after(hook: AfterHook) -> HookRegistration:
    """Register a hook called with each command and its result (LIFO order)."""
    return register_hooks(("after_hooks", hook))


def observe(*hooks: ObserveHook) -> HookRegistration:
    """Register hooks that each receive every :class:`ExecEvent`, in the order given.

    One registration for all of them: ``with observe(metrics, tracing):`` or one
    ``detach()`` removes them together.
    """
    return register_hooks(*(("observe_hooks", hook) for hook in hooks))


class _BatchesOnly:
    """A batch hook registered on its own: lines in batches, no other event."""

    __slots__ = ("on_lines",)

    def __init__(self, hook: BatchHook) -> None:
        self.on_lines = hook

    def __call__(self, event: ExecEvent, /) -> None:
        """Not a line: nothing to do."""


def observe_batches(*hooks: BatchHook) -> HookRegistration:
    """Register hooks that each receive every output line in :class:`~cuprum.LineBatch` es.

    The counterpart of :func:`observe` for counters and batching loggers: one call
    per read of a stream instead of one event per line, and no other event.
    """
    wrapped = (_BatchesOnly(_hook("observe_batches()", hook)) for hook in hooks)
    return register_hooks(*(("observe_hooks", hook) for hook in wrapped))
