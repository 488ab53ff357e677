"""The shape of a command as the runtime sees it (``SafeCmd`` satisfies it)."""

from __future__ import annotations

from typing import Protocol

from cuprum._core.catalogue import ProjectSettings
from cuprum._core.programs import Program

__all__ = ["CommandSpec"]


class CommandSpec(Protocol):
    """An allowlisted program with its full argv and owning project."""

    @property
    def program(self) -> Program: ...

    @property
    def argv_with_program(self) -> tuple[str, ...]: ...

    @property
    def project(self) -> ProjectSettings: ...
