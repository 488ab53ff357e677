"""``CommandSpec``: a command as the runtime and the hooks see it (``SafeCmd`` is one).

A protocol in the bottom layer, so the engine can run commands and
:mod:`cuprum._core.context` can type its hooks without knowing the front door's
command classes.
"""

from __future__ import annotations

from typing import Protocol

from cuprum._core.catalogue import ProjectSettings
from cuprum._core.programs import Program

__all__ = ["CommandSpec"]


class CommandSpec(Protocol):
    """An allowlisted program with its arguments and owning project."""

    @property
    def program(self) -> Program:
        """The program to run (a catalogue name or a path)."""
        ...

    @property
    def argv(self) -> tuple[str, ...]:
        """The arguments, without the program."""
        ...

    @property
    def argv_with_program(self) -> tuple[str, ...]:
        """``(program, *argv)``: what the operating system receives."""
        ...

    @property
    def project(self) -> ProjectSettings:
        """The catalogue project that owns the program."""
        ...
