"""The command-building namespace: ``sh.make(PROGRAM)(*args)`` and ``sh.observe(hook)``."""

from __future__ import annotations

from cuprum._api.command import Pipeline, SafeCmd, SafeCmdBuilder, make
from cuprum._core.context import observe, observe_batches
from cuprum._core.events import ExecEvent, LineBatch
from cuprum._core.results import CommandResult, PipelineResult
from cuprum._model.execution import ExecutionContext

__all__ = [
    "CommandResult",
    "ExecEvent",
    "ExecutionContext",
    "LineBatch",
    "Pipeline",
    "PipelineResult",
    "SafeCmd",
    "SafeCmdBuilder",
    "make",
    "observe",
    "observe_batches",
]
