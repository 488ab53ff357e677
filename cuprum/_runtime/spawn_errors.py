"""Why the operating system refused to start a program, as an error that says so.

Only the failure path runs this: it looks at the errno, which file ``Popen``
blamed (the working directory or the program), and, when an existing file could
not be run, at that file's ``#!`` line. Every error names the program and keeps
the errno.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Mapping, Sequence

from cuprum._core.errors import (
    InterpreterNotFoundError,
    ProgramNotExecutableError,
    ProgramNotFoundError,
    SpawnArgumentError,
    SpawnError,
    WorkingDirectoryAccessError,
    WorkingDirectoryError,
)

__all__ = ["spawn_error"]

Cwd = str | os.PathLike[str] | None

_SHEBANG = re.compile(rb"#![ \t]*([^ \t\n\0]*)")
_BINPRM_BUF_SIZE = 256  # how much of a script's first line the kernel reads

_HINTS = {
    errno.E2BIG: "the arguments and environment are larger than the kernel accepts "
    "(one argument may not exceed 128 KiB)",
    errno.EAGAIN: "the process limit (RLIMIT_NPROC) or a kernel limit was reached",
    errno.ENOMEM: "not enough memory to start a process",
    errno.ENOEXEC: "the file is neither a binary this machine runs nor a script with a #! line",
    errno.ETXTBSY: "the file is open for writing",
}


def spawn_error(
    exc: Exception, argv: Sequence[str], *, cwd: Cwd, env: Mapping[str, str] | None
) -> SpawnError:
    """The :class:`SpawnError` (subclass) explaining ``exc``, raised by ``Popen``."""
    program = argv[0]
    if isinstance(exc, ValueError | TypeError):  # refused before forking
        return SpawnArgumentError(errno.EINVAL, f"{program}: cannot start: {exc}")
    if not isinstance(exc, OSError):  # subprocess.SubprocessError: no errno to keep
        return SpawnError(f"{program}: cannot start: {exc}")
    code = exc.errno if exc.errno is not None else errno.EINVAL
    # Popen blames the program for a failed exec, ``cwd`` (or nothing, without one)
    # for a failure before it: chdir, but also dup2 or setpgid.
    if not isinstance(exc.filename, str) or (cwd is not None and exc.filename is cwd):
        if cwd is not None and code in _CWD_ERRNOS:
            return _cwd_error(code, program, os.fspath(cwd))
        return _generic(code, program, exc)
    if isinstance(exc, FileNotFoundError):
        return _not_found(code, program, _existing(exc.filename, cwd, env, files_only=True), cwd)
    if isinstance(exc, PermissionError):
        path = _existing(exc.filename, cwd, env, files_only=False)
        return _not_executable(code, program, path)
    if isinstance(exc, NotADirectoryError):
        return ProgramNotFoundError(
            code, f"{program}: program not found (a component of its path is not a directory)"
        )
    if code == errno.ETXTBSY:
        return _busy(program, _existing(exc.filename, cwd, env, files_only=True), exc)
    return _generic(code, program, exc)


def _generic(code: int, program: str, exc: OSError) -> SpawnError:
    hint = _HINTS.get(code)
    reason = exc.strerror or os.strerror(code)
    return SpawnError(code, f"{program}: cannot start: {reason}" + (f" ({hint})" if hint else ""))


def _busy(program: str, path: str | None, exc: OSError) -> SpawnError:
    """ETXTBSY: the file, or for a script the kernel also opens its interpreter, is
    open for writing; which of the two cannot be told, so both are named."""
    interpreter = _interpreter(path) if path is not None else None
    if path is None or interpreter is None:
        return _generic(errno.ETXTBSY, program, exc)
    reason = exc.strerror or os.strerror(errno.ETXTBSY)
    return SpawnError(
        errno.ETXTBSY,
        f"{program}: cannot start: {reason} (the file, or its interpreter "
        f"{_show(interpreter)} from {_shebang_of(program, path)}, is open for writing)",
    )


_CWD_ERRNOS = (errno.ENOENT, errno.ENOTDIR, errno.EACCES, errno.ELOOP, errno.ENAMETOOLONG)


def _cwd_error(code: int, program: str, cwd: str) -> SpawnError:
    if code == errno.ENOENT:
        return WorkingDirectoryError(code, f"{program}: working directory {cwd!r} does not exist")
    if code == errno.ENOTDIR:
        return WorkingDirectoryError(
            code, f"{program}: working directory {cwd!r} is not a directory"
        )
    if code == errno.EACCES:
        return WorkingDirectoryAccessError(
            code, f"{program}: working directory {cwd!r} cannot be entered (permission denied)"
        )
    return SpawnError(
        code, f"{program}: cannot enter working directory {cwd!r}: {os.strerror(code)}"
    )


def _not_found(code: int, program: str, path: str | None, cwd: Cwd) -> SpawnError:
    if path is None:
        return ProgramNotFoundError(
            code, f"{program}: program not found (PATH or path does not contain it)"
        )
    where = _shebang_of(program, path)
    interpreter = _interpreter(path)
    if interpreter is not None and not os.path.exists(_under(interpreter, cwd)):
        return InterpreterNotFoundError(
            code, f"{program}: interpreter {_show(interpreter)} (from {where}) not found"
        )
    if interpreter is not None:
        return ProgramNotFoundError(
            code, f"{program}: interpreter {_show(interpreter)} (from {where}) could not be started"
        )
    return ProgramNotFoundError(
        code, f"{program}: {path} exists but cannot be run (its loader or a library is missing)"
    )


def _not_executable(code: int, program: str, path: str | None) -> SpawnError:
    if path is None:
        return ProgramNotExecutableError(code, f"{program}: cannot execute it (permission denied)")
    if os.path.isdir(path):
        return ProgramNotExecutableError(code, f"{program}: {path} is a directory, not a program")
    interpreter = _interpreter(path) if os.access(path, os.X_OK) else None
    if interpreter is not None:
        where = _shebang_of(program, path)
        return ProgramNotExecutableError(
            code, f"{program}: interpreter {_show(interpreter)} (from {where}) cannot be executed"
        )
    return ProgramNotExecutableError(
        code, f"{program}: {path} is not executable (permission denied)"
    )


def _shebang_of(program: str, path: str) -> str:
    return "its #! line" if "/" in program else f"the #! line of {path}"


def _under(path: str, cwd: Cwd) -> str:
    """``path`` as the child saw it: relative paths are relative to its ``cwd``."""
    if cwd is None or os.path.isabs(path):
        return path
    return os.path.join(os.fspath(cwd), path)


def _existing(
    name: str, cwd: Cwd, env: Mapping[str, str] | None, *, files_only: bool
) -> str | None:
    """The file the child tried to execute, if one exists: ``name`` itself when it
    has a slash, else the first match on the ``PATH`` the child searched."""
    exists = os.path.isfile if files_only else os.path.exists
    candidates = [name] if "/" in name else [os.path.join(d, name) for d in os.get_exec_path(env)]
    for candidate in candidates:
        path = _under(candidate, cwd)
        if exists(path):
            return path
    return None


def _interpreter(path: str) -> str | None:
    """The interpreter named on ``path``'s ``#!`` line, or ``None`` (no such line).

    Only a regular file is read, opened non-blocking: a FIFO must not hang us.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        head = os.read(fd, _BINPRM_BUF_SIZE)
    except OSError:
        return None
    finally:
        os.close(fd)
    match = _SHEBANG.match(head)
    if match is None or not match.group(1):
        return None
    return os.fsdecode(match.group(1))


def _show(text: str) -> str:
    return text if text.isprintable() else repr(text)
