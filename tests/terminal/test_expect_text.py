"""A text ``expect()`` leaves exactly the bytes read, wherever its match ends and
however the output came in pieces; its window keeps the character before as context.

The pure tests drive :class:`TextPieces` and :func:`expect` over in-memory pieces;
one test reads a real terminal.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cuprum import Terminal
from cuprum._compose.expect import Patterns, expect
from cuprum._compose.expect_text import TextPieces

from .terminal_support import DEADLINE, py

FRAGMENTS = [b"a", b"b", b"\n", b"\r", b"\r\n", *(c.encode() for c in "é€😀")]
BROKEN = [b"\xff", b"\xe2\x82", b"\xf0\x9f", b"\xc3"]  # not (or not yet) UTF-8
ERRORS = ["strict", "ignore", "surrogateescape", "backslashreplace"]

outputs = st.lists(st.sampled_from(FRAGMENTS + BROKEN), max_size=8).map(b"".join)
cuts = st.lists(st.integers(0, 40), max_size=5)


def _chunks(raw: bytes, cut_at: list[int]) -> list[bytes]:
    bounds = sorted({c for c in cut_at if c <= len(raw)})
    return [raw[a:b] for a, b in zip([0, *bounds], [*bounds, len(raw)], strict=True)]


def _text(data: bytes, errors: str, terminal: bool) -> str:
    """``data`` decoded at once, as the whole output would be."""
    text = data.decode("utf-8", "replace" if errors == "strict" else errors)
    return text.replace("\r\n", "\n") if terminal else text


def _faithful_cuts(raw: bytes, text: str, position: int, errors: str, terminal: bool) -> set[int]:
    """Every byte offset whose two sides decode to the text before and after ``position``
    (``text`` may lack what the decoder still holds: a partial character, a ``\\r``)."""
    after = text[position:] + _text(raw, errors, terminal)[len(text) :]
    return {
        cut
        for cut in range(len(raw) + 1)
        if _text(raw[:cut], errors, terminal) == text[:position]
        and _text(raw[cut:], errors, terminal) == after
    }


def _decoded(
    chunks: list[bytes], errors: str, terminal: bool, final: bool
) -> tuple[TextPieces, str]:
    pieces = TextPieces("utf-8", errors, terminal=terminal)
    text = "".join(pieces.decode(chunk) for chunk in chunks)
    return pieces, text + (pieces.decode(b"", final=True) if final else "")


def test_known_cuts_on_a_terminal() -> None:
    pieces, text = _decoded([b"ab\nc\r", b"\nd\xc3", b"\xa9\xff"], "strict", True, True)
    assert text == "ab\nc\nd\u00e9\ufffd"
    assert pieces.rest(text, 2) == b"\nc\r\nd\xc3\xa9\xff"  # a lone \n stays one
    assert pieces.rest(text, 5) == b"d\xc3\xa9\xff"  # \r\n ends where its \n does
    assert pieces.rest(text, 7) == b"\xff"  # a character split over two pieces
    assert pieces.rest(text, 0) == b"ab\nc\r\nd\xc3\xa9\xff"
    assert pieces.rest(text, len(text)) == b""


@settings(max_examples=300, deadline=None)
@given(
    raw=outputs,
    cut_at=cuts,
    errors=st.sampled_from(ERRORS),
    terminal=st.booleans(),
    final=st.booleans(),
)
def test_the_rest_after_every_position_is_the_bytes_read(
    raw: bytes, cut_at: list[int], errors: str, terminal: bool, final: bool
) -> None:
    pieces, text = _decoded(_chunks(raw, cut_at), errors, terminal, final)
    whole = _text(raw, errors, terminal)
    assert text == whole if final else whole.startswith(text)
    for position in range(len(text) + 1):
        rest = pieces.rest(text, position)
        assert raw.endswith(rest)
        faithful = _faithful_cuts(raw, text, position, errors, terminal)
        if not any(chunk in raw for chunk in BROKEN) or errors == "surrogateescape":
            assert faithful, "a decodable output has a cut at every character"
        # (where none is, the position is inside one character's replacement text)
        assert not faithful or len(raw) - len(rest) in faithful


class Feed:
    """The pieces of an output, decoded one by one as ``expect()`` asks for more."""

    def __init__(self, chunks: list[bytes], pieces: TextPieces) -> None:
        self.chunks, self.pieces = list(chunks), pieces

    async def more(self) -> str:
        while self.chunks:
            if text := self.pieces.decode(self.chunks.pop(0)):
                return text
        return self.pieces.decode(b"", final=True)


@pytest.mark.anyio
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    raw=outputs,
    cut_at=cuts,
    terminal=st.booleans(),
    start=st.integers(0, 40),
    length=st.integers(1, 12),
)
async def test_a_literal_match_leaves_the_bytes_after_it(  # noqa: PLR0917
    anyio_backend: str, raw: bytes, cut_at: list[int], terminal: bool, start: int, length: int
) -> None:
    whole = _text(raw, "strict", terminal)
    start = min(start, max(0, len(whole) - 1))
    literal = whole[start : start + length] or "a"  # (an empty output: nothing to find)
    pieces = TextPieces("utf-8", "strict", terminal=terminal)
    feed = Feed(_chunks(raw, cut_at), pieces)
    given_back: list[bytes] = []
    try:
        found = await expect(
            Patterns("prog", literal, None),
            pieces.decode(b""),
            feed.more,
            lambda text, position: given_back.append(pieces.rest(text, position)),
            program="prog",
            timeout=DEADLINE,
        )
    except EOFError:
        assert literal not in whole and given_back == [raw]
        return
    end = whole.index(literal) + len(literal)
    assert (found.before, found.matched) == (whole[: end - len(literal)], literal)
    rest = given_back[0] + b"".join(feed.chunks)  # and what it has not read yet
    assert given_back == [rest[: len(given_back[0])]]
    assert raw.endswith(rest) and _text(rest, "strict", terminal) == whole[end:]


@pytest.mark.anyio
async def test_a_window_keeps_the_character_before_it_as_context(anyio_backend: str) -> None:
    """``^`` does not match at a window's edge as if the output began there."""
    pieces = TextPieces("utf-8", "strict", terminal=True)
    found = await expect(
        Patterns("prog", re.compile(r"^\$ ", re.MULTILINE), 2),
        pieces.decode(b"x$ "),
        Feed([b"zz\r\n$ ok"], pieces).more,
        lambda text, position: None,
        program="prog",
        timeout=DEADLINE,
    )
    assert (found.before, found.matched) == ("x$ zz\n", "$ ")


