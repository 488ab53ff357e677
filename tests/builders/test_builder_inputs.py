"""A builder given ``None`` or a wrong type where a path, ref or options belong raises
``InvalidArgumentError`` naming the function and the parameter."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cuprum import InvalidArgumentError, SafeCmd
from cuprum.builders import (
    TarCreateOptions,
    git_checkout,
    git_rev_parse,
    git_status,
    rsync_sync,
    tar_create,
    tar_extract,
)

PATH = "must be str or os.PathLike, not"
BASE_DIR = TarCreateOptions(base_dir=5)  # type: ignore[arg-type]
# (builder, positional arguments, keyword arguments, the whole message)
CASES: list[tuple[Callable[..., SafeCmd], tuple[Any, ...], dict[str, Any], str]] = [
    (tar_create, ("/x.tar", None), {}, "sources must be an iterable of paths, not NoneType"),
    (tar_create, ("/x.tar", 5), {}, "sources must be an iterable of paths, not int"),
    (tar_create, (None, ["/a"]), {}, f"archive {PATH} NoneType"),
    (tar_create, ("/x.tar", ["/a", None]), {}, f"sources[1] {PATH} NoneType"),
    (tar_create, ("/x", ["/a"]), {"options": "z"}, "options must be TarCreateOptions or None, not str"),  # noqa: E501
    (tar_create, ("/x", ["/a"]), {"options": BASE_DIR}, f"TarCreateOptions.base_dir {PATH} int"),
    (tar_extract, (None,), {}, f"archive {PATH} NoneType"),
    (tar_extract, ("/x.tar",), {"destination": 5}, f"destination {PATH} int"),
    (rsync_sync, (None, "/b"), {}, f"source {PATH} NoneType"),
    (rsync_sync, ("/a", None), {}, f"destination {PATH} NoneType"),
    (rsync_sync, ("/a", "/b"), {"options": {}}, "options must be RsyncOptions or None, not dict"),
    (git_checkout, (None,), {}, "ref must be str, not NoneType"),
    (git_checkout, ("b",), {"create_branch": True, "start_point": 5}, "start_point must be str, not int"),  # noqa: E501
    (git_checkout, ("main",), {"repo": 5}, f"repo {PATH} int"),
    (git_status, (), {"repo": b"/r"}, f"repo {PATH} bytes"),
    (git_rev_parse, (None,), {}, "ref must be str, not NoneType"),
]  # fmt: skip


@pytest.mark.parametrize(("build", "args", "kwargs", "message"), CASES)
def test_a_wrong_argument_names_the_function_and_parameter(
    build: Callable[..., SafeCmd], args: tuple[Any, ...], kwargs: dict[str, Any], message: str
) -> None:
    whole = f"{build.__name__}: {message}"
    with pytest.raises(InvalidArgumentError, match=f"^{re.escape(whole)}$"):
        build(*args, **kwargs)


def test_other_path_problems_name_the_parameter_too() -> None:
    with pytest.raises(InvalidArgumentError, match=r"^rsync_sync: destination is relative: 'b'"):
        rsync_sync("/a", "b")
    with pytest.raises(InvalidArgumentError, match=r"^tar_create: sources\[0\] contains a '\.\.'"):
        tar_create("/x.tar", ["/a/../b"])
    with pytest.raises(InvalidArgumentError, match=r"^git_checkout: ref: invalid git ref '-x'"):
        git_checkout("-x")


def test_good_arguments_still_build(tmp_path: Path) -> None:
    assert tar_create(tmp_path / "x.tar", [tmp_path]).argv[-1] == str(tmp_path)
    assert rsync_sync(str(tmp_path), "/b").argv[-2:] == (f"{tmp_path}/", "/b")
    assert git_status(repo=tmp_path).argv[:2] == ("-C", str(tmp_path))
    args: Any = git_checkout("feature", create_branch=True, start_point="main").argv
    assert args == ("checkout", "-b", "feature", "main", "--")
