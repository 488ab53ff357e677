"""tar_create and tar_extract round-trip a tree of awkward names with the real GNU tar."""

from __future__ import annotations

from pathlib import Path

import pytest
from builders_support import make_tree, snapshot

from cuprum import ExecutionContext
from cuprum.builders import TarCreateOptions, safe_path, tar_create, tar_extract

pytestmark = pytest.mark.anyio


async def test_round_trip_with_base_dir(tmp_path: Path) -> None:
    source = make_tree(tmp_path / "src" / "tree")
    archive = tmp_path / "tree.tar.gz"
    options = TarCreateOptions(gzip=True, base_dir=tmp_path / "src", allow_relative=True)
    created = await tar_create(archive, ["tree"], options=options).run()
    assert created.exit_code == 0, created.stderr
    assert archive.read_bytes()[:2] == b"\x1f\x8b"  # gzip magic
    restore = tmp_path / "restore"
    restore.mkdir()
    extracted = await tar_extract(archive, destination=restore).run()
    assert extracted.exit_code == 0, extracted.stderr
    assert snapshot(restore / "tree") == snapshot(source)
    assert sorted(p.name for p in restore.iterdir()) == ["tree"]
    assert not (tmp_path / "pwned").exists()


async def test_round_trip_with_absolute_sources(tmp_path: Path) -> None:
    source = make_tree(tmp_path / "abs")
    archive = safe_path(tmp_path / "abs.tar")
    created = await tar_create(archive, [source]).run()
    assert created.exit_code == 0, created.stderr
    # GNU tar drops the leading "/" of absolute members (and says so on stderr).
    assert "Removing leading" in str(created.stderr)
    restore = tmp_path / "restore"
    restore.mkdir()
    await tar_extract(archive, destination=restore).run(check=True)
    assert snapshot(restore / source.relative_to("/")) == snapshot(source)


async def test_odd_relative_names_are_operands_not_options(tmp_path: Path) -> None:
    """Names that look like options reach tar after "--" and are archived as files."""
    make_tree(tmp_path)
    ctx = ExecutionContext(cwd=tmp_path)
    options = TarCreateOptions(verbose=True, allow_relative=True)
    # "host:odd.tar" would be a remote archive without --force-local.
    names = ["./--help", "./-rf", "./--to-command=touch pwned", "./-e touch pwned"]
    created = await tar_create("host:odd.tar", names, options=options).run(context=ctx)
    assert created.exit_code == 0, created.stderr
    assert (tmp_path / "host:odd.tar").is_file()
    assert str(created.stdout).splitlines() == names
    out = tmp_path / "out"
    out.mkdir()
    extract = tar_extract("host:odd.tar", destination="out", allow_relative=True)
    await extract.run(context=ctx, check=True)
    assert snapshot(out) == {name[2:]: (tmp_path / name).read_bytes() for name in names}
    assert not (tmp_path / "pwned").exists()


async def test_extract_into_the_working_directory(tmp_path: Path) -> None:
    make_tree(tmp_path / "src")
    archive = tmp_path / "a.tar.bz2"
    options = TarCreateOptions(bzip2=True, base_dir=tmp_path / "src", allow_relative=True)
    await tar_create(archive, ["plain.txt", "nested"], options=options).run(check=True)
    work = tmp_path / "work"
    work.mkdir()
    await tar_extract(archive).run(context=ExecutionContext(cwd=work), check=True)
    assert (work / "plain.txt").read_bytes() == b"plain\n"
    assert (work / "nested/deeper/still/-leading dash").read_bytes() == b"deep\n"


async def test_missing_source_fails_cleanly(tmp_path: Path) -> None:
    result = await tar_create(tmp_path / "x.tar", [tmp_path / "nope"]).run()
    assert result.exit_code != 0
    assert "nope" in str(result.stderr)
