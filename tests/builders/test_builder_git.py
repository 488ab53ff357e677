"""The git builders run against a real temporary repository."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from cuprum import GIT, ExecutionContext, InvalidArgumentError, SafeCmd, sh
from cuprum.builders import git_checkout, git_ref, git_rev_parse, git_status, safe_path

pytestmark = pytest.mark.anyio

# No user or system configuration: the tests see git's defaults only.
GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_AUTHOR_NAME": "cuprum tests",
    "GIT_AUTHOR_EMAIL": "tests@cuprum.invalid",
    "GIT_COMMITTER_NAME": "cuprum tests",
    "GIT_COMMITTER_EMAIL": "tests@cuprum.invalid",
}


async def _run(cmd: SafeCmd, ctx: ExecutionContext) -> str:
    """Run ``cmd``, insist on success, return its stdout."""
    result = await cmd.run(context=ctx)
    assert result.exit_code == 0, result.stderr
    return str(result.stdout)


async def _git(repo: Path, *args: str) -> str:
    result = await sh.make(GIT)(*args).run(context=ExecutionContext(cwd=repo, env=GIT_ENV))
    assert result.exit_code == 0, result.stderr
    return str(result.stdout)


@pytest.fixture
async def repo(tmp_path: Path) -> Path:
    """A repository on branch ``main`` with one commit of ``notes.txt``."""
    path = tmp_path / "repo"
    path.mkdir()
    await _git(path, "init", "--quiet", "--initial-branch=main")
    (path / "notes.txt").write_text("first\n")
    await _git(path, "add", "notes.txt")
    await _git(path, "commit", "--quiet", "-m", "first")
    return path


def _ctx(repo: Path) -> ExecutionContext:
    return ExecutionContext(cwd=repo, env=GIT_ENV)


async def test_checkout_creates_and_switches_branches(repo: Path) -> None:
    ctx = _ctx(repo)
    created = await git_checkout("feature/x", create_branch=True).run(context=ctx)
    assert created.exit_code == 0, created.stderr
    current = await git_rev_parse(abbrev_ref=True).run(context=ctx)
    assert current.stdout == "feature/x\n"
    back = await git_checkout(git_ref("main")).run(context=ctx)
    assert back.exit_code == 0, back.stderr
    assert (await git_rev_parse(abbrev_ref=True).run(context=ctx)).stdout == "main\n"


async def test_checkout_new_branch_at_a_start_point(repo: Path) -> None:
    ctx = _ctx(repo)
    first = await _run(git_rev_parse(), ctx)
    (repo / "notes.txt").write_text("second\n")
    await _git(repo, "commit", "--quiet", "-am", "second")
    await git_checkout("old", create_branch=True, start_point=first.strip()).run(
        context=ctx, check=True
    )
    assert (await git_rev_parse("old").run(context=ctx)).stdout == first
    assert (repo / "notes.txt").read_text() == "first\n"


async def test_checkout_new_branch_at_head(repo: Path) -> None:
    # HEAD is a start point as git_rev_parse takes it: the commit, never a branch name.
    ctx = _ctx(repo)
    cmd = git_checkout("from-head", create_branch=True, start_point="HEAD")
    assert cmd.argv == ("checkout", "-b", "from-head", "HEAD", "--")
    await cmd.run(context=ctx, check=True)
    assert (await _run(git_rev_parse(abbrev_ref=True), ctx)) == "from-head\n"
    assert (await _run(git_rev_parse("from-head"), ctx)) == await _run(git_rev_parse("main"), ctx)
    with pytest.raises(InvalidArgumentError, match="git_checkout: ref: invalid git ref 'HEAD'"):
        git_checkout("HEAD", create_branch=True)
    with pytest.raises(InvalidArgumentError, match=r"git_checkout: start_point: .*'HEAD~1'"):
        git_checkout("x", create_branch=True, start_point="HEAD~1")


async def test_status_reports_changes_in_porcelain_format(repo: Path) -> None:
    ctx = _ctx(repo)
    assert (await git_status().run(context=ctx, check=True)).stdout == ""
    (repo / "notes.txt").write_text("changed\n")
    (repo / "new file.txt").write_text("new\n")
    # git -C <repo> works from any working directory.
    anywhere = ExecutionContext(cwd="/", env=GIT_ENV)
    status = await git_status(repo=repo).run(context=anywhere, check=True)
    assert status.stdout == ' M notes.txt\n?? "new file.txt"\n'
    with_branch = await git_status(branch=True, untracked_files="no").run(context=ctx, check=True)
    assert with_branch.stdout == "## main\n M notes.txt\n"


async def test_rev_parse_names_the_commit(repo: Path) -> None:
    ctx = _ctx(repo)
    full = (await _run(git_rev_parse(), ctx)).strip()
    assert re.fullmatch(r"[0-9a-f]{40}", full)
    anywhere = ExecutionContext(cwd="/", env=GIT_ENV)
    by_path = git_rev_parse("main", short=True, repo=safe_path(repo))
    short = await _run(by_path, anywhere)
    assert full.startswith(short.strip())
    assert (await _run(git_rev_parse(full), ctx)).strip() == full
    missing = await git_rev_parse("no-such-branch").run(context=ctx)
    assert missing.exit_code != 0


async def test_double_dash_keeps_a_file_name_from_being_checked_out(repo: Path) -> None:
    """Without "--", "git checkout notes.txt" silently throws local edits away."""
    ctx = _ctx(repo)
    (repo / "notes.txt").write_text("precious edit\n")
    refused = await git_checkout("notes.txt").run(context=ctx)
    assert refused.exit_code != 0
    assert "invalid reference" in str(refused.stderr)
    assert (repo / "notes.txt").read_text() == "precious edit\n"
    # What the builder protects against: the same word without "--" is a path.
    raw = await sh.make(GIT)("checkout", "notes.txt").run(context=ctx)
    assert raw.exit_code == 0
    assert (repo / "notes.txt").read_text() == "first\n"


async def test_option_like_refs_never_reach_git(repo: Path) -> None:
    for hostile in ("--orphan=x", "-f", "--help", "main; rm -rf /", "HEAD@{1}", "a..b"):
        with pytest.raises(InvalidArgumentError):
            git_checkout(hostile)
    assert (await git_rev_parse(abbrev_ref=True).run(context=_ctx(repo))).stdout == "main\n"
