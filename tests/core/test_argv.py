"""Building argv with ``sh.make``: stringification, flags, and what is refused."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest
from core_support import PY, TEST_CATALOGUE, TEST_PROJECT, py
from hypothesis import given, settings
from hypothesis import strategies as st

from cuprum import (
    DEFAULT_CATALOGUE,
    ECHO,
    Arg,
    InvalidArgumentError,
    Program,
    SafeCmd,
    sh,
)

echo = sh.make(ECHO)

# Anything that can travel through execve: no NUL, no lone surrogates.
arg_text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"))
flag_names = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True)
positional = st.one_of(
    arg_text,
    st.integers(),
    st.floats(allow_nan=False),
    st.booleans(),
    st.builds(Path, arg_text),
)


@given(st.lists(positional, max_size=8))
def test_positional_arguments_are_stringified_with_str(args: list[Arg]) -> None:
    cmd = echo(*args)
    assert cmd.argv == tuple(str(arg) for arg in args)
    assert cmd.argv_with_program == ("echo", *cmd.argv)
    assert cmd.program == ECHO


@given(st.dictionaries(flag_names, positional, max_size=6))
def test_keyword_arguments_become_long_flags(flags: dict[str, Arg]) -> None:
    cmd = echo(**flags)
    expected = tuple(f"--{name.replace('_', '-')}={value}" for name, value in flags.items())
    assert cmd.argv == expected
    for arg in cmd.argv:
        flag = arg.split("=", 1)[0]
        assert "_" not in flag


@given(st.lists(arg_text, max_size=4), st.dictionaries(flag_names, arg_text, max_size=4))
def test_flags_follow_positionals_in_call_order(args: list[str], flags: dict[str, str]) -> None:
    cmd = echo(*args, **flags)
    assert cmd.argv[: len(args)] == tuple(args)
    assert len(cmd.argv) == len(args) + len(flags)


@given(
    st.lists(positional, max_size=4),
    st.integers(min_value=0, max_value=4),
)
def test_none_positional_is_rejected_naming_the_program(args: list[Arg | None], where: int) -> None:
    args.insert(min(where, len(args)), None)
    with pytest.raises(InvalidArgumentError, match=r"^echo: argument \d+ is None"):
        echo(*args)  # type: ignore[arg-type]


@given(flag_names)
def test_none_flag_is_rejected_naming_program_and_flag(name: str) -> None:
    flag = "--" + name.replace("_", "-")
    with pytest.raises(InvalidArgumentError) as excinfo:
        echo("ok", **{name: None})  # type: ignore[arg-type]
    assert str(excinfo.value).startswith("echo: ")
    assert flag in str(excinfo.value)


@given(arg_text, arg_text)
def test_nul_bytes_are_rejected(before: str, after: str) -> None:
    poisoned = f"{before}\x00{after}"
    with pytest.raises(InvalidArgumentError, match="NUL"):
        echo(poisoned)
    with pytest.raises(InvalidArgumentError, match=r"^echo: --value contains a NUL byte"):
        echo(value=poisoned)
    with pytest.raises(InvalidArgumentError, match="NUL"):
        SafeCmd(ECHO, ("ok", poisoned), TEST_PROJECT)


def test_invalid_argument_error_is_a_value_error() -> None:
    assert issubclass(InvalidArgumentError, ValueError)


def test_directly_constructed_safecmd_is_validated() -> None:
    project = DEFAULT_CATALOGUE.lookup(ECHO).project
    with pytest.raises(InvalidArgumentError, match="not str"):
        SafeCmd(ECHO, ("ok", 3), project)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="program name"):
        SafeCmd(Program(""), (), project)
    with pytest.raises(InvalidArgumentError, match="program name"):
        SafeCmd(Program("ec\x00ho"), (), project)


def test_safecmd_is_immutable_and_carries_project_metadata() -> None:
    cmd = echo("-n", "hello world")
    assert cmd.argv_with_program == ("echo", "-n", "hello world")
    assert cmd.project is DEFAULT_CATALOGUE.lookup(ECHO).project
    with pytest.raises(dataclasses.FrozenInstanceError):
        cmd.argv = ()  # type: ignore[misc]
    assert cmd == echo("-n", "hello world")
    assert hash(cmd) == hash(echo("-n", "hello world"))


def test_builder_for_a_custom_catalogue() -> None:
    builder = sh.make(PY, catalogue=TEST_CATALOGUE)
    assert builder.program == PY
    assert builder.project is TEST_PROJECT
    assert "core-tests" in repr(builder)


@settings(max_examples=25, deadline=None)
@given(st.lists(arg_text, max_size=6))
def test_argv_reaches_the_child_exactly(args: list[str]) -> None:
    """What the builder makes is what the program receives: no shell, no splitting."""
    cmd = py("import json, sys; print(json.dumps(sys.argv[1:]))", *args)
    result = cmd.run_sync()
    assert result.ok, result.stderr
    assert isinstance(result.stdout, str)
    assert json.loads(result.stdout) == args


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (["a", "b"], "list"),
        (("a", "b"), "tuple"),
        ({"a"}, "set"),
        (frozenset({"a"}), "frozenset"),
        ({"a": "b"}, "dict"),
        ({"a": "b"}.keys(), "dict_keys"),
        ({"a": "b"}.values(), "dict_values"),
        (range(3), "range"),
        (iter(["a"]), "list_iterator"),
        ((x for x in "ab"), "generator"),
        (b"raw", "bytes"),
        (bytearray(b"raw"), "bytearray"),
        (memoryview(b"raw"), "memoryview"),
    ],
    ids=lambda v: type(v).__name__ if not isinstance(v, str) else v,
)
def test_a_collection_or_bytes_is_refused_not_mangled(value: object, kind: str) -> None:
    """``str()`` of a list is ``"['a', 'b']"``: never what the caller meant."""
    with pytest.raises(InvalidArgumentError) as caught:
        echo("ok", value)  # type: ignore[arg-type]
    message = str(caught.value)
    assert message.startswith(f"echo: argument 1 is a {kind} (")
    assert "not one argument" in message
    with pytest.raises(InvalidArgumentError, match=rf"^echo: --files is a {kind} \("):
        echo(files=value)  # type: ignore[arg-type]


def test_the_refusal_says_what_to_do() -> None:
    with pytest.raises(InvalidArgumentError, match=r"separate arguments \(echo\(\*items\)\)"):
        echo(["a", "b"])  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match=r"as flags \(echo\(\*\*mapping\)\)"):
        echo({"a": 1})  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match=r"os\.fsdecode"):
        echo(b"x")  # type: ignore[arg-type]


def test_other_objects_are_still_converted_with_str() -> None:
    import uuid
    from decimal import Decimal
    from ipaddress import ip_network

    some = uuid.UUID(int=1)
    net = ip_network("10.0.0.0/8")  # iterable, but not a container of arguments
    assert echo(some, Decimal("1.5"), net).argv == (str(some), "1.5", "10.0.0.0/8")  # type: ignore[arg-type]
    assert echo(Path("/tmp/x"), 3, 2.5, True).argv == ("/tmp/x", "3", "2.5", "True")


@pytest.mark.parametrize("text", ["\ud800", "a\udfffb"])
def test_text_the_os_cannot_encode_is_refused_at_build_time(text: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        echo("ok", text)
    message = str(caught.value)
    assert message.startswith("echo: argument 1 ")
    assert "cannot be encoded for the operating system" in message
    with pytest.raises(InvalidArgumentError, match=r"^echo: --name '.*' cannot be encoded") as flag:
        echo("ok", name=text)  # the flag is named, not "argument 1 '--name=...'"
    assert isinstance(flag.value.__cause__, UnicodeEncodeError)
    with pytest.raises(InvalidArgumentError, match="cannot be encoded"):
        SafeCmd(ECHO, ("ok", text), TEST_PROJECT)
    str(caught.value).encode("utf-8")  # the message itself can be printed


def test_surrogate_escapes_from_real_bytes_are_accepted_and_arrive_intact() -> None:
    raw = b"caf\xe9"  # Latin-1 bytes, not UTF-8: os.fsdecode keeps them as \udce9
    arg = os.fsdecode(raw)
    cmd = py("import os, sys; sys.stdout.buffer.write(os.fsencode(sys.argv[1]))", arg)
    assert cmd.run_sync(text=False).stdout == raw


def test_a_program_name_the_os_cannot_encode_is_refused() -> None:
    with pytest.raises(InvalidArgumentError, match=r"the program name .*cannot be encoded"):
        SafeCmd(Program("ec\ud800ho"), (), TEST_PROJECT)
