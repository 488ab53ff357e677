"""Every exception cuprum raises, in one module. Each message names the program involved.

The hierarchy (a standard base in brackets: ``except`` that base catches it too)::

    CuprumError
    ├── UnknownProgramError         [LookupError]       not in the catalogue consulted
    ├── ForbiddenProgramError       [PermissionError]   the scope's allowlist refuses it
    ├── InvalidArgumentError        [ValueError]        a value cannot be passed to a program
    │   └── StdinEncodeError        [UnicodeEncodeError]    stdin text the encoding cannot encode
    ├── SpawnError                  [OSError]           the OS refused to start the program
    │   ├── ProgramNotFoundError    [FileNotFoundError]
    │   │   └── InterpreterNotFoundError                 its #! interpreter is missing
    │   ├── ProgramNotExecutableError   [PermissionError]   no exec bit, a directory
    │   ├── UntrustedProgramError                       not the file pinned or trusted
    │   ├── WorkingDirectoryError   [FileNotFoundError]
    │   ├── WorkingDirectoryAccessError [PermissionError]   cwd exists but cannot be entered
    │   └── SpawnArgumentError      [ValueError]        the OS refused a value (env, NUL)
    ├── CommandFailedError          [subprocess.CalledProcessError]   check=True, non-zero exit
    ├── TimeoutExpired              [subprocess.TimeoutExpired]       the deadline passed
    ├── CaptureLimitExceeded                            on_limit="raise" and a stream overflowed
    ├── StreamBackendError          [RuntimeError]      the stream strategy asked for is unusable
    ├── StreamClosedError           [RuntimeError]      a stream handle's stdin or block is closed
    ├── ExpectError                                     a conversation's expect() did not match
    │   ├── ExpectTimeout           [TimeoutError]      no pattern matched before its timeout
    │   └── ExpectEOF               [EOFError]          the output ended before any matched
    ├── NativeUnavailableError      [ImportError]       the native extension cannot be imported
    └── RemoteError                 [ConnectionError]   ssh could not reach or use a host
        ├── RemoteConnectError                          refused, unreachable, unknown name, lost
        ├── RemoteTimeoutError      [TimeoutError]      no connection within connect_timeout
        ├── RemoteAuthError         [PermissionError]   the server refused every key
        └── HostKeyError                                the host key is unknown or changed

Each is re-exported by ``cuprum`` (the ``Remote*`` family and ``HostKeyError`` by
``cuprum.remote`` too) and by the module that raised it before this one
existed (``cuprum._model.results``, ``cuprum._runtime.streams``, ...). This module
is the bottom layer: it imports only the base (:mod:`cuprum._core.error_base`, which
says how every error copies and pickles), the remote and expect errors of its own
modules (re-exported here) and :mod:`cuprum._core.secret` (to keep secrets out of
messages), so any layer may raise these.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Sequence
from typing import Any

from cuprum._core.error_base import CuprumError, args_repr, redacted
from cuprum._core.expect_errors import ExpectEOF, ExpectError, ExpectTimeout
from cuprum._core.remote_errors import (
    HostKeyError,
    RemoteAuthError,
    RemoteConnectError,
    RemoteError,
    RemoteTimeoutError,
)
from cuprum._core.secret import Secret, redact

__all__ = [
    "CaptureLimitExceeded",
    "CommandFailedError",
    "CuprumError",
    "ExpectEOF",
    "ExpectError",
    "ExpectTimeout",
    "ForbiddenProgramError",
    "HostKeyError",
    "InterpreterNotFoundError",
    "InvalidArgumentError",
    "NativeUnavailableError",
    "ProgramNotExecutableError",
    "ProgramNotFoundError",
    "RemoteAuthError",
    "RemoteConnectError",
    "RemoteError",
    "RemoteTimeoutError",
    "SpawnArgumentError",
    "SpawnError",
    "StdinEncodeError",
    "StreamBackendError",
    "StreamClosedError",
    "TimeoutExpired",
    "UnknownProgramError",
    "UntrustedProgramError",
    "WorkingDirectoryAccessError",
    "WorkingDirectoryError",
]


class UnknownProgramError(CuprumError, LookupError):
    """The program is not in the catalogue being consulted."""


class ForbiddenProgramError(CuprumError, PermissionError):
    """The current context's allowlist does not permit the program; ``program`` names
    it, and the message starts with it (``rm: not allowed ...``).

    The one-argument form of earlier versions, ``ForbiddenProgramError("rm: not
    allowed")``, still works: the whole text is the message, ``program`` the part
    before its first ``": "`` (``None`` without one)."""

    program: str | None

    def __init__(self, program: str, message: str | None = None) -> None:
        if message is None:
            super().__init__(program)
            name, colon, _ = program.partition(": ")
            self.program = name if colon else None
            self._keep_args(program)
        else:
            super().__init__(f"{program}: {message}")
            self.program = program
            self._keep_args(program, message)


class InvalidArgumentError(CuprumError, ValueError):
    """An argument cannot be passed to a program (``None``, NUL bytes, ...)."""


class StdinEncodeError(InvalidArgumentError, UnicodeEncodeError):
    """Text for stdin that the context's encoding cannot encode, worded with the
    program and the parameter; also the ``UnicodeEncodeError`` that
    ``subprocess.run(input=...)`` raises. A secret's text is in neither its message
    nor its ``object`` (which is then empty)."""

    def __init__(self, message: str, fields: tuple[str, str, int, int, str]) -> None:
        """``fields``: UnicodeEncodeError's (encoding, object, start, end, reason)."""
        UnicodeEncodeError.__init__(self, *fields)
        self.args: tuple[object, ...] = (message,)
        self._keep_args(message, tuple(fields))

    def __str__(self) -> str:
        return str(self.args[0])


class SpawnError(CuprumError, OSError):
    """The operating system refused to start the program."""


class ProgramNotFoundError(SpawnError, FileNotFoundError):
    """The program was not found on ``PATH`` (or at the given path)."""


class WorkingDirectoryError(SpawnError, FileNotFoundError):
    """The working directory requested for the program does not exist."""


class CommandFailedError(subprocess.CalledProcessError, CuprumError):
    """Raised by ``check=True`` / ``CommandResult.check()`` for a non-zero exit.

    A :class:`subprocess.CalledProcessError`: ``returncode``, ``cmd``, ``output``
    (alias ``stdout``) and ``stderr`` are set. ``program`` names the program that
    failed and ``stage_index`` its stage in a pipeline (``None`` for one command).
    For a pipeline, ``cmd`` is the whole pipeline (stages joined by ``"|"``) while
    ``returncode`` and ``stderr`` are the failing stage's and ``output`` the final
    stdout, as ``PipelineResult`` has them.
    ``cmd`` shows secrets as ``***``, and the message (which quotes the last line of
    stderr, ``bytes`` decoded as UTF-8 with ``errors="replace"``) has the value of
    each of the run's ``secrets`` replaced by ``***``; the ``stderr`` attribute keeps
    what the program wrote, as the result does.
    """

    def __init__(
        self,
        returncode: int,
        cmd: Sequence[str],
        output: str | bytes | None = None,
        stderr: str | bytes | None = None,
        *,
        program: str | None = None,
        stage_index: int | None = None,
        secrets: tuple[Secret[Any], ...] = (),
    ) -> None:
        super().__init__(returncode, list(cmd), output, stderr)
        self.program: str = program if program is not None else _first(self.cmd)
        self.stage_index = stage_index
        self.secrets = secrets
        self._keep_args(
            returncode,
            self.cmd,
            output,
            stderr,
            program=program,
            stage_index=stage_index,
            secrets=secrets,
        )

    def __str__(self) -> str:
        secrets = getattr(self, "secrets", ())
        cmd = redacted(self.cmd, secrets)  # before its repr, which escapes what it shows
        status = _status(self.returncode)
        if self.stage_index is None:  # worded as subprocess.CalledProcessError words it
            detail = f"Command '{cmd}' {status}."
        else:
            detail = f"stage {self.stage_index} of pipeline {cmd!r} {status}."
        stderr = self.stderr
        if isinstance(stderr, bytes):
            stderr = stderr.decode("utf-8", "replace")
        if isinstance(stderr, str) and stderr.strip():
            tail = redact(stderr, secrets).strip().splitlines()[-1][:200]
            detail = f"{detail} (stderr: {tail})"
        return redact(f"{self.program}: {detail}", secrets)

    def __repr__(self) -> str:
        return args_repr(self, getattr(self, "secrets", ()))


def _first(cmd: object) -> str:
    """The program of a ``cmd`` given as a list (``"?"`` when there is none)."""
    return str(cmd[0]) if isinstance(cmd, list | tuple) and cmd else "?"


def _status(returncode: int) -> str:
    """How a process ended, worded as ``subprocess.CalledProcessError`` words it."""
    if returncode >= 0:
        return f"returned non-zero exit status {returncode}"
    try:
        return f"died with {signal.Signals(-returncode)!r}"
    except ValueError:
        return f"died with unknown signal {-returncode}"


class CaptureLimitExceeded(CuprumError):
    """A stream produced more than ``capture_limit`` bytes and ``on_limit="raise"``.

    ``captured`` holds the first ``limit`` bytes (decoded like a result). Like a
    result's output (and ``TimeoutExpired.output``) it keeps what the program wrote,
    secrets included; the message and ``repr()`` hide the value of each of the run's
    ``secrets``, and a pickle holds ``captured`` with each of them as ``***``.
    """

    def __init__(
        self,
        program: str,
        stream: str,
        limit: int,
        captured: str | bytes,
        *,
        secrets: tuple[Secret[Any], ...] = (),
    ) -> None:
        super().__init__(f"{program}: {stream} exceeded the capture limit of {limit} bytes")
        self.program = program
        self.stream = stream
        self.limit = limit
        self.captured = captured
        self.secrets = secrets
        self._keep_args(program, stream, limit, captured, secrets=secrets)

    def __str__(self) -> str:
        return redact(super().__str__(), getattr(self, "secrets", ()))

    def __repr__(self) -> str:
        return args_repr(self, getattr(self, "secrets", ()))


class StreamBackendError(CuprumError, RuntimeError):
    """The stream strategy asked for cannot be used here."""


class StreamClosedError(CuprumError, RuntimeError):
    """A stream handle was asked to use what is already closed: ``write()`` (``send()``,
    ``sendline()``) once its stdin is closed (by ``close_stdin()`` or ``wait()``), or a
    read, a send or an ``expect()`` once its ``async with`` block has exited (only
    ``wait()`` and ``pids`` still answer then). ``program`` names the program."""

    def __init__(self, program: str, message: str) -> None:
        super().__init__(f"{program}: {message}")
        self.program = program
        self._keep_args(program, message)


class NativeUnavailableError(CuprumError, ImportError):
    """The native extension ``cuprum._streams_rs`` cannot be imported."""


class TimeoutExpired(subprocess.TimeoutExpired, CuprumError):
    """A run outlived its timeout; carries whatever output was captured before it.

    Subclasses :class:`subprocess.TimeoutExpired`, so ``except
    subprocess.TimeoutExpired`` catches it. ``output``/``stdout`` and ``stderr`` are
    decoded like a result's (``bytes`` when bytes were asked for, or where
    ``errors="strict"`` cannot decode them; ``None`` when not captured). For a
    pipeline ``cmd`` is the whole pipeline and the output is the final stage's;
    ``running`` lists the stages still running when the deadline passed, and
    ``program`` / ``stage_index`` name the most upstream of them (``stage_index`` is
    ``None`` for one command).
    Secrets are included in the output; ``cmd`` shows them as ``***``, and
    ``repr()`` hides the value of each of the run's ``secrets``.
    """

    def __init__(
        self,
        cmd: Sequence[str],
        timeout: float,
        output: str | bytes | None = None,
        stderr: str | bytes | None = None,
        *,
        program: str | None = None,
        stage_index: int | None = None,
        running: Sequence[int] = (),
        secrets: tuple[Secret[Any], ...] = (),
    ) -> None:
        super().__init__(list(cmd), timeout, output, stderr)
        self.program: str = program if program is not None else _first(self.cmd)
        self.stage_index = stage_index
        self.running: tuple[int, ...] = tuple(running)
        self.secrets = secrets
        self._keep_args(
            self.cmd,
            timeout,
            output,
            stderr,
            program=program,
            stage_index=stage_index,
            running=self.running,
            secrets=secrets,
        )

    def __str__(self) -> str:
        cmd = redacted(self.cmd, getattr(self, "secrets", ()))
        if self.stage_index is None:
            return f"{self.program}: command {cmd!r} timed out after {self.timeout} seconds"
        text = f"{self.program}: pipeline {cmd!r} timed out after {self.timeout} seconds"
        if not self.running:
            return f"{text} with no stage still running"
        text = f"{text} while stage {self.stage_index} was still running"
        if len(self.running) > 1:
            text += f" (still running: stages {', '.join(map(str, self.running))})"
        return text

    def __repr__(self) -> str:
        return args_repr(self, getattr(self, "secrets", ()))


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


class UntrustedProgramError(SpawnError):
    """cuprum refused to run the file: it is not the one pinned or trusted.

    The pinned file changed and its project refuses changes (``on_change="refuse"``),
    its content does not match the project's pinned sha256, or it can be written by
    others. ``program``, ``path`` and ``reason`` (what changed, or why it is not
    trusted) say which; the message names all three.
    """

    def __init__(self, program: str, path: str, reason: str, message: str) -> None:
        super().__init__(message)
        self.program = program
        self.path = path
        self.reason = reason
        self._keep_args(program, path, reason, message)
