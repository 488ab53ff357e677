"""Symlinks on the way to a program: every link followed, and every directory looked in
on the way to its target, must be one that only root or the current user can change,
when the program is pinned and again whenever the pinned file changes.

Another user is real here: uid 1001 owns the links and directories it would control
(``os.lchown``, so the tests need root)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cuprum import ProgramNotFoundError, UntrustedProgramError
from cuprum._core.trust import distrust_dir, distrust_file, trusted_search_path

from .security_support import script, tool

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root"),
]

OTHER = 1001
OTHERS = f"owned by another user (uid {OTHER})"
HELLO = "#!/bin/sh\necho hello\n"
EVIL = "#!/bin/sh\necho EVIL\n"


def _dir(path: Path, mode: int = 0o755, uid: int | None = None) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(mode)
    if uid is not None:
        os.chown(path, uid, uid)
    return path


def _link(path: Path, target: Path | str, uid: int | None = None) -> Path:
    """A symlink at ``path`` to ``target`` (replacing one there), owned by ``uid``."""
    if path.is_symlink():
        path.unlink()
    path.symlink_to(target)
    if uid is not None:
        os.lchown(path, uid, uid)
    return path


def _good(tmp_path: Path, name: str = "greet") -> Path:
    """A trusted directory holding the program ``name``."""
    good = _dir(tmp_path / "good")
    script(good / name, HELLO)
    return good


# -- a directory on the search path reached through a symlink ----------------------------


def test_a_path_entry_that_is_another_users_symlink_is_skipped(tmp_path: Path) -> None:
    good = _good(tmp_path)
    sticky = _dir(tmp_path / "sticky", 0o1777)  # like /tmp: anyone may add a name
    link = _link(sticky / "bin", good, uid=OTHER)  # ... and retarget their own link
    assert trusted_search_path([str(link)]) == ([], [(str(link), f"a symlink {OTHERS}")])
    catalogue, _ = tool("greet", link)
    with pytest.raises(ProgramNotFoundError) as excinfo:
        catalogue.resolve()
    assert f"{link / 'greet'} exists but {link} is a symlink {OTHERS}" in str(excinfo.value)


async def test_a_path_entry_that_is_my_symlink_in_a_sticky_directory_is_searched(
    tmp_path: Path,
) -> None:
    good = _good(tmp_path)
    link = _link(_dir(tmp_path / "sticky", 0o1777) / "bin", good)  # nobody else can move it
    catalogue, cmd = tool("greet", link)
    (pin,) = catalogue.resolve().values()
    assert (pin.path, pin.searched) == (str(link / "greet"), (str(link),))
    assert (await cmd.run()).stdout == "hello\n"


def test_a_symlink_in_the_middle_of_an_entry_is_checked(tmp_path: Path) -> None:
    _dir(_good(tmp_path) / "sub")
    sticky = _dir(tmp_path / "sticky", 0o1777)
    link = _link(sticky / "opt", tmp_path / "good", uid=OTHER)
    entry = str(link / "sub")
    why = f"reached through the symlink {link}, which is {OTHERS}"
    assert distrust_dir(entry) == why


def test_a_symlink_target_is_walked_like_any_path(tmp_path: Path) -> None:
    good = _good(tmp_path)
    shared = _dir(tmp_path / "shared", 0o777)  # no sticky bit: "bin" can be swapped
    _dir(shared / "bin")
    links = _dir(tmp_path / "links")
    into_shared = _link(links / "shared-bin", shared / "bin")
    assert distrust_dir(str(into_shared)) == (
        f"inside {shared}, which is writable by others (reached through the symlink {into_shared})"
    )
    to_shared = _link(links / "shared", shared)
    assert distrust_dir(str(to_shared)) == f"resolved to {shared}, which is writable by others"
    theirs = _dir(tmp_path / "theirs", uid=OTHER)
    to_theirs = _link(links / "theirs", theirs)
    assert distrust_dir(str(to_theirs)) == f"resolved to {theirs}, which is {OTHERS}"
    relative = _link(links / "relative", "../links/./../good")
    assert distrust_dir(str(relative)) is None
    assert trusted_search_path([str(relative)])[0] == [str(relative)]
    assert distrust_dir(str(good)) is None


def test_a_symlink_loop_is_skipped(tmp_path: Path) -> None:
    links = _dir(tmp_path / "links")
    _link(links / "a", links / "b")
    _link(links / "b", links / "a")
    why = distrust_dir(str(links / "a"))
    assert why is not None
    assert why.startswith("not accessible (Too many levels of symbolic links)")


async def test_a_path_entry_symlink_retargeted_after_pinning_is_refused(tmp_path: Path) -> None:
    good = _good(tmp_path)
    sticky = _dir(tmp_path / "sticky", 0o1777)
    link = _link(sticky / "bin", good)
    catalogue, cmd = tool("greet", link)
    assert (await cmd.run()).stdout == "hello\n"
    # The link passes to another user, who points it at a directory of their own.
    evil = _dir(tmp_path / "evil", uid=OTHER)
    script(evil / "greet", EVIL)
    _link(link, evil, uid=OTHER)
    with pytest.raises(UntrustedProgramError) as excinfo:
        await cmd.run()
    exc = excinfo.value
    assert exc.path == str(link / "greet")
    assert exc.reason == f"reached through the symlink {link}, which is {OTHERS}"
    assert str(exc).startswith(f"greet: the pinned {link / 'greet'} changed (inode")
    with pytest.raises(ProgramNotFoundError):  # looked up again: the entry is skipped
        catalogue.refresh()


# -- a program file that is a symlink ----------------------------------------------------


async def test_a_program_symlinked_into_a_directory_others_can_write_is_refused(
    tmp_path: Path,
) -> None:
    trusted = _dir(tmp_path / "trusted")
    shared = _dir(tmp_path / "shared", 0o777)  # anyone may replace "greet" in it
    script(shared / "greet", HELLO)
    link = _link(trusted / "greet", shared / "greet")
    catalogue, cmd = tool("greet", trusted)
    why = f"inside {shared}, which is writable by others (reached through the symlink {link})"
    with pytest.raises(UntrustedProgramError) as excinfo:
        catalogue.resolve()
    assert (excinfo.value.path, excinfo.value.reason) == (str(link), why)
    assert str(excinfo.value) == f"greet: {link} is {why}; cuprum does not run it"
    with pytest.raises(UntrustedProgramError):
        await cmd.run()
    assert not catalogue.pins()


async def test_a_program_symlinked_into_a_sticky_directory_runs_when_nobody_else_owns_it(
    tmp_path: Path,
) -> None:
    trusted = _dir(tmp_path / "trusted")
    sticky = _dir(tmp_path / "sticky", 0o1777)
    script(sticky / "mine", HELLO)  # root's file in a sticky directory: only root moves it
    _link(trusted / "mine", sticky / "mine")
    _, cmd = tool("mine", trusted)
    assert (await cmd.run()).stdout == "hello\n"

    theirs = script(sticky / "theirs", HELLO)
    os.chown(theirs, OTHER, OTHER)
    _link(trusted / "theirs", theirs)
    assert distrust_file(str(trusted / "theirs")) == f"resolved to {theirs}, which is {OTHERS}"
    _, cmd = tool("theirs", trusted)
    with pytest.raises(UntrustedProgramError):
        await cmd.run()

    hop = _link(sticky / "hop", sticky / "mine", uid=OTHER)  # their link, in the middle
    _link(trusted / "hop", hop)
    why = f"reached through the symlink {hop}, which is {OTHERS}"
    assert distrust_file(str(trusted / "hop")) == why


# -- the directory chain is checked again when the pinned file changes --------------------


async def test_a_pinned_symlink_whose_target_directory_became_writable_is_refused(
    tmp_path: Path,
) -> None:
    good = _good(tmp_path)
    trusted = _dir(tmp_path / "trusted")
    link = _link(trusted / "greet", good / "greet")
    _, cmd = tool("greet", trusted)
    assert (await cmd.run()).stdout == "hello\n"
    good.chmod(0o777)
    script(good / "new", EVIL).replace(good / "greet")  # what anyone could now do
    with pytest.raises(UntrustedProgramError) as excinfo:
        await cmd.run()
    assert excinfo.value.reason == (
        f"inside {good}, which is writable by others (reached through the symlink {link})"
    )


async def test_a_pinned_file_whose_directory_was_given_away_is_refused(tmp_path: Path) -> None:
    bin_dir = _dir(tmp_path / "parent" / "bin")
    path = script(bin_dir / "greet", HELLO)
    _, cmd = tool("greet", bin_dir)
    assert (await cmd.run()).stdout == "hello\n"
    os.chown(tmp_path / "parent", OTHER, OTHER)  # its new owner may swap "bin"
    script(bin_dir / "new", EVIL).replace(path)
    with pytest.raises(UntrustedProgramError) as excinfo:
        await cmd.run()
    assert excinfo.value.reason == f"inside {tmp_path / 'parent'}, which is {OTHERS}"
