"""Pinned programs: which file runs is decided once, from trusted directories, and
checked at every spawn; never by an env overlay, a later ``PATH`` or the run's cwd."""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cuprum import (
    DEFAULT_CATALOGUE,
    ECHO,
    ExecutionContext,
    InvalidArgumentError,
    Program,
    ProgramCatalogue,
    ProgramNotExecutableError,
    ProgramNotFoundError,
    ProjectSettings,
    SafeCmd,
    UntrustedProgramError,
    sh,
)
from cuprum._core import pinning

from .security_support import PY, Recorder, script, tool

pytestmark = pytest.mark.anyio

REAL_ECHO = DEFAULT_CATALOGUE.resolve(ECHO)[ECHO].path
FAKE = "#!/bin/sh\necho FAKE\n"


def _fake_echo(directory: Path, mode: int = 0o755) -> Path:
    directory.mkdir(exist_ok=True)
    directory.chmod(mode)
    return script(directory / "echo", FAKE)


@pytest.fixture
def process_path(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Change ``PATH`` of this process; ``echo`` is pinned again from the real one after."""
    yield monkeypatch
    monkeypatch.undo()
    DEFAULT_CATALOGUE.refresh(ECHO)


# -- PATH does not choose the binary -----------------------------------------------------


async def test_a_fake_echo_first_on_the_overlay_path_never_runs(tmp_path: Path) -> None:
    fake = _fake_echo(tmp_path / "bin")
    path = f"{fake.parent}:{os.environ['PATH']}"
    result = await sh.make(ECHO)("real").run(context=ExecutionContext(env={"PATH": path}))
    assert result.stdout == "real\n"
    # ... and the overlay's PATH still reaches the child's environment.
    show = sh.make(PY, catalogue=_py_catalogue())("-c", "import os; print(os.environ['PATH'])")
    shown = await show.run(context=ExecutionContext(env={"PATH": path}))
    assert shown.stdout == f"{path}\n"


def _py_catalogue() -> ProgramCatalogue:
    return ProgramCatalogue(projects=(ProjectSettings(name="py", programs=(PY,)),))


async def test_a_fake_echo_put_first_on_the_process_path_after_pinning_never_runs(
    tmp_path: Path, process_path: pytest.MonkeyPatch
) -> None:
    assert (await sh.make(ECHO)("real").run()).stdout == "real\n"
    fake = _fake_echo(tmp_path / "bin")  # a directory we own: trusted, but too late
    process_path.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    assert (await sh.make(ECHO)("real").run()).stdout == "real\n"
    # Until the pin is refreshed, on purpose: then the new PATH decides.
    DEFAULT_CATALOGUE.refresh(ECHO)
    assert (await sh.make(ECHO)("real").run()).stdout == "FAKE\n"


@pytest.mark.parametrize(
    ("mode", "why"), [(0o777, "writable by others"), (0o1777, "writable by others")]
)
async def test_a_world_writable_directory_is_never_searched(
    tmp_path: Path, process_path: pytest.MonkeyPatch, mode: int, why: str
) -> None:
    fake = _fake_echo(tmp_path / "shared", mode)  # sticky or not: anyone may add a file
    process_path.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    (pin,) = DEFAULT_CATALOGUE.refresh(ECHO).values()
    assert pin.path == REAL_ECHO
    assert (str(fake.parent), why) in pin.skipped
    assert (await sh.make(ECHO)("real").run()).stdout == "real\n"


async def test_a_directory_inside_a_world_writable_one_is_never_searched(
    tmp_path: Path, process_path: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)  # no sticky bit: anyone may rename "bin" and put another there
    fake = _fake_echo(shared / "bin")
    process_path.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    (pin,) = DEFAULT_CATALOGUE.refresh(ECHO).values()
    assert pin.path == REAL_ECHO
    assert (str(fake.parent), f"inside {shared}, which is writable by others") in pin.skipped


@pytest.mark.parametrize("entry", ["", ".", "bin"])
async def test_relative_and_empty_path_entries_are_never_searched(
    tmp_path: Path, process_path: pytest.MonkeyPatch, entry: str
) -> None:
    _fake_echo(tmp_path)
    _fake_echo(tmp_path / "bin")
    process_path.chdir(tmp_path)
    process_path.setenv("PATH", f"{entry}:{os.environ['PATH']}")
    (pin,) = DEFAULT_CATALOGUE.refresh(ECHO).values()
    assert pin.path == REAL_ECHO
    assert entry in dict(pin.skipped)
    assert (await sh.make(ECHO)("real").run(context=ExecutionContext(cwd=tmp_path))).stdout == (
        "real\n"
    )


async def test_a_program_file_others_can_write_is_refused(tmp_path: Path) -> None:
    _, cmd = tool("cuprum-sec-writable", tmp_path)
    script(tmp_path / "cuprum-sec-writable", "#!/bin/sh\necho hi\n", mode=0o757)
    rec = Recorder()
    with sh.observe(rec), pytest.raises(UntrustedProgramError) as excinfo:
        await cmd.run()
    exc = excinfo.value
    assert (exc.program, exc.path) == ("cuprum-sec-writable", str(tmp_path / exc.program))
    assert exc.reason == "writable by others"
    assert rec.phases == ["plan", "error"]
    assert rec.events[-1].error == "spawn_failed"


async def test_argv0_stays_the_program_name(tmp_path: Path) -> None:
    # sh -c prints $0: the name the program was started as, not its pinned path.
    result = await sh.make(Program("sh"), catalogue=_sh_catalogue())("-c", "echo $0").run()
    assert result.stdout == "sh\n"


def _sh_catalogue() -> ProgramCatalogue:
    return ProgramCatalogue(projects=(ProjectSettings(name="sh", programs=(Program("sh"),)),))


# -- the pinned file changes ----------------------------------------------------------


async def test_a_replaced_file_is_reverified_and_adopted(tmp_path: Path) -> None:
    catalogue, cmd = tool("cuprum-sec-replaced", tmp_path)
    path = script(tmp_path / "cuprum-sec-replaced", "#!/bin/sh\necho one\n")
    assert (await cmd.run()).stdout == "one\n"
    first = catalogue.pins()[cmd.program]
    replacement = script(tmp_path / "new", "#!/bin/sh\necho two\n")
    replacement.replace(path)  # how package managers upgrade: a new inode, same path
    assert (await cmd.run()).stdout == "two\n"
    second = catalogue.pins()[cmd.program]
    assert second.path == first.path
    assert second.identity.inode != first.identity.inode


async def test_a_changed_file_is_refused_when_the_project_says_so(tmp_path: Path) -> None:
    catalogue, cmd = tool("cuprum-sec-refuse", tmp_path, on_change="refuse")
    before, after = "#!/bin/sh\necho one\n", "#!/bin/sh\necho changed content\n"
    path = script(tmp_path / "cuprum-sec-refuse", before)
    assert (await cmd.run()).stdout == "one\n"
    path.write_text(after)
    size = f"size {len(before)} -> {len(after)}"
    rec = Recorder()
    with sh.observe(rec), pytest.raises(UntrustedProgramError) as excinfo:
        await cmd.run()
    exc = excinfo.value
    assert exc.path == str(path)
    assert exc.reason.startswith(f"changed ({size}")
    assert str(exc).startswith(f"cuprum-sec-refuse: the pinned {path} changed ({size}")
    assert "on_change='refuse'" in str(exc)
    assert rec.events[-1].error == "spawn_failed"
    catalogue.refresh()  # the way to accept it
    assert (await cmd.run()).stdout == "changed content\n"


async def test_a_content_pin_is_checked_when_pinned_and_when_the_file_changes(
    tmp_path: Path,
) -> None:
    path = script(tmp_path / "cuprum-sec-digest", "#!/bin/sh\necho pinned\n")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    catalogue, cmd = tool(
        "cuprum-sec-digest", tmp_path, sha256={Program("cuprum-sec-digest"): digest.upper()}
    )
    assert catalogue.resolve()[cmd.program].sha256 == digest
    assert (await cmd.run()).stdout == "pinned\n"
    path.write_text("#!/bin/sh\necho tampered\n")
    with pytest.raises(UntrustedProgramError) as excinfo:
        await cmd.run()
    message = str(excinfo.value)
    assert message.startswith(f"cuprum-sec-digest: the pinned {path} changed (size")
    assert f"does not match the pinned sha256 {digest}" in message
    # Put back, the same content passes again (and is adopted).
    path.write_text("#!/bin/sh\necho pinned\n")
    assert (await cmd.run()).stdout == "pinned\n"


async def test_a_wrong_content_pin_refuses_at_first_use_and_at_resolve(tmp_path: Path) -> None:
    script(tmp_path / "cuprum-sec-wrong", "#!/bin/sh\necho hi\n")
    catalogue, cmd = tool(
        "cuprum-sec-wrong", tmp_path, sha256={Program("cuprum-sec-wrong"): "0" * 64}
    )
    with pytest.raises(UntrustedProgramError, match="does not match the pinned sha256 0000"):
        catalogue.resolve()
    with pytest.raises(UntrustedProgramError, match="does not match"):
        await cmd.run()


async def test_a_pinned_file_that_loses_its_exec_bit_is_refused_until_it_is_back(
    tmp_path: Path,
) -> None:
    _, cmd = tool("cuprum-sec-noexec", tmp_path / "a", tmp_path / "b")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    path = script(tmp_path / "a" / "cuprum-sec-noexec", "#!/bin/sh\necho a\n")
    script(tmp_path / "b" / "cuprum-sec-noexec", "#!/bin/sh\necho b\n")
    assert (await cmd.run()).stdout == "a\n"
    path.chmod(0o644)
    with pytest.raises(ProgramNotExecutableError) as excinfo:
        await cmd.run()  # not EACCES from a stale cache, and not the other file
    assert str(path) in str(excinfo.value)
    assert "mode 0o755 -> 0o644" in str(excinfo.value)
    path.chmod(0o755)
    assert (await cmd.run()).stdout == "a\n"


async def test_a_pinned_file_that_is_removed_is_not_replaced_by_another(tmp_path: Path) -> None:
    catalogue, cmd = tool("cuprum-sec-removed", tmp_path / "a", tmp_path / "b")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = script(tmp_path / "a" / "cuprum-sec-removed", "#!/bin/sh\necho a\n")
    script(tmp_path / "b" / "cuprum-sec-removed", "#!/bin/sh\necho b\n")
    assert (await cmd.run()).stdout == "a\n"
    first.unlink()
    with pytest.raises(ProgramNotFoundError, match=f"the pinned {first} is gone"):
        await cmd.run()
    catalogue.refresh()
    assert (await cmd.run()).stdout == "b\n"


async def test_a_program_installed_earlier_on_the_path_needs_a_refresh(tmp_path: Path) -> None:
    (tmp_path / "early").mkdir()
    (tmp_path / "late").mkdir()
    catalogue, cmd = tool("cuprum-sec-installed", tmp_path / "early", tmp_path / "late")
    script(tmp_path / "late" / "cuprum-sec-installed", "#!/bin/sh\necho late\n")
    assert (await cmd.run()).stdout == "late\n"
    script(tmp_path / "early" / "cuprum-sec-installed", "#!/bin/sh\necho early\n")
    assert (await cmd.run()).stdout == "late\n"
    catalogue.refresh()
    assert (await cmd.run()).stdout == "early\n"


async def test_a_program_not_found_is_looked_up_again_next_time(tmp_path: Path) -> None:
    _, cmd = tool("cuprum-sec-later", tmp_path)
    with pytest.raises(ProgramNotFoundError, match="not found on the trusted search path"):
        await cmd.run()
    script(tmp_path / "cuprum-sec-later", "#!/bin/sh\necho installed\n")
    assert (await cmd.run()).stdout == "installed\n"  # no refresh needed: nothing was pinned


async def test_not_found_names_a_copy_in_a_skipped_directory(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    script(shared / "cuprum-sec-skipped", "#!/bin/sh\necho hi\n")
    _, cmd = tool("cuprum-sec-skipped", shared)
    with pytest.raises(ProgramNotFoundError) as excinfo:
        await cmd.run()
    assert f"{shared / 'cuprum-sec-skipped'} exists but {shared} is writable by others" in str(
        excinfo.value
    )


async def test_each_spawn_checks_its_pin_with_one_stat(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, cmd = tool("cuprum-sec-stat", tmp_path)
    path = str(script(tmp_path / "cuprum-sec-stat", "#!/bin/sh\ncat\n"))
    await cmd.run()  # pinned
    stats: list[str] = []
    real_stat = os.stat

    def counting(target: object, *args: object, **kwargs: object) -> os.stat_result:
        if os.fspath(target) == path:  # type: ignore[call-overload]
            stats.append(path)
        return real_stat(target, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "stat", counting)
    await cmd.run()
    assert len(stats) == 1
    await (cmd | cmd | cmd).run()
    assert len(stats) == 4


# -- paths as programs ----------------------------------------------------------------


async def test_an_absolute_program_is_pinned_to_itself() -> None:
    catalogue = _py_catalogue()
    (pin,) = catalogue.resolve().values()
    assert (pin.program, pin.path, pin.searched) == (PY, PY, ())
    assert pin.identity.inode == os.stat(sys.executable).st_ino


async def test_a_relative_program_path_is_refused_whatever_the_cwd(tmp_path: Path) -> None:
    script(tmp_path / "tool", "#!/bin/sh\necho ran\n")
    relative = Program("./tool")
    with pytest.raises(InvalidArgumentError, match="relative program path is refused"):
        ProgramCatalogue(projects=(ProjectSettings(name="r", programs=(relative,)),))
    cmd = SafeCmd(relative, (), ProjectSettings(name="r", programs=()))
    rec = Recorder()
    with sh.observe(rec), pytest.raises(InvalidArgumentError, match=r"^\./tool: a relative"):
        await cmd.run(context=ExecutionContext(cwd=tmp_path))
    assert rec.events == []  # refused before any event, hook or process


# -- catalogue API --------------------------------------------------------------------


def test_resolve_reports_every_program_it_cannot_pin(tmp_path: Path) -> None:
    names = [Program("cuprum-sec-missing-1"), Program("cuprum-sec-missing-2"), Program("sh")]
    catalogue = ProgramCatalogue(projects=(ProjectSettings(name="m", programs=tuple(names)),))
    with pytest.raises(ProgramNotFoundError) as excinfo:
        catalogue.resolve()
    assert "cuprum-sec-missing-1" in str(excinfo.value)
    assert any("cuprum-sec-missing-2" in note for note in excinfo.value.__notes__)
    assert set(catalogue.pins()) == {"sh"}  # what could be pinned was


def test_project_settings_refuse_bad_pin_settings() -> None:
    prog = Program("x")
    with pytest.raises(
        InvalidArgumentError, match="'p': search_path entry 'bin' is not an absolute"
    ):
        ProjectSettings(name="p", programs=(prog,), search_path=("bin",))
    with pytest.raises(InvalidArgumentError, match="search_path must be a tuple"):
        ProjectSettings(name="p", programs=(prog,), search_path="/usr/bin")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="sha256 must be 64 hex digits"):
        ProjectSettings(name="p", programs=(prog,), sha256={prog: "abc"})
    with pytest.raises(InvalidArgumentError, match="not one of its programs"):
        ProjectSettings(name="p", programs=(prog,), sha256={Program("y"): "0" * 64})
    with pytest.raises(InvalidArgumentError, match="on_change must be"):
        ProjectSettings(name="p", programs=(prog,), on_change="ignore")  # type: ignore[arg-type]


def test_the_pin_table_is_shared_by_projects_with_the_same_policy() -> None:
    other = ProjectSettings(name="other", programs=(ECHO,))
    assert pinning.pin(ECHO, other) is DEFAULT_CATALOGUE.pins()[ECHO]
