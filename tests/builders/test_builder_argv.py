"""What each builder puts on the command line, and that no caller value becomes an option."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import hypothesis.strategies as st
import pytest
from hypothesis import given

from cuprum import DEFAULT_CATALOGUE, GIT, RSYNC, TAR, InvalidArgumentError, SafeCmd
from cuprum.builders import (
    RsyncOptions,
    TarCreateOptions,
    git_checkout,
    git_ref,
    git_rev_parse,
    git_status,
    rsync_sync,
    safe_path,
    tar_create,
    tar_extract,
)


def test_git_checkout_puts_the_ref_before_a_double_dash() -> None:
    assert git_checkout("main").argv_with_program == ("git", "checkout", "main", "--")
    assert git_checkout("feat/x", create_branch=True, start_point="main").argv == (
        "checkout",
        "-b",
        "feat/x",
        "main",
        "--",
    )
    assert git_checkout(git_ref("v1"), force=True, repo="/r").argv == (
        "-C",
        "/r",
        "checkout",
        "--force",
        "v1",
        "--",
    )


def test_git_status_and_rev_parse_flags_are_plain_switches() -> None:
    assert git_status().argv == ("status", "--porcelain")
    assert git_status(porcelain=False).argv == ("status",)
    assert git_status(branch=True, untracked_files="no", repo=Path("/r")).argv == (
        "-C",
        "/r",
        "status",
        "--porcelain",
        "--branch",
        "--untracked-files=no",
    )
    assert git_rev_parse().argv == ("rev-parse", "--verify", "HEAD")
    assert git_rev_parse("main", short=True).argv == ("rev-parse", "--verify", "--short", "main")
    assert git_rev_parse(abbrev_ref=True).argv == ("rev-parse", "--verify", "--abbrev-ref", "HEAD")


def test_git_builders_reject_bad_combinations() -> None:
    with pytest.raises(InvalidArgumentError, match="create_branch"):
        git_checkout("main", start_point="dev")
    with pytest.raises(InvalidArgumentError, match="short or abbrev_ref"):
        git_rev_parse(short=True, abbrev_ref=True)
    with pytest.raises(InvalidArgumentError, match="untracked_files"):
        git_status(untracked_files="some")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="relative"):
        git_status(repo="repo")
    assert git_status(repo="repo", allow_relative=True).argv[:2] == ("-C", "repo")
    with pytest.raises(InvalidArgumentError):
        git_checkout(7)  # type: ignore[arg-type]


def test_rsync_flags_and_operands() -> None:
    cmd = rsync_sync("/src", "/dest")
    assert cmd.argv_with_program == ("rsync", "--archive", "--", "/src/", "/dest")
    every = RsyncOptions(
        archive=True,
        delete=True,
        dry_run=True,
        checksum=True,
        compress=True,
        verbose=True,
        exclude=("*.tmp", "-odd"),
    )
    assert rsync_sync("/src/", "/dest", options=every).argv == (
        "--archive",
        "--delete",
        "--dry-run",
        "--checksum",
        "--compress",
        "--verbose",
        "--filter=- *.tmp",
        "--filter=- -odd",
        "--",
        "/src/",
        "/dest",
    )
    whole = RsyncOptions(archive=False, copy_contents=False)
    assert rsync_sync("/src", "/dest", options=whole).argv == ("--", "/src", "/dest")


def test_rsync_keeps_relative_paths_local() -> None:
    options = RsyncOptions(allow_relative=True)
    # "host:path" would make rsync start ssh; "./" keeps it a local path.
    assert rsync_sync("host:src", "backup:dest", options=options).argv[-2:] == (
        "./host:src/",
        "./backup:dest",
    )
    with pytest.raises(InvalidArgumentError, match="relative"):
        rsync_sync("src", "/dest")


@pytest.mark.parametrize("bad", ["", "a\x00", "a\nb", "a\rb"])
def test_rsync_exclude_patterns_are_checked(bad: str) -> None:
    with pytest.raises(InvalidArgumentError):
        RsyncOptions(exclude=(bad,))
    with pytest.raises(InvalidArgumentError):
        RsyncOptions(exclude="*.tmp")  # type: ignore[arg-type]


def test_tar_create_and_extract() -> None:
    create = tar_create("/b/a.tar", ["/srv/x", Path("/srv/y")])
    assert create.argv_with_program == (
        "tar",
        "--create",
        "--force-local",
        "--file=/b/a.tar",
        "--",
        "/srv/x",
        "/srv/y",
    )
    options = TarCreateOptions(xz=True, verbose=True, base_dir="/srv", allow_relative=True)
    assert tar_create("/b/a.tar.xz", ["x"], options=options).argv == (
        "--create",
        "--force-local",
        "--file=/b/a.tar.xz",
        "--xz",
        "--verbose",
        "--directory=/srv",
        "--",
        "x",
    )
    assert tar_extract("/b/a.tar").argv == ("--extract", "--force-local", "--file=/b/a.tar")
    assert tar_extract("a.tar", destination="out", allow_relative=True).argv == (
        "--extract",
        "--force-local",
        "--file=a.tar",
        "--directory=out",
    )


def test_tar_rejects_bad_options() -> None:
    with pytest.raises(InvalidArgumentError, match=r"^tar: TarCreateOptions: choose at most one"):
        TarCreateOptions(gzip=True, xz=True)
    with pytest.raises(InvalidArgumentError, match="at least one"):
        tar_create("/a.tar", [])
    with pytest.raises(InvalidArgumentError, match="not a str"):
        tar_create("/a.tar", "/srv")
    with pytest.raises(InvalidArgumentError, match="relative"):
        tar_create("/a.tar", ["x"])
    with pytest.raises(InvalidArgumentError, match="relative"):
        tar_extract("/a.tar", destination="out")


def test_builders_use_the_curated_programs_and_projects() -> None:
    assert git_status().program == GIT
    assert rsync_sync("/a", "/b").program == RSYNC
    assert tar_extract("/a.tar").program == TAR
    assert git_status().project == DEFAULT_CATALOGUE.lookup(GIT).project
    assert git_status().project.name == "vcs"
    assert tar_extract("/a.tar").project.name == "archive-sync"
    assert rsync_sync("/a", "/b").project.name == "archive-sync"


def test_a_relative_safe_path_is_honoured_without_allow_relative() -> None:
    src = safe_path("src", allow_relative=True)
    assert rsync_sync(src, "/dest").argv[-2:] == ("./src/", "/dest")
    assert tar_create("/a.tar", [src]).argv[-1] == "src"


# -- no value becomes an option ----------------------------------------------------

OPTION_VALUES = ("--file=", "--directory=", "--filter=- ", "--untracked-files=")
FIXED_FLAGS = {
    "--",
    "-b",
    "-C",
    "--force",
    "--porcelain",
    "--branch",
    "--verify",
    "--short",
    "--abbrev-ref",
    "--archive",
    "--delete",
    "--dry-run",
    "--checksum",
    "--compress",
    "--verbose",
    "--create",
    "--extract",
    "--force-local",
    "--gzip",
    "--bzip2",
    "--xz",
}
TAKES_VALUE = {"-b", "-C"}


def assert_no_caller_option(cmd: SafeCmd) -> None:
    """Before ``--``: only our own flags, ``--name=value`` words and -b/-C values."""
    argv = list(cmd.argv)
    end = argv.index("--") if "--" in argv else len(argv)
    previous = ""
    for word in argv[:end]:
        if word.startswith("-") and previous not in TAKES_VALUE:
            assert word in FIXED_FLAGS or word.startswith(OPTION_VALUES), (word, cmd.argv)
        else:
            assert not word.startswith("-"), (word, cmd.argv)
        previous = word
    for word in argv[end + 1 :]:
        assert not word.startswith("-"), (word, cmd.argv)
    if cmd.program == RSYNC:
        for word in argv[end + 1 :]:
            head = word.split("/", 1)[0]
            assert ":" not in head, f"rsync would read {word!r} as a remote location"


HOSTILE = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        ["-rf", "--help", "--to-command=sh", "-e ssh", "host:path", "-", "--", "--exclude=x"]
    ),
    st.text(alphabet="-:/.ab \x00", max_size=10),
)

BUILDERS: dict[str, Callable[[str], SafeCmd]] = {
    "checkout ref": git_checkout,
    "checkout new": lambda v: git_checkout(v, create_branch=True, start_point=v),
    "rev-parse": git_rev_parse,
    "git repo": lambda v: git_status(repo=v, allow_relative=True),
    "rsync source": lambda v: rsync_sync(v, "/d", options=RsyncOptions(allow_relative=True)),
    "rsync dest": lambda v: rsync_sync("/s", v, options=RsyncOptions(allow_relative=True)),
    "rsync exclude": lambda v: rsync_sync("/s", "/d", options=RsyncOptions(exclude=(v,))),
    "tar archive": lambda v: tar_create(v, ["/s"], options=TarCreateOptions(allow_relative=True)),
    "tar source": lambda v: tar_create("/a", [v], options=TarCreateOptions(allow_relative=True)),
    "tar base": lambda v: tar_create(
        "/a", ["s"], options=TarCreateOptions(base_dir=v, allow_relative=True)
    ),
    "untar archive": lambda v: tar_extract(v, allow_relative=True),
    "untar destination": lambda v: tar_extract("/a", destination=v, allow_relative=True),
}


@pytest.mark.parametrize("slot", sorted(BUILDERS))
@given(value=HOSTILE)
def test_no_caller_value_becomes_an_option(slot: str, value: str) -> None:
    try:
        cmd = BUILDERS[slot](value)
    except InvalidArgumentError:
        return
    assert_no_caller_option(cmd)
