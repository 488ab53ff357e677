"""Secret values with the characters ``repr`` escapes, and the checks that a text
shows none of them: not as itself, not as ``repr`` (or a ``bytes`` repr) shows it."""

from __future__ import annotations

from hypothesis import strategies as st

# The marks make a value's first and last line unlike anything else a repr shows
# (field names, the interpreter's path), so finding one there is a leak, not chance.
HEAD, TAIL = "Qz7", "7zQ"

# What repr escapes (\\, \t, \n, \r, quotes, controls, non-ASCII) shows up often;
# any other character too. Left out: NUL (no environment value holds one), lone
# surrogates (not encodable) and "*", which the redaction "***" could complete into a
# value ("x*" in "x***") without showing any of it.
_ESCAPED = st.sampled_from(list("\\\t\n\r\"' \x1b\x7f\x85\u2028äö€中"))
_CHARS = st.one_of(_ESCAPED, st.characters(exclude_categories=["Cs"], exclude_characters="\x00*"))
_ENDINGS = st.sampled_from(["", "", "\n", "\r\n", "\n\n"])


@st.composite
def secret_values(draw: st.DrawFn) -> str:
    """``HEAD + middle + TAIL`` and maybe a newline: a token read from a file ends in one."""
    middle = draw(st.text(_CHARS, max_size=16))
    return f"{HEAD}{middle}{TAIL}{draw(_ENDINGS)}"


def value_lines(value: str) -> list[str]:
    """The lines of ``value`` as line events would show them (split at ``\\n``, a
    ``\\r`` before it dropped) that are not blank: none may show in a line."""
    lines = (line.removesuffix("\r") for line in value.split("\n"))
    return [line for line in lines if line.strip()]


def shown_forms(value: str) -> list[str]:
    """``value`` and its marked lines, as themselves and as ``repr`` shows them (of a
    ``str`` and of its UTF-8 ``bytes``)."""
    texts = [value, *(line for line in value_lines(value) if HEAD in line or TAIL in line)]
    forms = []
    for text in texts:
        forms += [text, repr(text)[1:-1], repr(text.encode())[2:-1]]
    return forms


def assert_not_shown(value: str, *texts: object, lines_only: bool = False) -> None:
    """None of ``texts`` shows ``value``: with ``lines_only``, ``texts`` are output lines
    (every non-blank line of the value is redacted there), else whole reprs and messages."""
    forms = value_lines(value) if lines_only else shown_forms(value)
    for text in texts:
        shown = str(text)
        leaked = [form for form in forms if form in shown]
        assert not leaked, f"{leaked!r} of secret {value!r} shown in {shown!r}"


@st.composite
def secret_bytes(draw: st.DrawFn) -> bytes:
    """A ``bytes`` value (for stdin) between the marks: any byte but ``*``, which
    the redaction could complete into one."""
    middle = draw(st.binary(max_size=16).map(lambda b: b.replace(b"*", b"")))
    return HEAD.encode() + middle + TAIL.encode() + draw(_ENDINGS).encode()
