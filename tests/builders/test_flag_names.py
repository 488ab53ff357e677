"""A builder's keyword argument is a flag only when its name makes a sane one.

``echo(**{name: value})`` gives ``--name=value`` (``_`` as ``-``) where ``name`` is
ASCII letters, digits, ``_`` and ``-`` starting with a letter or digit; any other
name (``a=b``, a space, NUL, a leading dash or underscore, empty, non-ASCII, a
``Secret``) is an ``InvalidArgumentError`` naming the program and the keyword. So an
argv element a keyword makes is read as exactly one flag and its value: never two
flags (``--a=b=1`` read as ``--a`` with ``b=1``), another option (``---x``) or the
end of the options (``--``).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import hypothesis.strategies as st
import pytest
from hypothesis import example, given

from cuprum import ECHO, InvalidArgumentError, Program, ProgramCatalogue, Secret, sh

echo = sh.make(ECHO)
SANE = re.compile(r"--[A-Za-z0-9][A-Za-z0-9-]*")

#: Any text at all: NUL, lone surrogates, "=", spaces, dashes, non-ASCII.
names = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=12),
    st.text(st.sampled_from("ab1_-= \x00\t\né"), max_size=8),
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,10}", fullmatch=True),
)
values = st.one_of(
    st.text(st.characters(blacklist_characters="\x00\ud800"), max_size=8), st.integers()
)


def _reads_as(argument: str) -> tuple[str, str]:
    """How a program's option parser reads ``--flag=value``: the flag, then its value."""
    flag, equals, value = argument.partition("=")
    assert equals, argument
    return flag, value


@given(name=names, value=values)
@example(name="a=b", value=1)
@example(name="a b", value=1)
@example(name="a\x00b", value=1)
@example(name="-x", value=1)
@example(name="--", value=1)
@example(name="", value=1)
@example(name="_private", value=1)
@example(name="max_count", value="a=b")
def test_a_keyword_is_a_sane_flag_or_refused_by_name(name: str, value: object) -> None:
    try:
        cmd = echo(**{name: value})  # type: ignore[arg-type]
    except InvalidArgumentError as exc:
        message = str(exc)
        assert message.startswith("echo: keyword argument ")
        shown = ascii(name if len(name) <= 40 else name[:40] + "...")
        assert f"keyword argument {shown} is not a flag name: " in message
        assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", name) is None
        return
    (argument,) = cmd.argv
    flag, rest = _reads_as(argument)
    assert SANE.fullmatch(flag), argument
    assert flag == "--" + name.replace("_", "-")
    assert rest == str(value)  # the whole rest is the value, "=" in it or not


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("a=b", "it holds '=' (the argument would read as the flag --a and a value)"),
        ("a b", "it holds ' '"),
        ("a\x00b", "it holds '\\x00'"),
        ("-x", "it starts with '-' (the flag would be '---x')"),
        ("_x", "it starts with '_' (the flag would be '---x')"),
        ("", "it is empty ('--' ends the options)"),
        ("gr\u00f6\u00dfe", "it holds '\\xf6'"),
        ("\ud800", "it holds '\\ud800'"),
    ],
)
def test_the_refusal_says_why(name: str, why: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        echo("ok", **{name: "v"})
    assert str(caught.value) == (
        f"echo: keyword argument {name!a} is not a flag name: {why}; a flag name is "
        "ASCII letters, digits, '_' and '-', starting with a letter or digit"
    )


def test_a_secret_is_a_value_not_a_name() -> None:
    with pytest.raises(InvalidArgumentError, match=r"^echo: keyword argument Secret\('\*\*\*'\)"):
        echo(**{Secret("token"): "v"})
    assert str(echo(token=Secret("v")).argv[0]) == "--token=***"


def test_a_str_subclass_name_is_its_text() -> None:
    class Name(str):
        def replace(self, *args: object) -> str:
            return "--evil"

    assert echo(**{Name("dry_run"): 1}).argv == ("--dry-run=1",)


def test_the_program_gets_each_flag_as_one_argument(tmp_path: Path) -> None:
    py = Program(sys.executable)
    catalogue = ProgramCatalogue.of(py, project="flags")
    show = sh.make(py, catalogue=catalogue)
    code = "import json, sys; print(json.dumps(sys.argv[1:]))"
    result = show("-c", code, max_count=3, dry_run="a=b", **{"9lives": ""}).run_sync()
    assert result.stdout.strip() == '["--max-count=3", "--dry-run=a=b", "--9lives="]'
