"""cuprum: run external programs safely and fast.

Programs come from a typed, allowlisted catalogue; commands are built by typed
builders, never shell strings; runs, pipelines and ``run_concurrent`` use anyio,
so the same code serves asyncio and trio. See ``docs/users-guide.md``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from cuprum import sh
from cuprum._api.command import Pipeline, SafeCmd, SafeCmdBuilder
from cuprum._core.catalogue import (
    CAT,
    CP,
    DEFAULT_CATALOGUE,
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
    ProgramCatalogue,
    ProgramEntry,
    ProjectSettings,
)
from cuprum._core.context import (
    AllowRegistration,
    CuprumContext,
    HookRegistration,
    ScopeConfig,
    after,
    allow,
    before,
    current_context,
    get_context,
    observe,
    scoped,
)
from cuprum._core.errors import (
    CuprumError,
    ForbiddenProgramError,
    InvalidArgumentError,
    ProgramNotFoundError,
    SpawnError,
    TimeoutExpired,
    UnknownProgramError,
    WorkingDirectoryError,
)
from cuprum._core.events import ExecEvent
from cuprum._core.logging_hook import logging_hook
from cuprum._model.execution import ExecutionContext
from cuprum._model.io import DEVNULL, INHERIT, PIPE, STDOUT, AppendTo
from cuprum._model.results import (
    CommandFailedError,
    CommandResult,
    ConcurrentResult,
    PipelineResult,
)
from cuprum._runtime.streams import CaptureLimitExceeded
from cuprum._transport.dispatch import StreamBackendError

__version__ = "0.3.0"

if TYPE_CHECKING:
    from cuprum._compose.concurrent import ConcurrentConfig, run_concurrent, run_concurrent_sync
    from cuprum._compose.streaming import StreamHandle

# Names whose modules import anyio: loaded on first access (PEP 562), so that
# `import cuprum` does not pay for the event loop machinery until it is used.
_LAZY = {
    "ConcurrentConfig": "cuprum._compose.concurrent",
    "run_concurrent": "cuprum._compose.concurrent",
    "run_concurrent_sync": "cuprum._compose.concurrent",
    "StreamHandle": "cuprum._compose.streaming",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'cuprum' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def is_rust_available() -> bool:
    """Whether the optional native extension is installed; never raises."""
    try:
        from cuprum._rust_backend import is_available

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
    "AllowRegistration",
    "AppendTo",
    "CaptureLimitExceeded",
    "CommandFailedError",
    "CommandResult",
    "ConcurrentConfig",
    "ConcurrentResult",
    "CuprumContext",
    "CuprumError",
    "ExecEvent",
    "ExecutionContext",
    "ForbiddenProgramError",
    "HookRegistration",
    "InvalidArgumentError",
    "Pipeline",
    "PipelineResult",
    "Program",
    "ProgramCatalogue",
    "ProgramEntry",
    "ProgramNotFoundError",
    "ProjectSettings",
    "SafeCmd",
    "SafeCmdBuilder",
    "ScopeConfig",
    "SpawnError",
    "StreamBackendError",
    "StreamHandle",
    "TimeoutExpired",
    "UnknownProgramError",
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
    "run_concurrent",
    "run_concurrent_sync",
    "scoped",
    "sh",
]
