"""``expect()``: literal and regex patterns, text and bytes, what stays unread, errors."""

from __future__ import annotations

import re

import pytest

from cuprum import (
    PIPE,
    ExpectEOF,
    ExpectError,
    ExpectTimeout,
    InvalidArgumentError,
    RunOptions,
    Terminal,
    TimeoutExpired,
)

from .terminal_support import CAT, DEADLINE, PY, cmd, py, text

pytestmark = pytest.mark.anyio

WORDS = "import sys; sys.stdout.write('alpha beta gamma\\ndelta\\n')"
COPY = "import os, sys\nwhile chunk := os.read(0, 65536):\n    os.write(1, chunk)"


@pytest.fixture(params=["tty", "pipe"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _options(mode: str) -> RunOptions:
    return {"tty": True} if mode == "tty" else {"stdin": PIPE}


async def test_the_earliest_match_wins_and_says_which(anyio_backend: str, mode: str) -> None:
    async with py(WORDS).stream(**_options(mode)) as handle:
        found = await handle.expect(["gamma", re.compile(r"b\w+")], timeout=DEADLINE)
        assert (found.index, found.before, found.matched) == (1, "alpha ", "beta")
        assert found.match is not None and found.match.group() == "beta"
        found = await handle.expect(["delta", "gamma"], timeout=DEADLINE)
        assert (found.index, found.before, found.pattern) == (1, " ", "gamma")
        rest = [line async for line in handle.stdout_lines()]
        await handle.wait()
    assert rest == ["", "delta"]  # what the matches did not consume is still there


async def test_a_literal_is_not_a_regex(anyio_backend: str, mode: str) -> None:
    code = "print('cost: $5 (approx.)')"
    async with py(code).stream(**_options(mode)) as handle:
        found = await handle.expect("$5 (approx.)", timeout=DEADLINE)
        await handle.wait()
    assert found.before == "cost: "


async def test_bytes_patterns_see_the_raw_bytes(anyio_backend: str) -> None:
    async with py("print('one'); print('two')").stream(tty=True) as handle:
        found = await handle.expect(b"one\r\n", timeout=DEADLINE)
        regex = await handle.expect(re.compile(rb"t(w)o"), timeout=DEADLINE)
        result = await handle.wait()
    assert found.before == b"" and found.matched == b"one\r\n"
    assert regex.match is not None and regex.match.group(1) == b"w"
    assert text(result.stdout) == "\n"


async def test_eof_before_a_match_keeps_the_output(anyio_backend: str, mode: str) -> None:
    async with py("print('only this')").stream(**_options(mode)) as handle:
        with pytest.raises(ExpectEOF) as caught:
            await handle.expect("never", timeout=DEADLINE)
        result = await handle.wait()
    assert caught.value.before == "only this\n"
    assert isinstance(caught.value, EOFError) and isinstance(caught.value, ExpectError)
    assert text(result.stdout) == "only this\n"


async def test_a_timeout_names_the_program_and_keeps_what_was_seen(
    anyio_backend: str, mode: str
) -> None:
    async with py(COPY).stream(**_options(mode)) as handle:
        await handle.sendline("partial answer")
        await handle.expect("partial", timeout=DEADLINE)
        with pytest.raises(ExpectTimeout) as caught:
            await handle.expect("never", timeout=0.2)
        assert caught.value.program == PY
        assert str(caught.value).startswith(f"{PY}: none of ['never'] seen within 0.2 seconds")
        assert isinstance(caught.value, TimeoutError)
        assert " answer\n" in caught.value.before
        # nothing was consumed: the next expect sees the same output
        found = await handle.expect("answer", timeout=DEADLINE)
        assert found.before == " "
        await handle.send_eof()
        await handle.wait()


async def test_a_literal_after_a_lot_of_output(anyio_backend: str, mode: str) -> None:
    code = "import sys\nsys.stdout.write('x' * 5_000_000)\nsys.stdout.write('MARK-END')"
    async with py(code).stream(**_options(mode)) as handle:
        found = await handle.expect("MARK-END", timeout=DEADLINE)
        await handle.wait()
    assert len(found.before) == 5_000_000


async def test_a_match_split_across_reads(anyio_backend: str) -> None:
    code = (
        "import sys\n"
        "for part in ('pro', 'mp', 't> '):\n"
        "    sys.stdout.write(part); sys.stdout.flush()\n"
        "    sys.stdin.readline()"
    )
    async with py(code).stream(tty=Terminal(echo_input=False)) as handle:
        await handle.expect("pro", timeout=DEADLINE)
        await handle.sendline()
        await handle.expect("mp", timeout=DEADLINE)
        await handle.sendline()
        found = await handle.expect(["prompt> ", "t> "], timeout=DEADLINE)
        await handle.sendline()
        await handle.wait()
    assert found.index == 1


async def test_a_run_timeout_is_the_error_expect_raises(anyio_backend: str) -> None:
    async with cmd(CAT).stream(tty=True, timeout=0.3) as handle:
        with pytest.raises(TimeoutExpired):
            await handle.expect("never")


@pytest.mark.parametrize(
    ("patterns", "message"),
    [
        ([], "at least one pattern"),
        ("", "empty expect"),
        (["a", b"b"], "all text \\(str\\) or all bytes"),
        ([1], "must be a str, bytes or re.Pattern"),
    ],
)
async def test_bad_patterns_are_refused(anyio_backend: str, patterns: object, message: str) -> None:
    async with cmd(CAT).stream(tty=True) as handle:
        with pytest.raises(InvalidArgumentError, match=message):
            await handle.expect(patterns)  # type: ignore[call-overload]


async def test_what_is_not_a_pattern_is_refused_naming_expect_and_it(anyio_backend: str) -> None:
    bad: list[tuple[object, str]] = [
        (5, "got 5 \\(int\\)"),
        (None, "got None \\(NoneType\\)"),
        (3.5, "got 3.5 \\(float\\)"),
        ({"a"}, "got \\{'a'\\} \\(set\\)"),
        (bytearray(b"ab"), "got bytearray\\(b'ab'\\) \\(bytearray\\)"),
        ([], "got \\[\\]"),
        (["a", 5], "must be a str, bytes or re.Pattern, got 5 \\(int\\)"),
    ]
    async with cmd(CAT).stream(tty=True) as handle:
        for patterns, message in bad:
            with pytest.raises(
                InvalidArgumentError, match=f"^{re.escape(str(CAT))}: .*expect\\(\\) .*{message}$"
            ):
                await handle.expect(patterns, timeout=DEADLINE)  # type: ignore[call-overload]
        for timeout, message in [
            (-1, ">= 0 seconds or None \\(no limit\\), got -1"),
            (float("nan"), ">= 0 seconds or None \\(no limit\\), got nan"),
            ("1", "a number of seconds or None, got '1' \\(str\\)"),
            (True, "a number of seconds or None, got True \\(bool\\)"),
        ]:
            with pytest.raises(
                InvalidArgumentError, match=f"expect\\(\\) timeout must be {message}"
            ):
                await handle.expect("x", timeout=timeout)  # type: ignore[call-overload]
        with pytest.raises(InvalidArgumentError, match="wait_noecho\\(\\) timeout must be >= 0"):
            await handle.wait_noecho(timeout=-1)
        await handle.send_eof()
        await handle.wait()
