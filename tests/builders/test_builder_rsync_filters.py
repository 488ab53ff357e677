"""#18: an rsync exclude pattern only ever excludes, whatever rsync rule syntax it holds.

Each case runs the real rsync with ``delete=True`` over a destination holding
``secret``, which an exclude protects; a hostile second pattern must never get it
deleted (``--exclude=!`` used to clear the list, ``--exclude=+ secret`` to include it).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cuprum import ExecutionContext, InvalidArgumentError
from cuprum.builders import RsyncOptions, rsync_sync

pytestmark = pytest.mark.skipif(
    shutil.which("rsync") is None and not os.environ.get("CI"),
    reason="rsync is not installed (apt-get install rsync)",
)

# Every rule prefix and modifier of rsync's FILTER RULES, list clearing, merge files,
# rsync's "_" separator, leading and trailing spaces, and the long rule names.
HOSTILE = (
    "!",
    "+ secret",
    "+ *",
    "+_secret",
    "+",
    "- x",
    "-_x",
    "- ",
    "-",
    "-! */",
    "-C",
    "P x",
    "R secret",
    "R *",
    "H x",
    "S secret",
    ". rules",
    ": rules",
    "merge rules",
    "dir-merge rules",
    "clear",
    "include secret",
    "risk secret",
    "!x",
    "  lead",
    " ",
    "_",
    ",",
    "secret ",
    "\\",
    "*",
)
WILDCARDS = frozenset("*?[\\")
Backend = Literal["asyncio", "trio"]


def _is_plain_name(pattern: str) -> bool:
    """A pattern rsync matches as one literal file name (no wildcard, no slash)."""
    return "/" not in pattern and pattern not in {".", ".."} and not WILDCARDS.intersection(pattern)


def _sync_around(root: Path, pattern: str, *, first: bool, backend: Backend) -> Path:
    """Mirror ``src`` into ``dest`` with ``delete=True`` and excludes of ``secret`` and
    ``pattern`` (``pattern`` first or second); return ``dest``."""
    src, dest = root / "src", root / "dest"
    src.mkdir()
    dest.mkdir()
    (src / "new.txt").write_text("new\n")
    (dest / "secret").write_text("keep\n")
    (dest / "stale.txt").write_text("stale\n")
    # A rules file a merge rule could read: it would clear the list and risk everything.
    (root / "rules").write_text("!\n+ *\n")
    (dest / "rules").write_text("!\n+ *\n")
    if _is_plain_name(pattern):
        (dest / pattern).write_text("literal\n")
    excludes = (pattern, "secret") if first else ("secret", pattern)
    options = RsyncOptions(delete=True, exclude=excludes)
    # Run in root, so a relative merge-file name would find the rules file there.
    context = ExecutionContext(cwd=root)
    result = rsync_sync(src, dest, options=options).run_sync(context=context, backend=backend)
    assert result.exit_code == 0, result.stderr
    return dest


def _check(dest: Path, pattern: str) -> None:
    assert (dest / "secret").read_text() == "keep\n", pattern
    if _is_plain_name(pattern):
        # The pattern matched its literal name, and nothing more: delete still works.
        assert (dest / pattern).exists(), pattern
        assert (dest / "stale.txt").exists() == (pattern == "stale.txt"), pattern
        assert (dest / "rules").exists() == (pattern == "rules"), pattern


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@pytest.mark.parametrize("first", [True, False], ids=["hostile-first", "hostile-second"])
@pytest.mark.parametrize("pattern", HOSTILE)
def test_a_hostile_pattern_never_deletes_a_protected_file(
    tmp_path: Path, pattern: str, first: bool, backend: Backend
) -> None:
    _check(_sync_around(tmp_path, pattern, first=first, backend=backend), pattern)


PATTERNS = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(alphabet="!+-PRHSC.:,_ /*x", min_size=1, max_size=8),
    st.text(st.characters(codec="utf-8", exclude_characters="\x00\n\r"), min_size=1, max_size=16),
    # Bytes that are not UTF-8 reach rsync as they are (surrogateescape, like a file name).
    st.binary(min_size=1, max_size=8)
    .filter(lambda raw: not set(raw) & set(b"\x00\n\r"))
    .map(os.fsdecode),
)


@settings(max_examples=60, deadline=None)
@given(pattern=PATTERNS, first=st.booleans(), backend=st.sampled_from(["asyncio", "trio"]))
def test_no_pattern_lets_delete_remove_a_protected_file(
    pattern: str, first: bool, backend: Backend
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        _check(_sync_around(Path(tmp), pattern, first=first, backend=backend), pattern)


def test_each_pattern_becomes_one_exclude_filter_rule() -> None:
    options = RsyncOptions(exclude=("!", "+ secret", " lead"))
    assert rsync_sync("/s", "/d", options=options).argv == (
        "--archive",
        "--filter=- !",
        "--filter=- + secret",
        "--filter=-  lead",
        "--",
        "/s/",
        "/d",
    )


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        ("", "empty"),
        ("a\nb", "line break"),
        ("a\rb", "line break"),
        ("a\x00b", "NUL"),
        (3, "int, not str"),
    ],
)
def test_a_bad_pattern_is_refused_naming_rsync_and_the_field(bad: object, problem: str) -> None:
    with pytest.raises(InvalidArgumentError, match=r"^rsync: RsyncOptions\.exclude\[1\]") as info:
        RsyncOptions(exclude=("ok", bad))  # type: ignore[arg-type]
    assert problem in str(info.value)
    with pytest.raises(InvalidArgumentError, match=r"^rsync: RsyncOptions\.exclude is a tuple"):
        RsyncOptions(exclude="*.tmp")  # type: ignore[arg-type]
