"""A ``SafeCmd`` or ``Pipeline`` built directly is checked as a builder's would be.

``SafeCmd(ECHO, "abc", project)`` used to run ``echo a b c`` (a string is a sequence
of one-character arguments), a list argv made a "frozen" command that changed with the
list, and a wrong ``project`` or pipeline stage was an ``AttributeError`` at run time.
"""

from __future__ import annotations

import collections
import os
from typing import Any

import hypothesis.strategies as st
import pytest
from core_support import TEST_PROJECT, reaches_the_program_intact
from hypothesis import given

from cuprum import (
    DEFAULT_CATALOGUE,
    ECHO,
    InvalidArgumentError,
    Pipeline,
    Program,
    SafeCmd,
    Secret,
    sh,
)
from cuprum._core.secret import reveal

echo = sh.make(ECHO)
PROJECT = DEFAULT_CATALOGUE.lookup(ECHO).project


def test_a_string_argv_is_refused_not_split_into_characters() -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        SafeCmd(ECHO, "abc", PROJECT)  # type: ignore[arg-type]
    message = str(caught.value)
    assert message.startswith("SafeCmd(echo): argv must be a tuple of str")
    assert "'abc' (str)" in message
    assert "('abc',)" in message  # what was probably meant


@pytest.mark.parametrize(
    "argv",
    [b"abc", None, 7, iter(["a"]), (a for a in "ab"), {"a"}, {"a": "b"}, range(2)],
    ids=lambda v: type(v).__name__,
)
def test_an_argv_that_is_not_a_tuple_or_list_is_refused(argv: object) -> None:
    with pytest.raises(InvalidArgumentError, match=r"^SafeCmd\(echo\): argv must be a tuple"):
        SafeCmd(ECHO, argv, PROJECT)  # type: ignore[arg-type]


def test_a_list_argv_becomes_a_tuple() -> None:
    """A command is immutable (and hashable): it must not change with the caller's list."""
    args = ["-n", "hello"]
    cmd = SafeCmd(ECHO, args, PROJECT)  # type: ignore[arg-type]
    args.append("\x00")
    assert type(cmd.argv) is tuple
    assert cmd.argv == ("-n", "hello")
    assert cmd == SafeCmd(ECHO, ("-n", "hello"), PROJECT)
    assert hash(cmd) == hash(echo("-n", "hello"))
    assert cmd.run_sync().stdout == "hello"


def test_a_tuple_subclass_and_str_subclasses_are_stored_plain() -> None:
    Args = collections.namedtuple("Args", "flag word")
    cmd = SafeCmd(ECHO, Args("-n", Program("word")), PROJECT)
    assert type(cmd.argv) is tuple
    assert [type(arg) for arg in cmd.argv] == [str, str]
    assert cmd.argv == ("-n", "word")
    kept = SafeCmd(ECHO, ("x", Secret("tok")), PROJECT)
    assert type(kept.argv[1]) is Secret  # a secret stays one: only the child sees it
    assert reveal(kept.argv[1]) == "tok"


class _Hiding(str):
    """A ``str`` that hides a NUL from ``in`` and claims to be ASCII."""

    __slots__ = ()

    def __contains__(self, item: object) -> bool:
        return False

    def isascii(self) -> bool:
        return True


def test_each_argument_is_checked_like_builder_output() -> None:
    with pytest.raises(InvalidArgumentError, match=r"^echo: argument 1 is int, not str: 3$"):
        SafeCmd(ECHO, ("ok", 3), PROJECT)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match=r"^echo: argument 0 is int, not str: <int"):
        SafeCmd(ECHO, (10**5000,), PROJECT)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match=r"^echo: argument 1 contains a NUL byte$"):
        SafeCmd(ECHO, ("ok", _Hiding("a\x00b")), PROJECT)
    with pytest.raises(InvalidArgumentError, match=r"^echo: argument 0 \(a Secret\) contains"):
        SafeCmd(ECHO, (Secret("a\x00b"),), PROJECT)
    with pytest.raises(InvalidArgumentError, match="cannot be encoded"):
        SafeCmd(ECHO, ["\ud800"], PROJECT)  # type: ignore[arg-type]


