"""Bad input and refused runs: each error names the program, and nothing runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from core_support import MISSING, TEST_CATALOGUE, TEST_PROJECT, Recorder, recording, shell

from cuprum import (
    ECHO,
    LS,
    CuprumError,
    ExecutionContext,
    ForbiddenProgramError,
    InvalidArgumentError,
    Program,
    ProgramCatalogue,
    ProgramNotFoundError,
    ProjectSettings,
    SafeCmd,
    ScopeConfig,
    SpawnError,
    WorkingDirectoryError,
    after,
    before,
    scoped,
    sh,
)

pytestmark = pytest.mark.anyio


def test_none_is_rejected_at_build_time() -> None:
    with pytest.raises(InvalidArgumentError, match=r"^ls: argument 1 is None"):
        sh.make(LS)("-l", None)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match=r"^ls: --color is None"):
        sh.make(LS)(color=None)  # type: ignore[arg-type]


def test_nul_bytes_are_rejected_at_build_time() -> None:
    with pytest.raises(InvalidArgumentError, match=r"^echo: argument 0 contains a NUL"):
        sh.make(ECHO)("a\x00b")


async def test_missing_program_names_it_and_emits_spawn_failed() -> None:
    with recording() as rec, pytest.raises(ProgramNotFoundError) as excinfo:
        await sh.make(MISSING, catalogue=TEST_CATALOGUE)("arg").run()
    exc = excinfo.value
    assert MISSING in str(exc)
    assert isinstance(exc, SpawnError | FileNotFoundError | OSError | CuprumError)
    assert isinstance(exc, FileNotFoundError)
    assert rec.phases == ["plan", "error"]
    assert rec.terminal[0].error == "spawn_failed"
    assert rec.terminal[0].pid is None


async def test_missing_program_by_path() -> None:
    cmd = SafeCmd(Program("/nonexistent/dir/tool"), (), TEST_PROJECT)
    with pytest.raises(ProgramNotFoundError, match="/nonexistent/dir/tool"):
        await cmd.run()


async def test_program_that_is_not_executable(tmp_path: Path) -> None:
    script = tmp_path / "not-executable"
    script.write_text("#!/bin/sh\necho hi\n")
    with recording() as rec, pytest.raises(SpawnError, match="not-executable"):
        await SafeCmd(Program(str(script)), (), TEST_PROJECT).run()
    assert rec.terminal[0].error == "spawn_failed"


async def test_missing_cwd(tmp_path: Path) -> None:
    missing = tmp_path / "gone"
    ctx = ExecutionContext(cwd=missing)
    with recording() as rec, pytest.raises(WorkingDirectoryError) as excinfo:
        await shell("true").run(context=ctx)
    assert str(missing) in str(excinfo.value)
    assert excinfo.value.strerror is not None
    assert excinfo.value.strerror.startswith("sh: working directory")
    assert isinstance(excinfo.value, FileNotFoundError)
    assert rec.terminal[0].error == "spawn_failed"


async def test_cwd_that_is_a_file(tmp_path: Path) -> None:
    afile = tmp_path / "file"
    afile.write_text("")
    with pytest.raises(WorkingDirectoryError, match="not a directory"):
        await shell("true").run(context=ExecutionContext(cwd=afile))


async def test_forbidden_program_is_refused_before_hooks_or_spawn(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    calls: list[str] = []
    rec = Recorder()
    with scoped(ScopeConfig(allowlist=frozenset([ECHO]), observe_hooks=(rec,))):
        with before(lambda cmd: calls.append("before")), after(lambda c, r: calls.append("a")):
            with pytest.raises(ForbiddenProgramError, match=r"^sh: not allowed"):
                await shell(f"touch '{marker}'").run()
    assert calls == []
    assert rec.events == []
    assert not marker.exists()


async def test_directly_constructed_safecmd_is_checked_against_the_allowlist(
    tmp_path: Path,
) -> None:
    marker = tmp_path / "ran"
    rogue = SafeCmd(Program("touch"), (str(marker),), TEST_PROJECT)
    with scoped(ScopeConfig(allowlist=frozenset([ECHO]))):
        with pytest.raises(ForbiddenProgramError, match="touch"):
            await rogue.run()
        with pytest.raises(ForbiddenProgramError):
            await (sh.make(ECHO)("x") | rogue).run()
    assert not marker.exists()
    await rogue.run()  # with no policy in force it may run
    assert marker.exists()


def test_forbidden_in_run_sync_too(tmp_path: Path) -> None:
    with scoped(ScopeConfig(allowlist=frozenset([ECHO]))):
        with pytest.raises(ForbiddenProgramError):
            shell("true").run_sync()
        with pytest.raises(ForbiddenProgramError):
            shell("true").run_sync(backend="trio")


async def test_spawn_failure_leaves_no_fds(tmp_path: Path) -> None:
    await shell("true").run()
    fds = set(os.listdir("/proc/self/fd"))
    for _ in range(20):
        with pytest.raises(ProgramNotFoundError):
            await sh.make(MISSING, catalogue=TEST_CATALOGUE)().run()
        with pytest.raises(WorkingDirectoryError):
            await shell("true").run(context=ExecutionContext(cwd=tmp_path / "gone"))
    assert set(os.listdir("/proc/self/fd")) == fds


async def test_invalid_run_options_are_refused_up_front() -> None:
    with pytest.raises(ValueError, match="capture_limit"):
        await shell("true").run(capture_limit=-1)
    with pytest.raises(ValueError, match="on_limit"):
        await shell("true").run(on_limit="explode")  # type: ignore[call-overload]


def _tool_catalogue(name: str, where: Path) -> ProgramCatalogue:
    project = ProjectSettings(name="tools", programs=(Program(name),), search_path=(str(where),))
    return ProgramCatalogue(projects=(project,))


def test_a_program_removed_after_a_run_is_reported_not_found(tmp_path: Path) -> None:
    # The program is pinned; a pinned file that is gone is reported, never replaced
    # by whatever a fresh search would find.
    tool = tmp_path / "cuprum-cached-tool"
    tool.write_text("#!/bin/sh\necho found\n")
    tool.chmod(0o755)
    ctx = ExecutionContext()
    cmd = sh.make(Program(tool.name), catalogue=_tool_catalogue(tool.name, tmp_path))()
    assert cmd.run_sync(context=ctx).stdout == "found\n"
    tool.unlink()
    with pytest.raises(ProgramNotFoundError, match="cuprum-cached-tool"):
        cmd.run_sync(context=ctx)


def test_a_script_with_a_missing_interpreter_is_reported_not_found(tmp_path: Path) -> None:
    tool = tmp_path / "cuprum-bad-shebang"
    tool.write_text("#!/nonexistent/interpreter\n")
    tool.chmod(0o755)
    ctx = ExecutionContext()
    cmd = sh.make(Program(tool.name), catalogue=_tool_catalogue(tool.name, tmp_path))()
    with pytest.raises(ProgramNotFoundError, match="cuprum-bad-shebang"):
        cmd.run_sync(context=ctx)
