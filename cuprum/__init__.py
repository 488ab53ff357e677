"""cuprum: run external programs safely and fast.

Programs come from a typed, allowlisted catalogue; commands are built by typed
builders, never shell strings; runs, pipelines and ``run_concurrent`` use anyio,
so the same code serves asyncio and trio. See ``docs/users-guide.md``.

Only the program constants and the exceptions are imported eagerly; every other
public name is loaded from its module on first access (PEP 562), so ``import
cuprum`` stays cheap for tools that may never run a command.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from cuprum._core.errors import (
    CaptureLimitExceeded,
    CommandFailedError,
    CuprumError,
    ExpectEOF,
    ExpectError,
    ExpectTimeout,
    ForbiddenProgramError,
    HostKeyError,
    InterpreterNotFoundError,
    InvalidArgumentError,
    NativeUnavailableError,
    ProgramNotExecutableError,
    ProgramNotFoundError,
    RemoteAuthError,
    RemoteConnectError,
    RemoteError,
    RemoteTimeoutError,
    SpawnArgumentError,
    SpawnError,
    StdinEncodeError,
    StreamBackendError,
    StreamClosedError,
    TimeoutExpired,
    UnknownProgramError,
    UntrustedProgramError,
    WorkingDirectoryAccessError,
    WorkingDirectoryError,
)
from cuprum._core.programs import (
    CAT,
    CP,
    ECHO,
    FALSE,
    FIND,
    GIT,
    GREP,
    HEAD,
    LS,
    MKDIR,
    MV,
    RM,
    RSYNC,
    SLEEP,
    SORT,
    TAIL,
    TAR,
    TRUE,
    WC,
    Program,
)

if TYPE_CHECKING:
    from cuprum import sh
    from cuprum._api.arguments import Arg
    from cuprum._api.command import Pipeline, SafeCmd, SafeCmdBuilder
    from cuprum._compose.concurrent import ConcurrentConfig, run_concurrent, run_concurrent_sync
    from cuprum._compose.expect import ExpectMatch
    from cuprum._compose.streaming import StreamHandle
    from cuprum._core.catalogue import (
        DEFAULT_CATALOGUE,
        ProgramCatalogue,
        ProgramEntry,
        ProjectSettings,
    )
    from cuprum._core.context import (
        LOADER_ENV_NAMES,
        LOADER_ENV_PREFIXES,
        AfterHook,
        AllowRegistration,
        BeforeHook,
        CuprumContext,
        HookRegistration,
        ScopeConfig,
        after,
        allow,
        before,
        current_context,
        get_context,
        observe,
        observe_batches,
        scoped,
    )
    from cuprum._core.events import ExecEvent, LineBatch, LineBatchObserver
    from cuprum._core.logging_hook import logging_hook
    from cuprum._core.pinning import FileIdentity, Pin
    from cuprum._core.results import CommandResult, ConcurrentResult, PipelineResult
    from cuprum._core.secret import Secret
    from cuprum._core.spec import CommandSpec
    from cuprum._core.usage import ResourceUsage
    from cuprum._model.execution import ExecutionContext
    from cuprum._model.io import DEVNULL, INHERIT, PIPE, STDOUT, AppendTo
    from cuprum._model.limits import Limits
    from cuprum._model.terminal import Terminal
    from cuprum._runtime.request import RunOptions
    from cuprum._runtime.shutdown import shutdown_on_signals

__version__ = "0.3.0"

_LAZY_MODULES = {
    "cuprum._api.arguments": ("Arg",),
    "cuprum._api.command": ("Pipeline", "SafeCmd", "SafeCmdBuilder"),
    "cuprum._compose.concurrent": ("ConcurrentConfig", "run_concurrent", "run_concurrent_sync"),
    "cuprum._compose.expect": ("ExpectMatch",),
    "cuprum._compose.streaming": ("StreamHandle",),
    "cuprum._core.catalogue": (
        "DEFAULT_CATALOGUE",
        "ProgramCatalogue",
        "ProgramEntry",
        "ProjectSettings",
    ),
    "cuprum._core.context": (
        "AfterHook",
        "LOADER_ENV_NAMES",
        "LOADER_ENV_PREFIXES",
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
        "observe",
        "observe_batches",
        "scoped",
    ),
    "cuprum._core.events": ("ExecEvent", "LineBatch", "LineBatchObserver"),
    "cuprum._core.logging_hook": ("logging_hook",),
    "cuprum._core.pinning": ("FileIdentity", "Pin"),
    "cuprum._core.results": ("CommandResult", "ConcurrentResult", "PipelineResult"),
    "cuprum._core.secret": ("Secret",),
    "cuprum._core.spec": ("CommandSpec",),
    "cuprum._model.execution": ("ExecutionContext",),
    "cuprum._model.io": ("DEVNULL", "INHERIT", "PIPE", "STDOUT", "AppendTo"),
    "cuprum._model.terminal": ("Terminal",),
    "cuprum._runtime.request": ("RunOptions",),
    # containment
    "cuprum._core.usage": ("ResourceUsage",),
    "cuprum._model.limits": ("Limits",),
    "cuprum._runtime.shutdown": ("shutdown_on_signals",),
}
_LAZY = {name: module for module, names in _LAZY_MODULES.items() for name in names}


def __getattr__(name: str) -> Any:
    if name == "sh":
        value: Any = importlib.import_module("cuprum.sh")
    elif name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    else:
        raise AttributeError(f"module 'cuprum' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def is_rust_available() -> bool:
    """Whether the optional native extension is installed; never raises."""
    try:
        from cuprum._transport.native import is_available

        return is_available()
    except Exception:
        return False


__all__ = [
    "CAT",
    "CP",
    "DEFAULT_CATALOGUE",
    "DEVNULL",
    "ECHO",
    "FALSE",
    "FIND",
    "GIT",
    "GREP",
    "HEAD",
    "INHERIT",
    "LOADER_ENV_NAMES",
    "LOADER_ENV_PREFIXES",
    "PIPE",
    "LS",
    "MKDIR",
    "MV",
    "RM",
    "RSYNC",
    "SLEEP",
    "SORT",
    "STDOUT",
    "TAIL",
    "TAR",
    "TRUE",
    "WC",
    "AfterHook",
    "AllowRegistration",
    "AppendTo",
    "Arg",
    "BeforeHook",
    "CaptureLimitExceeded",
    "CommandFailedError",
    "CommandResult",
    "CommandSpec",
    "ConcurrentConfig",
    "ConcurrentResult",
    "CuprumContext",
    "CuprumError",
    "ExecEvent",
    "ExecutionContext",
    "ExpectEOF",
    "ExpectError",
    "ExpectMatch",
    "ExpectTimeout",
    "FileIdentity",
    "ForbiddenProgramError",
    "HostKeyError",
    "HookRegistration",
    "InterpreterNotFoundError",
    "InvalidArgumentError",
    "Limits",
    "LineBatch",
    "LineBatchObserver",
    "NativeUnavailableError",
    "Pin",
    "Pipeline",
    "PipelineResult",
    "Program",
    "ProgramCatalogue",
    "ProgramEntry",
    "ProgramNotExecutableError",
    "ProgramNotFoundError",
    "RemoteAuthError",
    "RemoteConnectError",
    "RemoteError",
    "RemoteTimeoutError",
    "ProjectSettings",
    "RunOptions",
    "ResourceUsage",
    "SafeCmd",
    "SafeCmdBuilder",
    "ScopeConfig",
    "Secret",
    "SpawnArgumentError",
    "SpawnError",
    "StdinEncodeError",
    "StreamBackendError",
    "StreamClosedError",
    "StreamHandle",
    "Terminal",
    "TimeoutExpired",
    "UnknownProgramError",
    "UntrustedProgramError",
    "WorkingDirectoryAccessError",
    "WorkingDirectoryError",
    "__version__",
    "after",
    "allow",
    "before",
    "current_context",
    "get_context",
    "is_rust_available",
    "logging_hook",
    "observe",
    "observe_batches",
    "run_concurrent",
    "run_concurrent_sync",
    "scoped",
    "sh",
    "shutdown_on_signals",
]
