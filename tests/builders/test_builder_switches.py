"""A builder's switch is a ``bool``: any other value (``"no"``, ``"False"``, ``1``,
``None``) is refused with an error naming the builder and the keyword, never read
as truthy (``"False"`` would add ``--delete``)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cuprum import InvalidArgumentError
from cuprum.builders import (
    RsyncOptions,
    TarCreateOptions,
    git_checkout,
    git_rev_parse,
    git_status,
    rsync_sync,
    safe_path,
    tar_create,
    tar_extract,
)

NOT_BOOLS = st.one_of(
    st.none(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=5),
    st.binary(max_size=3),
    st.lists(st.integers(), max_size=2),
)

# (what the error names, a builder call taking the value for one switch)
SWITCHES: list[tuple[str, Callable[[Any], object]]] = [
    *[
        (f"RsyncOptions.{name}", lambda v, name=name: RsyncOptions(**{name: v}))
        for name in (
            "archive",
            "delete",
            "dry_run",
            "checksum",
            "compress",
            "verbose",
            "copy_contents",
            "allow_relative",
        )
    ],
    *[
        (f"TarCreateOptions.{name}", lambda v, name=name: TarCreateOptions(**{name: v}))
        for name in ("gzip", "bzip2", "xz", "verbose", "allow_relative")
    ],
    ("git_checkout: force", lambda v: git_checkout("main", force=v)),
    ("git_checkout: create_branch", lambda v: git_checkout("main", create_branch=v)),
    ("git_checkout: allow_relative", lambda v: git_checkout("main", allow_relative=v)),
    ("git_status: porcelain", lambda v: git_status(porcelain=v)),
    ("git_status: branch", lambda v: git_status(branch=v)),
    ("git_rev_parse: short", lambda v: git_rev_parse(short=v)),
    ("git_rev_parse: abbrev_ref", lambda v: git_rev_parse(abbrev_ref=v)),
    ("allow_relative", lambda v: tar_extract("/tmp/a.tar", allow_relative=v)),
    ("allow_relative", lambda v: safe_path("/tmp/x", allow_relative=v)),
]


@pytest.mark.parametrize(("named", "build"), SWITCHES, ids=[s[0] for s in SWITCHES])
@given(value=NOT_BOOLS)
def test_a_switch_that_is_not_a_bool_is_refused(
    named: str, build: Callable[[Any], object], value: object
) -> None:
    with pytest.raises(InvalidArgumentError, match=f"{re.escape(named)} is a switch") as caught:
        build(value)
    assert type(value).__name__ in str(caught.value)


@pytest.mark.parametrize("value", ["False", "no", "0", ""])
def test_a_false_looking_string_never_adds_the_flag(value: str) -> None:
    with pytest.raises(InvalidArgumentError, match=r"rsync: RsyncOptions\.delete"):
        rsync_sync("/srv/a", "/srv/b", options=RsyncOptions(delete=value))  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="git_checkout: force"):
        git_checkout("main", force=value)  # type: ignore[arg-type]


def test_bools_still_add_exactly_their_flags() -> None:
    opts = RsyncOptions(delete=True, archive=False)
    assert rsync_sync("/srv/a", "/srv/b", options=opts).argv == (
        "--delete",
        "--",
        "/srv/a/",
        "/srv/b",
    )
    assert git_checkout("main", force=True).argv == ("checkout", "--force", "main", "--")
    tar = tar_create("/tmp/a.tgz", ["/etc/hosts"], options=TarCreateOptions(gzip=True))
    assert "--gzip" in tar.argv
