"""A builder argument whose own conversion fails, and refusals that name the flag.

Whatever a caller passes (any type, any text), ``sh.make(...)(...)`` either builds a
command whose argv can reach the program intact, or raises ``InvalidArgumentError``
naming the program and the position (``argument 1``) or the flag (``--mode``), with
the failing conversion's own exception as ``__cause__``: never a bare ``ValueError``,
``TypeError`` or whatever a user's ``__str__`` raised.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import hypothesis.strategies as st
import pytest
from core_support import reaches_the_program_intact
from hypothesis import given

from cuprum import ECHO, InvalidArgumentError, SafeCmd, Secret, sh
from cuprum._core.secret import reveal

echo = sh.make(ECHO)

BIG = 10**5000  # str() refuses it: past sys.get_int_max_str_digits()


class StrReturns:
    """``__str__`` returns ``result``, which need not be a ``str``."""

    def __init__(self, result: object) -> None:
        self.result = result

    def __str__(self) -> Any:
        return self.result

    def __repr__(self) -> str:
        return f"StrReturns({self.result!r})"


class StrRaises:
    """``__str__`` raises ``error``."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def __str__(self) -> str:
        raise self.error

    def __repr__(self) -> str:
        return f"StrRaises({self.error!r})"


class FsPathReturns(os.PathLike):  # type: ignore[type-arg]
    """``__fspath__`` returns ``result`` (a path is a ``str`` or ``bytes``; others fail)."""

    def __init__(self, result: object) -> None:
        self.result = result

    def __fspath__(self) -> Any:
        return self.result

    def __repr__(self) -> str:
        return f"FsPathReturns({self.result!r})"


class FsPathRaises(os.PathLike):  # type: ignore[type-arg]
    def __init__(self, error: Exception) -> None:
        self.error = error

    def __fspath__(self) -> str:
        raise self.error

    def __repr__(self) -> str:
        return f"FsPathRaises({self.error!r})"


class SneakyStr(str):
    """A ``str`` whose ``__str__`` says something else: its text is what counts."""

    __slots__ = ("result",)
    result: object

    def __new__(cls, text: str, result: object) -> SneakyStr:
        self = super().__new__(cls, text)
        self.result = result
        return self

    def __str__(self) -> Any:
        return self.result

    def __contains__(self, item: object) -> bool:
        return False  # would hide a NUL from a check that asked the object

    def __repr__(self) -> str:
        return f"SneakyStr({str.__repr__(self)}, {self.result!r})"


FAILING: list[tuple[object, type[BaseException]]] = [
    (BIG, ValueError),  # its repr() fails too: the ids below are the types
    (StrReturns(5), TypeError),
    (StrReturns(None), TypeError),
    (StrReturns(b"bytes"), TypeError),
    (StrRaises(RuntimeError("boom")), RuntimeError),
    (StrRaises(ValueError("bad value")), ValueError),
    (FsPathRaises(OSError("no such path")), OSError),
    (FsPathReturns(5), TypeError),
    (FsPathReturns(None), TypeError),
]

IDS = [f"{type(value).__name__}-{cause.__name__}" for value, cause in FAILING]


@pytest.mark.parametrize(("value", "cause"), FAILING, ids=IDS)
def test_a_failing_conversion_is_refused_naming_the_position(
    value: object, cause: type[BaseException]
) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        echo("ok", value)  # type: ignore[arg-type]
    message = str(caught.value)
    assert message.startswith(f"echo: argument 1 ({type(value).__name__}) cannot be converted")
    assert isinstance(caught.value.__cause__, cause)
    assert str(caught.value.__cause__) in message


@pytest.mark.parametrize(("value", "cause"), FAILING, ids=IDS)
def test_a_failing_conversion_is_refused_naming_the_flag(
    value: object, cause: type[BaseException]
) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        echo("ok", dry_run=value)  # type: ignore[arg-type]
    assert str(caught.value).startswith(f"echo: --dry-run ({type(value).__name__}) cannot")
    assert isinstance(caught.value.__cause__, cause)


def test_the_guide_examples() -> None:
    with pytest.raises(InvalidArgumentError, match=r"^echo: argument 0 \(int\) .*4300 digits"):
        echo(BIG)
    with pytest.raises(InvalidArgumentError, match=r"^echo: argument 0 \(StrReturns\) .*non-str"):
        echo(StrReturns(5))  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match=r"^echo: --mode contains a NUL byte$"):
        echo(mode="a\x00b")
    with pytest.raises(InvalidArgumentError, match=r"^echo: --mode '\\ud800' cannot be encoded"):
        echo(mode="\ud800")
    with pytest.raises(InvalidArgumentError, match=r"^echo: --mode contains a NUL byte$"):
        echo(mode=FsPathReturns("a\x00b"))


def test_a_collection_holding_a_huge_int_is_refused_as_a_collection() -> None:
    """Describing the refused value must not fail in turn (``repr(BIG)`` raises too)."""
    with pytest.raises(InvalidArgumentError, match=r"^echo: argument 0 is a list \(<list obj"):
        echo([BIG])  # type: ignore[arg-type]


