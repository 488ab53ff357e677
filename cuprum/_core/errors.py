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
is the bottom layer: it imports only :mod:`cuprum._core.secret` (to keep secrets out
of messages), so any layer may raise these.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Sequence
from typing import Any

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
    "TimeoutExpired",
    "UnknownProgramError",
    "UntrustedProgramError",
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


class StdinEncodeError(InvalidArgumentError, UnicodeEncodeError):
    """Text for stdin that the context's encoding cannot encode, worded with the
    program and the parameter; also the ``UnicodeEncodeError`` that
    ``subprocess.run(input=...)`` raises. A secret's text is in neither its message
    nor its ``object`` (which is then empty)."""

    def __init__(self, message: str, fields: tuple[str, str, int, int, str]) -> None:
        """``fields``: UnicodeEncodeError's (encoding, object, start, end, reason)."""
        UnicodeEncodeError.__init__(self, *fields)
        self.args = (message,)

    def __str__(self) -> str:
        return str(self.args[0])

    def __reduce__(self) -> tuple[Any, ...]:
        fields = (self.encoding, self.object, self.start, self.end, self.reason)
        return (type(self), (self.args[0], fields))


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
    ``cmd`` shows secrets as ``***``, and the message (which quotes the end of
    stderr) has the value of each of the run's ``secrets`` replaced by ``***``; the
    ``stderr`` attribute keeps what the program wrote, as the result does.
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
        self.program = program if program is not None else _first(self.cmd)
        self.stage_index = stage_index
        self.secrets = secrets

    def __str__(self) -> str:
        if self.stage_index is None:
            detail = super().__str__()
        else:
            status = _status(self.returncode)
            detail = f"stage {self.stage_index} of pipeline {self.cmd!r} {status}."
        if isinstance(self.stderr, str) and self.stderr.strip():
            tail = self.stderr.strip().splitlines()[-1][:200]
            detail = f"{detail} (stderr: {tail})"
        return redact(f"{self.program}: {detail}", getattr(self, "secrets", ()))

    def __repr__(self) -> str:
        return redact(super().__repr__(), getattr(self, "secrets", ()))


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

    ``captured`` holds the first ``limit`` bytes (decoded like a result).
    """

    def __init__(self, program: str, stream: str, limit: int, captured: str | bytes) -> None:
        super().__init__(f"{program}: {stream} exceeded the capture limit of {limit} bytes")
        self.program = program
        self.stream = stream
        self.limit = limit
        self.captured = captured


class StreamBackendError(CuprumError, RuntimeError):
    """The stream strategy asked for cannot be used here."""


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
        self.program = program if program is not None else _first(self.cmd)
        self.stage_index = stage_index
        self.running = tuple(running)
        self.secrets = secrets

    def __str__(self) -> str:
        if self.stage_index is None:
            return f"{self.program}: command {self.cmd!r} timed out after {self.timeout} seconds"
        text = f"{self.program}: pipeline {self.cmd!r} timed out after {self.timeout} seconds"
        if not self.running:
            return f"{text} with no stage still running"
        text = f"{text} while stage {self.stage_index} was still running"
        if len(self.running) > 1:
            text += f" (still running: stages {', '.join(map(str, self.running))})"
        return text

    def __repr__(self) -> str:
        return redact(super().__repr__(), getattr(self, "secrets", ()))


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


class RemoteError(CuprumError, ConnectionError):
    """ssh could not reach or use a host; never a remote program's own exit status.

    ``host`` names the host (its label), ``detail`` is what ssh said.
    """

    def __init__(self, host: str, message: str, detail: str = "") -> None:
        super().__init__(f"{host}: {message}" + (f" (ssh: {detail})" if detail else ""))
        self.host = host
        self.detail = detail


class RemoteConnectError(RemoteError):
    """The connection was refused, the host is unreachable or unknown, or it was lost."""


class RemoteTimeoutError(RemoteError, TimeoutError):
    """No connection was made within the host's ``connect_timeout``."""


class RemoteAuthError(RemoteError, PermissionError):
    """The server accepted none of the keys offered."""


class HostKeyError(RemoteError):
    """The host's key is not in the named known_hosts, or it has changed."""


class ExpectError(CuprumError):
    """``expect()`` found none of its patterns; ``before`` is the output seen meanwhile.

    ``program`` names the program, ``patterns`` are those asked for, ``before``
    is the unmatched output (``str``, or ``bytes`` for bytes patterns), which
    stays unread: a later ``expect()`` or read sees it again. The message quotes
    the end of it with the value of each of the run's ``secrets`` as ``***``.
    """

    def __init__(
        self,
        program: str,
        patterns: Sequence[object],
        before: str | bytes,
        message: str,
        *,
        secrets: tuple[Secret[Any], ...] = (),
    ) -> None:
        super().__init__(redact(f"{program}: {message}", secrets))
        self.program = program
        self.patterns = tuple(patterns)
        self.before = before
        self.secrets = secrets


class ExpectTimeout(ExpectError, TimeoutError):
    """No pattern matched within ``timeout`` seconds (or, for ``wait_noecho()``, the
    terminal still echoed: ``waited_for`` says what was awaited instead of patterns)."""

    def __init__(
        self,
        program: str,
        patterns: Sequence[object],
        before: str | bytes,
        timeout: float,
        *,
        waited_for: str | None = None,
        secrets: tuple[Secret[Any], ...] = (),
    ) -> None:
        tail = before[-80:]
        what = waited_for if waited_for is not None else f"none of {_shown(patterns)} seen"
        message = f"{what} within {timeout} seconds (last output: {tail!r})"
        super().__init__(program, patterns, before, message, secrets=secrets)
        self.timeout = timeout


class ExpectEOF(ExpectError, EOFError):
    """The program's output ended (it exited, or closed it) before any pattern matched."""

    def __init__(
        self,
        program: str,
        patterns: Sequence[object],
        before: str | bytes,
        *,
        secrets: tuple[Secret[Any], ...] = (),
    ) -> None:
        tail = before[-80:]
        message = f"output ended before any of {_shown(patterns)} (last output: {tail!r})"
        super().__init__(program, patterns, before, message, secrets=secrets)


def _shown(patterns: Sequence[object]) -> str:
    """The patterns for a message: literals as their repr, regexes as ``re'...'``."""
    shown = []
    for pattern in patterns[:5]:
        source = getattr(pattern, "pattern", None)
        shown.append(f"re{source!r}" if source is not None else repr(pattern))
    more = f" (+{len(patterns) - 5} more)" if len(patterns) > 5 else ""
    return "[" + ", ".join(shown) + "]" + more
