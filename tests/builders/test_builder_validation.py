"""safe_path and git_ref: the validation rules, and git's own verdict on every ref."""

from __future__ import annotations

import copy
import os
import pickle
from pathlib import Path, PurePosixPath
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import event, example, given, settings

from cuprum import GIT, ExecutionContext, InvalidArgumentError, sh
from cuprum.builders import (
    GitRef,
    RsyncOptions,
    SafePath,
    git_ref,
    rsync_sync,
    safe_path,
    tar_create,
)

# -- safe_path ------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/srv/data", "/", "/a/b/", "/with space/ü", "/a/./b", "/a..b/c..", "/-dash/inside"],
)
def test_safe_path_accepts_absolute_paths_as_given(path: str) -> None:
    result = safe_path(path)
    assert isinstance(result, SafePath)
    assert isinstance(result, str)
    assert result == path
    assert os.fspath(result) == path
    assert result.is_absolute


def test_safe_path_accepts_path_objects_and_safe_paths() -> None:
    assert safe_path(Path("/srv/data")) == "/srv/data"
    relative = safe_path("data", allow_relative=True)
    assert safe_path(relative, allow_relative=True) == "data"
    assert Path(relative) == Path("data")


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("", "empty"),
        ("/a\x00b", "NUL"),
        ("/srv/../etc", "'..'"),
        ("..", "'..'"),
        ("/srv/..", "'..'"),
        ("a/../../b", "'..'"),
        ("-rf", "starts with '-'"),
        ("--help", "starts with '-'"),
        ("relative/path", "relative"),
        ("./x", "relative"),
    ],
)
def test_safe_path_rejects(path: str, reason: str) -> None:
    with pytest.raises(InvalidArgumentError, match=reason):
        safe_path(path)


def test_relative_paths_need_allow_relative() -> None:
    assert safe_path("a/b", allow_relative=True) == "a/b"
    assert not safe_path("a/b", allow_relative=True).is_absolute
    with pytest.raises(InvalidArgumentError, match="starts with '-'"):
        safe_path("-x", allow_relative=True)
    with pytest.raises(InvalidArgumentError, match=r"'\.\.'"):
        safe_path("../x", allow_relative=True)


def test_safe_path_rejects_non_text() -> None:
    with pytest.raises(InvalidArgumentError):
        safe_path(b"/bytes")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        safe_path(7)  # type: ignore[arg-type]


def test_safe_paths_survive_copy_and_pickle() -> None:
    relative = safe_path("x/y", allow_relative=True)
    for clone in (
        copy.copy(relative),
        copy.deepcopy(relative),
        pickle.loads(pickle.dumps(relative)),
    ):
        assert type(clone) is SafePath
        assert clone == "x/y"
    assert repr(relative) == "SafePath('x/y')"


@given(st.text())
def test_safe_path_never_lets_an_option_or_escape_through(text: str) -> None:
    try:
        result = safe_path(text, allow_relative=True)
    except InvalidArgumentError:
        return
    assert result == text
    assert result and not result.startswith("-")
    assert "\x00" not in result
    assert ".." not in PurePosixPath(result).parts


# -- git_ref --------------------------------------------------------------------


@pytest.mark.parametrize(
    "ref",
    ["main", "feature/x", "release-1.2", "a/-b", "v1.0.0", "x.lockx", "refs/heads/x", "0" * 40],
)
def test_git_ref_accepts(ref: str) -> None:
    result = git_ref(ref)
    assert isinstance(result, GitRef)
    assert result == ref


@pytest.mark.parametrize(
    "ref",
    [
        "",
        "has space",
        "tab\there",
        "-main",
        "--force",
        "a..b",
        "a//b",
        "a@{1}",
        "@",
        "main.lock",
        "a.lock/b",
        "main.",
        ".hidden",
        "a/.b",
        "/a",
        "a/",
        "HEAD",
        "a~1",
        "a^",
        "a:b",
        "a?",
        "a*",
        "a[",
        "a\\b",
        "ü",
        "a\x00",
        "a\x7f",
    ],
)
def test_git_ref_rejects(ref: str) -> None:
    with pytest.raises(InvalidArgumentError, match="invalid git ref"):
        git_ref(ref)


def test_git_ref_survives_pickle() -> None:
    ref = git_ref("main")
    assert type(pickle.loads(pickle.dumps(ref))) is GitRef


