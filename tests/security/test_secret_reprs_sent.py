"""A ``repr()`` shows text escaped (``\\n``, ``\\'``, ``\\xe2`` in bytes); redacting a
result's or an error's ``repr()`` hides a secret's value in those forms too, whatever
the value and whatever text is around it (hypothesis)."""

from __future__ import annotations

from hypothesis import assume, given
from hypothesis import strategies as st

from cuprum import CommandFailedError, CommandResult, Secret, TimeoutExpired
from cuprum._core.secret import redact

values = st.text(min_size=1, max_size=12).filter(lambda v: "***" not in v and "\0" not in v)
around = st.text(max_size=6)


@given(value=values, before=around, after=around)
def test_a_repr_never_shows_the_value_escaped(value: str, before: str, after: str) -> None:
    text = before + value + after
    raw = text.encode("utf-8", "surrogatepass")
    shown = redact(repr((text, raw)), [Secret(value)])
    for form in {value, repr(value)[1:-1], repr(value.encode("utf-8", "surrogatepass"))[2:-1]}:
        assert form not in shown.replace("***", "\0")  # (no form spans a redaction)


@given(value=values)
def test_errors_and_results_hide_the_value_however_it_is_escaped(value: str) -> None:
    secret = Secret(value)
    output = f"got {value}\n"
    failed = CommandFailedError(1, ["prog"], output, output.encode(), secrets=(secret,))
    timed_out = TimeoutExpired(["prog"], 1.0, output.encode(), output, secrets=(secret,))
    result = CommandResult("prog", ("prog",), 0, 1, output, None, secrets=(secret,))
    # (a value the reprs show anyway, without it - "0" in "1.0" - proves nothing)
    blank = "got \n"
    plain = (
        CommandFailedError(1, ["prog"], blank, blank.encode()),
        TimeoutExpired(["prog"], 1.0, blank.encode(), blank),
        CommandResult("prog", ("prog",), 0, 1, blank, None),
    )
    assume(all(repr(value)[1:-1] not in f"{obj!r} {obj}" for obj in plain))
    for shown in (repr(failed), str(failed), repr(timed_out), repr(result)):
        assert repr(value)[1:-1] not in shown.replace("***", "\0")


def test_the_common_escapes() -> None:
    for value in ["new\nline", "tab\there", "it's", 'say "hi"', "back\\slash", "p\u20acss"]:
        shown = repr(
            CommandResult("prog", ("prog",), 0, 1, value, value.encode(), secrets=(Secret(value),))
        )
        assert "***" in shown
        assert repr(value)[1:-1] not in shown
        assert repr(value.encode())[2:-1] not in shown
