"""The OS refuses to start a program: each refusal is a ``SpawnError`` that says why.

Real spawns of real files (not executable, a directory, a script whose ``#!``
interpreter is missing, an argv too long, an env ``Popen`` rejects, a process
limit); each error names the program, keeps the errno, is the matching built-in
``OSError`` subclass where there is one, and observers see ``spawn_failed``.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from core_support import DEADLINE, TEST_PROJECT, Recorder, recording, shell

from cuprum import (
    ExecutionContext,
    InterpreterNotFoundError,
    Program,
    ProgramCatalogue,
    ProgramNotExecutableError,
    ProgramNotFoundError,
    ProjectSettings,
    SafeCmd,
    SpawnArgumentError,
    SpawnError,
    WorkingDirectoryError,
    before,
    sh,
)
from cuprum._runtime.child import spawn

pytestmark = pytest.mark.anyio
BACKENDS = ["asyncio", "trio"]


def _by_path(path: Path | str, *args: str) -> SafeCmd:
    return SafeCmd(Program(str(path)), args, TEST_PROJECT)


def _on_path(tmp_path: Path, name: str) -> tuple[SafeCmd, ExecutionContext]:
    """``name`` run by its bare name, looked up in ``tmp_path`` (the project's search path)."""
    project = ProjectSettings(name="t", programs=(Program(name),), search_path=(str(tmp_path),))
    catalogue = ProgramCatalogue(projects=(project,))
    return sh.make(Program(name), catalogue=catalogue)(), ExecutionContext()


def _script(path: Path, text: str, mode: int = 0o755) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def _spawn_failed(rec: Recorder) -> None:
    assert rec.phases == ["plan", "error"]
    assert rec.terminal[0].error == "spawn_failed"


# -- exists but cannot be executed (PermissionError) ----------------------------------


async def test_a_file_without_the_exec_bit_is_a_permission_error(tmp_path: Path) -> None:
    script = _script(tmp_path / "no-exec", "#!/bin/sh\necho hi\n", mode=0o644)
    with recording() as rec, pytest.raises(PermissionError) as excinfo:
        await _by_path(script).run()
    exc = excinfo.value
    assert isinstance(exc, ProgramNotExecutableError)
    assert isinstance(exc, SpawnError)
    assert exc.errno == errno.EACCES
    assert str(exc) == f"[Errno 13] {script}: {script} is not executable (permission denied)"
    _spawn_failed(rec)


async def test_a_directory_is_not_a_program(tmp_path: Path) -> None:
    with recording() as rec, pytest.raises(ProgramNotExecutableError) as excinfo:
        await _by_path(tmp_path).run()
    assert isinstance(excinfo.value, PermissionError)
    assert excinfo.value.strerror == f"{tmp_path}: {tmp_path} is a directory, not a program"
    _spawn_failed(rec)


async def test_a_non_executable_file_found_on_path_names_the_path(tmp_path: Path) -> None:
    name = "cuprum-no-exec-tool"
    _script(tmp_path / name, "#!/bin/sh\necho hi\n", mode=0o644)
    cmd, ctx = _on_path(tmp_path, name)
    with pytest.raises(PermissionError, match=f"^.*{name}: {tmp_path / name} is not executable"):
        await cmd.run(context=ctx)


async def test_a_program_that_loses_its_exec_bit_after_a_run(tmp_path: Path) -> None:
    # The program is pinned; the pinned file losing its exec bit is refused, naming it.
    name = "cuprum-later-no-exec"
    tool = _script(tmp_path / name, "#!/bin/sh\necho found\n")
    cmd, ctx = _on_path(tmp_path, name)
    assert (await cmd.run(context=ctx)).stdout == "found\n"
    tool.chmod(0o644)
    with pytest.raises(ProgramNotExecutableError, match=str(tool)):
        await cmd.run(context=ctx)


async def test_a_script_whose_interpreter_cannot_be_executed(tmp_path: Path) -> None:
    interpreter = _script(tmp_path / "interp", "#!/bin/sh\n", mode=0o644)
    script = _script(tmp_path / "uses-interp", f"#!{interpreter}\n")
    with pytest.raises(ProgramNotExecutableError) as excinfo:
        await _by_path(script).run()
    assert excinfo.value.strerror == (
        f"{script}: interpreter {interpreter} (from its #! line) cannot be executed"
    )


# -- the #! interpreter is missing (FileNotFoundError) ---------------------------------


async def test_a_missing_interpreter_is_named_with_the_script(tmp_path: Path) -> None:
    script = _script(tmp_path / "x.sh", "#!/nonexistent/bin/foo -e\necho hi\n")
    with recording() as rec, pytest.raises(InterpreterNotFoundError) as excinfo:
        await _by_path(script).run()
    exc = excinfo.value
    assert isinstance(exc, ProgramNotFoundError)
    assert isinstance(exc, FileNotFoundError)
    assert exc.errno == errno.ENOENT
    assert (
        exc.strerror == f"{script}: interpreter /nonexistent/bin/foo (from its #! line) not found"
    )
    _spawn_failed(rec)


async def test_a_missing_interpreter_of_a_program_found_on_path(tmp_path: Path) -> None:
    name = "cuprum-bad-shebang"
    _script(tmp_path / name, "#!  /nonexistent/interpreter\n")
    cmd, ctx = _on_path(tmp_path, name)
    with pytest.raises(InterpreterNotFoundError) as excinfo:
        await cmd.run(context=ctx)
    assert excinfo.value.strerror == (
        f"{name}: interpreter /nonexistent/interpreter "
        f"(from the #! line of {tmp_path / name}) not found"
    )


async def test_a_dos_line_ending_shows_in_the_interpreter_name(tmp_path: Path) -> None:
    script = _script(tmp_path / "crlf.sh", "#!/bin/sh\r\necho hi\r\n")
    with pytest.raises(InterpreterNotFoundError, match=r"interpreter '/bin/sh\\r' \(from its"):
        await _by_path(script).run()


async def test_a_missing_program_is_still_not_found(tmp_path: Path) -> None:
    with pytest.raises(ProgramNotFoundError) as excinfo:
        await _by_path(tmp_path / "absent").run()
    assert not isinstance(excinfo.value, InterpreterNotFoundError)
    assert "program not found" in str(excinfo.value)


async def test_a_program_path_through_a_file_is_not_a_cwd_problem(tmp_path: Path) -> None:
    afile = _script(tmp_path / "plain", "", mode=0o644)
    with pytest.raises(ProgramNotFoundError) as excinfo:
        await _by_path(afile / "tool").run()
    assert not isinstance(excinfo.value, WorkingDirectoryError)
    assert excinfo.value.errno == errno.ENOTDIR
    assert str(afile / "tool") in str(excinfo.value)


async def test_a_file_that_is_neither_binary_nor_script(tmp_path: Path) -> None:
    junk = _script(tmp_path / "junk", "\x7fnot an executable format\n")
    with recording() as rec, pytest.raises(SpawnError) as excinfo:
        await _by_path(junk).run()
    assert excinfo.value.errno == errno.ENOEXEC
    assert str(junk) in str(excinfo.value)
    _spawn_failed(rec)


def _busy_binary(tmp_path: Path) -> Path:
    """A copy of ``true``, which the kernel refuses to execute while it is open for writing."""
    binary = tmp_path / "busy"
    binary.write_bytes(Path("/bin/true").read_bytes())
    binary.chmod(0o755)
    with binary.open("r+b"):
        try:
            subprocess.run([binary], check=False)
        except OSError as exc:
            if exc.errno == errno.ETXTBSY:
                return binary
    pytest.skip("this kernel executes a file that is open for writing (no ETXTBSY)")


async def test_a_binary_open_for_writing_is_text_file_busy(tmp_path: Path) -> None:
    binary = _busy_binary(tmp_path)
    with binary.open("r+b"), recording() as rec, pytest.raises(SpawnError) as excinfo:
        await _by_path(binary).run()
    assert excinfo.value.errno == errno.ETXTBSY
    assert excinfo.value.strerror == (
        f"{binary}: cannot start: Text file busy (the file is open for writing)"
    )
    _spawn_failed(rec)


async def test_a_script_whose_interpreter_is_open_for_writing_names_it(tmp_path: Path) -> None:
    # The script itself is not open: the message must not blame it alone.
    binary = _busy_binary(tmp_path)
    script = _script(tmp_path / "uses-busy", f"#!{binary}\n")
    with binary.open("r+b"), pytest.raises(SpawnError) as excinfo:
        await _by_path(script).run()
    assert excinfo.value.errno == errno.ETXTBSY
    assert excinfo.value.strerror == (
        f"{script}: cannot start: Text file busy (the file, or its interpreter {binary} "
        "from its #! line, is open for writing)"
    )


# -- other refusals keep their errno and name the program ------------------------------


async def test_an_argv_too_long_is_a_spawn_error_with_e2big() -> None:
    huge = "x" * (256 * 1024)  # one argument over the kernel's 128 KiB limit
    with recording() as rec, pytest.raises(SpawnError) as excinfo:
        await shell("true", huge).run()
    assert excinfo.value.errno == errno.E2BIG
    assert str(excinfo.value).startswith("[Errno 7] sh: cannot start: Argument list too long")
    _spawn_failed(rec)


async def test_an_env_refused_at_spawn_is_a_spawn_error() -> None:
    # The request was valid when built; a before hook then broke the env it holds.
    env = {"GOOD": "1"}

    def break_env(cmd: object) -> None:
        env["BAD=NAME"] = "x"

    with recording() as rec, before(break_env), pytest.raises(SpawnArgumentError) as excinfo:
        await shell("true").run(context=ExecutionContext(env=env))
    exc = excinfo.value
    assert isinstance(exc, SpawnError)
    assert isinstance(exc, ValueError)  # what Popen raised, for code catching that
    assert str(exc).startswith("[Errno 22] sh: cannot start: illegal environment variable")
    _spawn_failed(rec)


@pytest.mark.parametrize(
    "env",
    [{"A=B": "1"}, {"A\x00": "1"}, {"A": "1\x00"}, {"A": 1}, {"A": "\ud800"}],
    ids=["equals-in-name", "nul-in-name", "nul-in-value", "not-str", "unencodable"],
)
def test_spawn_turns_any_env_refusal_into_a_spawn_error(env: dict[str, object]) -> None:
    with pytest.raises(SpawnArgumentError, match=r"^\[Errno 22\] sh: cannot start: "):
        spawn(["sh", "-c", "true"], cwd=None, env=env, stdin=None, stdout=None, stderr=None)  # type: ignore[arg-type]


# -- limits that need a host process of their own -------------------------------------

DROP_PRIVILEGES = """
def drop_privileges():
    # Root ignores RLIMIT_NPROC and directory permissions: become nobody, once
    # everything this host needs is imported.
    if os.geteuid() == 0:
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)
"""

NPROC_HOST = (
    textwrap.dedent(
        """
    import os, resource, sys
    import anyio
    from cuprum import TRUE, SpawnError, sh
    """
    )
    + DROP_PRIVILEGES
    + textwrap.dedent(
        """
    async def main():
        await sh.make(TRUE)().run()

    anyio.run(main, backend=sys.argv[1])  # warm up: imports and the PATH cache
    drop_privileges()
    resource.setrlimit(resource.RLIMIT_NPROC, (1, 1))
    try:
        anyio.run(main, backend=sys.argv[1])
    except SpawnError as exc:
        print(type(exc).__name__, exc.errno, exc.strerror)
    else:
        print("started")
    """
    )
)

CWD_HOST = (
    textwrap.dedent(
        """
    import os, sys
    import anyio
    from cuprum import TRUE, ExecutionContext, WorkingDirectoryAccessError, sh
    """
    )
    + DROP_PRIVILEGES
    + textwrap.dedent(
        """
    async def main(cwd):
        await sh.make(TRUE)().run(context=ExecutionContext(cwd=cwd))

    anyio.run(main, None, backend=sys.argv[1])
    drop_privileges()
    try:
        anyio.run(main, sys.argv[2], backend=sys.argv[1])
    except WorkingDirectoryAccessError as exc:
        print(isinstance(exc, PermissionError), exc.errno, exc.strerror)
    else:
        print("started")
    """
    )
)


def _host(tmp_path: Path, code: str, *args: str) -> str:
    script = tmp_path / "host.py"
    script.write_text(code)
    done = subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        timeout=DEADLINE * 3,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture
def locked_dir(tmp_path: Path) -> Iterator[Path]:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o000)
    locked.chmod(0o000)
    yield locked
    locked.chmod(0o700)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_process_limit_is_a_spawn_error_with_eagain(backend: str, tmp_path: Path) -> None:
    out = _host(tmp_path, NPROC_HOST, backend)
    if out == "started":
        pytest.skip("RLIMIT_NPROC is not enforced for this user here")
    assert out == "SpawnError 11 true: cannot start: Resource temporarily unavailable " + (
        "(the process limit (RLIMIT_NPROC) or a kernel limit was reached)"
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_cwd_that_cannot_be_entered_is_a_permission_error(
    backend: str, tmp_path: Path, locked_dir: Path
) -> None:
    out = _host(tmp_path, CWD_HOST, backend, str(locked_dir))
    if out == "started":
        pytest.skip("directory permissions are not enforced for this user here")
    assert out == f"True 13 true: working directory {str(locked_dir)!r} cannot be entered " + (
        "(permission denied)"
    )


FIFO_HOST = textwrap.dedent(
    """
    import sys
    from cuprum import ProgramNotExecutableError, Program, SafeCmd, ProjectSettings

    cmd = SafeCmd(Program(sys.argv[1]), (), ProjectSettings(name="t", programs=()))
    try:
        cmd.run_sync(backend=sys.argv[2])
    except ProgramNotExecutableError as exc:
        print(exc.strerror)
    """
)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_fifo_as_program_is_refused_without_hanging(backend: str, tmp_path: Path) -> None:
    # Explaining the refusal must not block opening a FIFO nobody writes to.
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo, 0o755)
    out = _host(tmp_path, FIFO_HOST, str(fifo), backend)
    assert out == f"{fifo}: {fifo} is not executable (permission denied)"
