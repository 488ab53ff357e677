"""Old home of the result types; they live in :mod:`cuprum._core.results` now."""

from __future__ import annotations

from cuprum._core.errors import CommandFailedError
from cuprum._core.results import (
    CommandResult,
    ConcurrentResult,
    Outcome,
    PipelineResult,
)

__all__ = [
    "CommandFailedError",
    "CommandResult",
    "ConcurrentResult",
    "Outcome",
    "PipelineResult",
]