LEFT_ALONE = (
    "import os, sys, termios\n"
    "mode = termios.tcgetattr(1)\n"
    "mode[1] &= ~termios.ONLCR\n"  # the terminal passes a lone \\n through as it is
    "termios.tcsetattr(1, termios.TCSANOW, mode)\n"
    "os.write(1, b'ab\\nc\\r\\nd\\xff \\xc3')\n"
    "sys.stdin.readline()\n"
    "os.write(1, b'\\xa9 end')\n"
)


@pytest.mark.anyio
async def test_what_a_text_match_leaves_is_what_the_terminal_sent(anyio_backend: str) -> None:
    async with py(LEFT_ALONE).stream(tty=Terminal(echo_input=False)) as handle:
        await handle.expect("ab", timeout=DEADLINE)
        found = await handle.expect(b"d", timeout=DEADLINE)
        assert found.before == b"\nc\r\n"  # not b"\r\nc\r\n": the text was not re-encoded
        found_text = await handle.expect(" ", timeout=DEADLINE)
        assert found_text.before == "\ufffd"
        await handle.sendline()
        found = await handle.expect(b"end", timeout=DEADLINE)
        assert found.before == b"\xc3\xa9 "  # the half character stayed as it came
        await handle.wait()


@pytest.mark.anyio
async def test_an_undecodable_byte_comes_back_as_itself(anyio_backend: str) -> None:
    async with py(LEFT_ALONE).stream(tty=Terminal(echo_input=False)) as handle:
        await handle.expect("d", timeout=DEADLINE)
        found = await handle.expect(b" ", timeout=DEADLINE)
        assert found.before == b"\xff"  # not the bytes of U+FFFD
        await handle.sendline()
        await handle.wait()