def test_a_str_subclass_is_passed_as_its_text() -> None:
    """Text is passed as it is: an overridden ``__str__`` (or ``__contains__``) of a
    ``str`` subclass decides neither the argument nor what is checked."""
    cmd = echo(SneakyStr("text", 5), mode=SneakyStr("m", None))
    assert cmd.argv == ("text", "--mode=m")
    assert [type(arg) for arg in cmd.argv] == [str, str]
    with pytest.raises(InvalidArgumentError, match=r"^echo: argument 0 contains a NUL byte$"):
        echo(SneakyStr("a\x00b", "fine"))
    with pytest.raises(InvalidArgumentError, match=r"^echo: --mode contains a NUL byte$"):
        echo(mode=SneakyStr("a\x00b", "fine"))


def test_a_path_naming_bytes_is_decoded_and_a_bad_one_named() -> None:
    assert echo(FsPathReturns(b"caf\xe9")).argv == (os.fsdecode(b"caf\xe9"),)
    with pytest.raises(InvalidArgumentError, match=r"^echo: argument 0 contains a NUL byte$"):
        echo(FsPathReturns(b"a\x00b"))
    with pytest.raises(InvalidArgumentError, match=r"^echo: --to '\\udfff' cannot be encoded"):
        echo(to=FsPathReturns("\udfff"))


def test_a_secret_flag_value_is_checked_without_showing_it() -> None:
    value = "hunter2-\x00-secret"
    with pytest.raises(InvalidArgumentError) as caught:
        echo(token=Secret(value))
    assert str(caught.value) == "echo: --token (a Secret) contains a NUL byte"
    with pytest.raises(InvalidArgumentError) as caught:
        echo(Secret("hunter2\ud800"))
    message = str(caught.value)
    assert message.startswith("echo: argument 0 (a Secret) cannot be encoded")
    assert "hunter2" not in message
    assert caught.value.__cause__ is None  # the UnicodeEncodeError holds the value
    with pytest.raises(InvalidArgumentError, match=r"^echo: argument 0 \(a Secret\) .*NUL"):
        echo(Secret(b"a\x00b"))
    with pytest.raises(InvalidArgumentError, match=r"^echo: --token is a bytes Secret"):
        echo(token=Secret(b"raw"))  # was a bare TypeError from joining it to "--token="
    flag = echo(token=Secret("fine"))
    assert type(flag.argv[0]) is Secret
    assert str(flag.argv[0]) == "--token=***"
    assert reveal(flag.argv[0]) == "--token=fine"


def test_a_flag_name_that_cannot_reach_the_program_is_refused() -> None:
    # (any name but ASCII letters, digits, "_" and "-" is: tests/builders/test_flag_names.py)
    with pytest.raises(InvalidArgumentError, match=r"^echo: keyword argument 'a\\x00b' is not"):
        echo(**{"a\x00b": "x"})
    with pytest.raises(InvalidArgumentError, match=r"^echo: keyword argument '\\ud800' is not"):
        echo(**{"\ud800": "x"})


# -- any value at all -------------------------------------------------------------

any_text = st.text(st.characters(exclude_categories=()))  # NUL and lone surrogates too
errors = st.sampled_from([ValueError("v"), TypeError("t"), OSError("o"), KeyError("k")])
results = st.one_of(any_text, st.integers(), st.none(), st.binary(), st.floats())
values = st.one_of(
    any_text,
    st.integers(),
    st.integers(4300, 6000).map(lambda digits: 10**digits),
    st.floats(),
    st.booleans(),
    st.none(),
    st.binary(),
    st.lists(any_text, max_size=3),
    st.dictionaries(any_text, any_text, max_size=2),
    st.builds(StrReturns, results),
    st.builds(StrRaises, errors),
    st.builds(FsPathReturns, results),
    st.builds(FsPathRaises, errors),
    st.builds(SneakyStr, any_text, results),
    st.builds(Secret, st.one_of(any_text, st.binary())),
)


def _build(make: Callable[[], SafeCmd]) -> tuple[SafeCmd | None, InvalidArgumentError | None]:
    try:
        return make(), None
    except InvalidArgumentError as exc:
        return None, exc


def _named(refused: InvalidArgumentError, start: str, value: object) -> None:
    """The refusal names the program and the position or flag; a failing conversion's
    own error is its cause."""
    message = str(refused)
    assert message.startswith(start), message
    message.encode("utf-8")  # printable as it is
    if isinstance(value, StrRaises | FsPathRaises):
        assert refused.__cause__ is value.error


@given(values)
def test_any_positional_value_builds_an_intact_argv_or_is_refused_by_position(
    value: object,
) -> None:
    cmd, refused = _build(lambda: echo("ok", value))  # type: ignore[arg-type]
    if refused is not None:
        _named(refused, "echo: argument 1 ", value)
        return
    assert cmd is not None
    assert type(cmd.argv) is tuple
    assert len(cmd.argv) == 2
    for arg in cmd.argv:
        reaches_the_program_intact(arg)


@given(values)
def test_any_flag_value_builds_an_intact_argv_or_is_refused_by_flag(value: object) -> None:
    cmd, refused = _build(lambda: echo("ok", log_level=value))  # type: ignore[arg-type]
    if refused is not None:
        _named(refused, "echo: --log-level ", value)
        return
    assert cmd is not None
    assert len(cmd.argv) == 2
    assert cmd.argv[1].startswith("--log-level=")
    for arg in cmd.argv:
        reaches_the_program_intact(arg)