@pytest.mark.parametrize("project", [None, "core-ops", {"name": "core-ops"}, TEST_PROJECT.name])
def test_a_project_that_is_not_project_settings_is_refused_at_construction(
    project: object,
) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        SafeCmd(ECHO, ("a",), project)  # type: ignore[arg-type]
    message = str(caught.value)
    assert message.startswith("SafeCmd(echo): project must be a ProjectSettings")
    assert f"({type(project).__name__})" in message


# -- pipelines ----------------------------------------------------------------------


def test_a_pipeline_part_that_is_not_a_command_is_refused() -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        Pipeline((echo("x"), "echo"))  # type: ignore[arg-type]
    assert str(caught.value) == "Pipeline: parts[1] must be a command (SafeCmd), got 'echo' (str)"
    with pytest.raises(InvalidArgumentError, match=r"parts\[0\] .*None \(NoneType\)"):
        Pipeline((None, echo("x")))  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match=r"parts\[1\] .*\(Pipeline\); join pipelines"):
        Pipeline((echo("x"), echo("y") | echo("z")))  # type: ignore[arg-type]


def test_pipeline_parts_must_be_a_non_empty_tuple_or_list() -> None:
    with pytest.raises(InvalidArgumentError, match=r"^Pipeline: parts must hold at least one"):
        Pipeline(())
    with pytest.raises(InvalidArgumentError, match=r"^Pipeline: parts must be a tuple .*a \| b"):
        Pipeline(echo("x"))  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match=r"^Pipeline: parts must be a tuple"):
        Pipeline(iter([echo("x")]))  # type: ignore[arg-type]
    parts = [echo("a"), echo("b")]
    pipeline = Pipeline(parts)  # type: ignore[arg-type]
    parts.clear()
    assert type(pipeline.parts) is tuple
    assert len(pipeline.parts) == 2
    assert Pipeline((echo("a"),)).run_sync().stdout == "a\n"  # one stage is a pipeline


def test_or_with_something_else_gives_the_other_operand_its_turn() -> None:
    class Sink:
        def __ror__(self, other: object) -> Any:
            return ("sink", other)

    cmd = echo("x")
    assert cmd | Sink() == ("sink", cmd)
    with pytest.raises(TypeError, match=r"'SafeCmd' and 'str'"):
        cmd | "wc"  # type: ignore[operator]


def test_remote_commands_are_commands_in_a_pipeline() -> None:
    """A RemoteCmd is a SafeCmd: host(a | b), and local and remote stages mixed, build."""
    from cuprum.remote import SshHost

    host = SshHost("host.invalid", known_hosts=os.devnull)
    remote = host(echo("a") | echo("b"))
    assert [type(part).__name__ for part in remote.parts] == ["RemoteCmd", "RemoteCmd"]
    mixed = echo("local") | host(echo("far")) | echo("local again")
    assert [type(part).__name__ for part in mixed.parts] == ["SafeCmd", "RemoteCmd", "SafeCmd"]
    assert Pipeline([echo("a"), host(echo("b"))]).parts[1].host is host  # type: ignore[attr-defined, arg-type]


# -- any argv at all ----------------------------------------------------------------

any_text = st.text(st.characters(exclude_categories=()))  # NUL and lone surrogates too
items = st.one_of(
    any_text,
    any_text.map(Program),
    any_text.map(Secret),
    st.binary().map(Secret),
    st.integers(),
    st.none(),
    st.binary(),
    st.lists(any_text, max_size=2),
)
argvs = st.one_of(
    st.lists(items, max_size=5),
    st.lists(items, max_size=5).map(tuple),
    any_text,
    st.binary(),
    st.none(),
    st.integers(),
    st.sets(any_text, max_size=3),
)


@given(argvs)
def test_any_argv_gives_an_intact_tuple_or_is_refused(argv: object) -> None:
    try:
        cmd = SafeCmd(ECHO, argv, PROJECT)  # type: ignore[arg-type]
    except InvalidArgumentError as exc:
        message = str(exc)
        assert message.startswith(("SafeCmd(echo): argv must be", "echo: argument ")), message
        return
    assert isinstance(argv, list | tuple)
    assert type(cmd.argv) is tuple
    assert len(cmd.argv) == len(argv)
    for given_arg, arg in zip(argv, cmd.argv, strict=True):
        reaches_the_program_intact(arg)
        assert str.__str__(arg) == str.__str__(given_arg)
    hash(cmd)
