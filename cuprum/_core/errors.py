"""The exceptions cuprum raises. Every message names the program involved."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

__all__ = [
    "CuprumError",
    "ForbiddenProgramError",
    "InterpreterNotFoundError",
    "InvalidArgumentError",
    "ProgramNotExecutableError",
    "ProgramNotFoundError",
    "SpawnArgumentError",
    "SpawnError",
    "TimeoutExpired",
    "UnknownProgramError",
    "WorkingDirectoryAccessError",
    "WorkingDirectoryError",
]


class CuprumError(Exception):
    """Base class of cuprum's own errors."""


class UnknownProgramError(CuprumError, LookupError):
    """The program is not in the catalogue being consulted."""


class ForbiddenProgramError(CuprumError, PermissionError):
    """The current context's allowlist does not permit the program."""


class InvalidArgumentError(CuprumError, ValueError):
    """An argument cannot be passed to a program (``None``, NUL bytes, ...)."""


class SpawnError(CuprumError, OSError):
    """The operating system refused to start the program."""


class ProgramNotFoundError(SpawnError, FileNotFoundError):
    """The program was not found on ``PATH`` (or at the given path)."""


class WorkingDirectoryError(SpawnError, FileNotFoundError):
    """The working directory requested for the program does not exist."""


class TimeoutExpired(subprocess.TimeoutExpired, CuprumError):
    """A run outlived its timeout; carries whatever output was captured before it.

    Subclasses :class:`subprocess.TimeoutExpired`, so ``except
    subprocess.TimeoutExpired`` catches it. ``output``/``stdout`` and ``stderr`` are
    decoded like a result's (``bytes`` when bytes were asked for, ``None`` when not
    captured).
    """

    def __init__(
        self,
        cmd: Sequence[str],
        timeout: float,
        output: str | bytes | None = None,
        stderr: str | bytes | None = None,
    ) -> None:
        super().__init__(list(cmd), timeout, output, stderr)

    def __str__(self) -> str:
        program = self.cmd[0] if self.cmd else "?"
        return f"{program}: command {self.cmd!r} timed out after {self.timeout} seconds"


class ProgramNotExecutableError(SpawnError, PermissionError):
    """The program exists but cannot be executed: no execute permission, a directory,
    or a ``#!`` interpreter that cannot be executed."""


class InterpreterNotFoundError(ProgramNotFoundError):
    """The program is a script whose ``#!`` interpreter does not exist."""


class WorkingDirectoryAccessError(SpawnError, PermissionError):
    """The working directory exists but the program may not enter it."""


class SpawnArgumentError(SpawnError, ValueError):
    """The start was refused for what it was given: an environment variable name with
    ``=``, a NUL byte, a string the file system encoding cannot encode."""
