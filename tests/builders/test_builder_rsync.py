"""rsync_sync mirrors a tree of awkward names with the real rsync."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from builders_support import make_tree, snapshot

from cuprum import ExecutionContext
from cuprum.builders import RsyncOptions, rsync_sync, safe_path

# rsync is a test requirement; CI installs it, so only a developer machine may skip.
pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(
        shutil.which("rsync") is None and not os.environ.get("CI"),
        reason="rsync is not installed (apt-get install rsync)",
    ),
]


async def test_sync_with_delete_mirrors_the_tree(tmp_path: Path) -> None:
    source = make_tree(tmp_path / "src")
    dest = tmp_path / "dest"
    (dest / "nested").mkdir(parents=True)
    (dest / "stale.txt").write_text("remove me\n")
    (dest / "nested" / "stale too").write_text("remove me\n")
    (dest / "plain.txt").write_text("outdated\n")
    result = await rsync_sync(source, dest, options=RsyncOptions(delete=True)).run()
    assert result.exit_code == 0, result.stderr
    assert snapshot(dest) == snapshot(source)
    assert not (dest / "stale.txt").exists()
    assert not (tmp_path / "pwned").exists()


async def test_without_delete_stale_files_stay(tmp_path: Path) -> None:
    source = make_tree(tmp_path / "src")
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "stale.txt").write_text("kept\n")
    await rsync_sync(source, dest).run(check=True)
    assert snapshot(dest) == {**snapshot(source), "stale.txt": b"kept\n"}


async def test_dry_run_changes_nothing(tmp_path: Path) -> None:
    source = make_tree(tmp_path / "src")
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "stale.txt").write_text("kept\n")
    options = RsyncOptions(delete=True, dry_run=True, verbose=True)
    result = await rsync_sync(source, dest, options=options).run(check=True)
    assert "deleting stale.txt" in str(result.stdout)
    assert snapshot(dest) == {"stale.txt": b"kept\n"}


async def test_exclude_and_copy_contents_off(tmp_path: Path) -> None:
    source = make_tree(tmp_path / "src")
    dest = tmp_path / "dest"
    dest.mkdir()
    options = RsyncOptions(exclude=("*.txt", "-rf"), copy_contents=False)
    await rsync_sync(source, dest, options=options).run(check=True)
    copied = snapshot(dest / "src")
    assert "plain.txt" not in copied
    assert "-rf" not in copied
    assert copied["--help"] == b"double dash\n"
    assert copied["nested/deeper/still/-leading dash"] == b"deep\n"


async def test_relative_paths_that_look_remote_stay_local(tmp_path: Path) -> None:
    """Without the "./" prefix rsync would read "h:src" as host "h" and start ssh."""
    make_tree(tmp_path / "h:src")
    ctx = ExecutionContext(cwd=tmp_path)
    options = RsyncOptions(delete=True, allow_relative=True)
    result = await rsync_sync("h:src", "b:dest", options=options).run(context=ctx)
    assert result.exit_code == 0, result.stderr
    assert snapshot(tmp_path / "b:dest") == snapshot(tmp_path / "h:src")
    relative = safe_path("h:src", allow_relative=True)
    await rsync_sync(relative, safe_path(tmp_path / "abs")).run(context=ctx, check=True)
    assert snapshot(tmp_path / "abs") == snapshot(tmp_path / "h:src")