@pytest.fixture(scope="module")
def outside_repo(tmp_path_factory: pytest.TempPathFactory) -> ExecutionContext:
    # Not inside a repository, so `--branch` has no @{-N} history to expand.
    return ExecutionContext(
        cwd=tmp_path_factory.mktemp("no-repo"),
        env={"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull},
    )


def _git_accepts(name: str, ctx: ExecutionContext) -> bool:
    result = sh.make(GIT)("check-ref-format", "--branch", name).run_sync(context=ctx)
    return result.exit_code == 0


REF_ALPHABET = "ab0Z._/-"
SPECIALS = " \t~^:?*[\\@{}!#\x7f\x01ü"


MIXED = st.one_of(
    st.text(alphabet=REF_ALPHABET + SPECIALS, min_size=1, max_size=12),
    st.lists(st.text(alphabet=REF_ALPHABET + SPECIALS, max_size=5), min_size=1, max_size=4).map(
        "/".join
    ),
)
# Mostly names made of allowed characters (so git gets asked often), some with others.
REFS = st.integers(0, 9).flatmap(
    lambda i: st.text(alphabet=REF_ALPHABET, min_size=1, max_size=12) if i < 7 else MIXED
)


@settings(max_examples=400, deadline=None)
@given(REFS)
@example("HEAD")
@example("a.lock/b")
@example("a/.b")
@example("-")
@example("@")
def test_git_accepts_every_ref_git_ref_accepts(outside_repo: ExecutionContext, name: str) -> None:
    try:
        git_ref(name)
    except InvalidArgumentError:
        event("rejected by git_ref")
        return
    event("accepted by git_ref")
    assert _git_accepts(name, outside_repo), f"git_ref accepted {name!r}, git rejects it"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=REF_ALPHABET, min_size=1, max_size=10))
@example("a/-")
@example("x.lockx")
@example("a.b/c")
def test_within_the_allowed_characters_git_ref_agrees_with_git(
    outside_repo: ExecutionContext, name: str
) -> None:
    try:
        git_ref(name)
        ours = True
    except InvalidArgumentError:
        ours = False
    assert ours == _git_accepts(name, outside_repo), name


# -- objects that misbehave -----------------------------------------------------------


class _Lying(str):
    """A ``str`` whose methods lie about its text: the checks must read the text."""

    __slots__ = ()

    def startswith(self, *args: object) -> bool:
        return False

    def __contains__(self, item: object) -> bool:
        return False

    def split(self, *args: object, **kwargs: object) -> list[str]:
        return ["fine"]


class _FsPath(os.PathLike):  # type: ignore[type-arg]
    def __init__(self, result: object) -> None:
        self.result = result

    def __fspath__(self) -> object:
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


@pytest.mark.parametrize("text", ["-rf", "/srv/../etc", "/a\x00b"])
def test_safe_path_checks_the_text_not_what_a_str_subclass_says(text: str) -> None:
    with pytest.raises(InvalidArgumentError):
        safe_path(_Lying(text), allow_relative=True)


def test_git_ref_checks_the_text_not_what_a_str_subclass_says() -> None:
    with pytest.raises(InvalidArgumentError, match="starts with '-'"):
        git_ref(_Lying("-rf"))

    class Sneaky(str):
        __slots__ = ()
        said: object = 5

        def __str__(self) -> Any:
            return self.said  # not a str: str(Sneaky(...)) raises TypeError

    assert git_ref(Sneaky("main")) == "main"  # was TypeError: __str__ returned non-string
    assert type(git_ref(Sneaky("main"))) is GitRef


@pytest.mark.parametrize(
    ("result", "cause"),
    [(OSError("gone"), OSError), (ValueError("bad"), ValueError), (5, TypeError)],
    ids=["raises-OSError", "raises-ValueError", "returns-int"],
)
def test_a_path_whose_fspath_fails_is_refused_naming_the_parameter(
    result: object, cause: type[Exception]
) -> None:
    with pytest.raises(InvalidArgumentError, match=r"^path \(_FsPath\) is not a usable path") as e:
        safe_path(_FsPath(result))
    assert isinstance(e.value.__cause__, cause)
    with pytest.raises(InvalidArgumentError, match=r"^rsync_sync: source \(_FsPath\)"):
        rsync_sync(_FsPath(result), "/dest")
    with pytest.raises(InvalidArgumentError, match=r"^tar_create: sources\[0\] \(_FsPath\)"):
        tar_create("/a.tar", [_FsPath(result)])


def test_a_path_naming_bytes_or_a_str_subclass() -> None:
    with pytest.raises(InvalidArgumentError, match=r"^path must be text, not bytes \(from _FsPath"):
        safe_path(_FsPath(b"/srv"))
    with pytest.raises(InvalidArgumentError, match="starts with '-'"):
        safe_path(_FsPath(_Lying("-rf")), allow_relative=True)


def test_rsync_patterns_are_checked_and_kept_as_their_text() -> None:
    with pytest.raises(InvalidArgumentError, match="NUL or line break"):
        RsyncOptions(exclude=(_Lying("a\nb"),))
    options = RsyncOptions(exclude=(_Lying("*.tmp"),))
    assert [type(p) for p in options.exclude] == [str]
