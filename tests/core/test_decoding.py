"""Decoding never hides the error that ended a run, and never loses output.

``errors="strict"``: a run that times out, hits ``on_limit="raise"`` or is
cancelled gives a stream it cannot decode as its bytes (the run's own error wins);
a character split by ``capture_limit`` is left out of the text; only a run that
ended normally raises ``UnicodeDecodeError``. Echo and line events never raise.
"""

from __future__ import annotations

import io

import anyio
import pytest
from core_support import DEADLINE, cancel_on_line, py, recording, shell

from cuprum import CaptureLimitExceeded, ExecutionContext, InvalidArgumentError, TimeoutExpired

pytestmark = pytest.mark.anyio

STRICT = ExecutionContext(errors="strict")
#: Long enough for ``sh`` to have written before the deadline, short for the test.
CUT = 0.5
E_ACUTE = "\u00e9".encode()  # two bytes: b"\xc3\xa9"


def writes_then_waits(octal: str, *, to: str = "") -> str:
    """A shell script that writes the bytes ``octal`` (printf escapes), then waits."""
    return f"printf '{octal}' {to}; exec sleep 300"


# -- a timeout wins over strict decoding (issue 10 #4) ---------------------------------


@pytest.mark.parametrize(
    ("octal", "written"),
    [
        ("ab\\303", b"ab\xc3"),  # cut inside a character
        ("ok\\377!", b"ok\xff!"),  # an invalid byte
    ],
)
@pytest.mark.parametrize("stream", ["stdout", "stderr"])
async def test_timeout_with_undecodable_output_raises_timeout_expired_with_the_bytes(
    anyio_backend: str, octal: str, written: bytes, stream: str
) -> None:
    redirect = ">&2" if stream == "stderr" else ""
    with recording() as rec, pytest.raises(TimeoutExpired) as info:
        await shell(writes_then_waits(octal, to=redirect)).run(timeout=CUT, context=STRICT)
    exc = info.value
    kept, other = (exc.output, exc.stderr) if stream == "stdout" else (exc.stderr, exc.output)
    assert kept == written
    assert other == ""  # the other stream decodes: text, as in a result
    assert exc.stdout is exc.output
    assert [e.error for e in rec.terminal] == ["timeout"]


async def test_timeout_with_decodable_output_under_strict_is_text(anyio_backend: str) -> None:
    script = writes_then_waits("caf\\303\\251")
    with pytest.raises(TimeoutExpired) as info:
        await shell(script).run(timeout=CUT, context=STRICT)
    assert info.value.output == "caf\u00e9"


async def test_timeout_keeps_bytes_when_bytes_were_asked_for(anyio_backend: str) -> None:
    with pytest.raises(TimeoutExpired) as info:
        await shell(writes_then_waits("ab\\303")).run(timeout=CUT, context=STRICT, text=False)
    assert info.value.output == b"ab\xc3"


async def test_timeout_under_replace_keeps_the_partial_character(anyio_backend: str) -> None:
    with pytest.raises(TimeoutExpired) as info:
        await shell(writes_then_waits("ab\\303")).run(timeout=CUT)
    assert info.value.output == "ab\ufffd"


# -- a capture limit wins over strict decoding (issue 10 #5) ---------------------------


async def test_limit_inside_a_character_raises_capture_limit_with_the_whole_characters(
    anyio_backend: str,
) -> None:
    script = writes_then_waits("\\303\\251" * 10)
    with recording() as rec, pytest.raises(CaptureLimitExceeded) as info:
        await shell(script).run(capture_limit=3, on_limit="raise", context=STRICT, timeout=DEADLINE)
    exc = info.value
    assert (exc.stream, exc.limit) == ("stdout", 3)
    assert exc.captured == "\u00e9"  # the character the limit split is left out
    assert {e.error for e in rec.terminal} == {"capture_limit"}
    assert len(rec.terminal) == 1


async def test_limit_after_an_invalid_byte_gives_the_captured_bytes(anyio_backend: str) -> None:
    script = writes_then_waits("\\377" + "\\303\\251" * 10, to=">&2")
    with recording() as rec, pytest.raises(CaptureLimitExceeded) as info:
        await shell(script).run(capture_limit=4, on_limit="raise", context=STRICT, timeout=DEADLINE)
    assert info.value.stream == "stderr"
    assert info.value.captured == b"\xff" + E_ACUTE + b"\xc3"  # exactly `limit` bytes
    assert [e.error for e in rec.terminal] == ["capture_limit"]


async def test_truncating_inside_a_character_under_strict_is_not_an_error(
    anyio_backend: str,
) -> None:
    code = "import os; os.write(1, ('é' * 10).encode()); os.write(2, b'x\\xc3\\xa9')"
    result = await py(code).run(capture_limit=2, context=STRICT)
    assert (result.stdout, result.stdout_truncated) == ("\u00e9", True)
    assert (result.stderr, result.stderr_truncated) == ("x", True)
    assert result.ok


# -- a run that ended normally still decodes strictly ---------------------------------


async def test_strict_decoding_of_a_finished_run_names_the_program_and_stream(
    anyio_backend: str,
) -> None:
    with recording() as rec, pytest.raises(UnicodeDecodeError) as info:
        await py("import os; os.write(2, b'bad \\xff')").run(context=STRICT)
    assert any("stderr" in note and "python" in note for note in info.value.__notes__)
    assert [e.phase for e in rec.terminal] == ["exit"]


# -- echo and line events never raise -------------------------------------------------


async def test_line_events_and_echo_under_strict_get_replacement_characters(
    anyio_backend: str,
) -> None:
    sink = io.StringIO()
    context = ExecutionContext(errors="strict", stdout_sink=sink)
    script = "import os; os.write(1, b'one \\xff\\ntwo \\xc3')"
    with recording() as rec, pytest.raises(UnicodeDecodeError):
        await py(script).run(context=context, echo=True)
    assert rec.lines("stdout") == ["one \ufffd", "two \ufffd"]
    assert sink.getvalue() == "one \ufffd\ntwo \ufffd"
    assert [e.phase for e in rec.terminal] == ["exit"]


async def test_line_events_under_strict_before_a_timeout(anyio_backend: str) -> None:
    with recording() as rec, pytest.raises(TimeoutExpired) as info:
        await shell(writes_then_waits("one \\377\\ntwo \\303")).run(timeout=CUT, context=STRICT)
    assert info.value.output == b"one \xff\ntwo \xc3"
    assert rec.lines("stdout") == ["one \ufffd", "two \ufffd"]
    assert [e.error for e in rec.terminal] == ["timeout"]


async def test_line_events_under_surrogatepass_do_not_fail(anyio_backend: str) -> None:
    context = ExecutionContext(errors="surrogatepass")
    with recording() as rec, pytest.raises(UnicodeDecodeError):
        await py("import os; os.write(1, b'a\\xff\\nb\\n')").run(context=context)
    assert rec.lines("stdout") == ["a\ufffd", "b"]
    assert [e.phase for e in rec.terminal] == ["exit"]


async def test_an_error_handler_that_cannot_decode_is_refused_up_front(
    anyio_backend: str,
) -> None:
    context = ExecutionContext(errors="xmlcharrefreplace")
    with recording() as rec, pytest.raises(InvalidArgumentError) as info:
        await py("print('x')").run(context=context)
    assert "python" in str(info.value)
    assert "ExecutionContext.errors must name an error handler that can decode" in str(info.value)
    assert rec.events == []


# -- the default handler never loses output -------------------------------------------


async def test_default_errors_keep_every_byte_as_a_character(anyio_backend: str) -> None:
    raw = bytes(range(256)) * 4
    code = f"import os; os.write(1, {raw!r}); os.write(1, b'\\xc3')"
    with recording() as rec:
        result = await py(code).run()
    assert result.stdout == (raw + b"\xc3").decode("utf-8", "replace")
    assert "\n".join(rec.lines("stdout")) == result.stdout


async def test_a_cancelled_run_under_strict_ends_its_events_without_decoding(
    anyio_backend: str,
) -> None:
    scope = anyio.CancelScope()
    with scope, recording(on_line=cancel_on_line(scope, "ready \ufffd")) as rec:
        await shell("printf 'ready \\377\\n'; exec sleep 300").run(context=STRICT, timeout=DEADLINE)
    assert scope.cancelled_caught
    assert rec.lines("stdout") == ["ready \ufffd"]
    assert [e.error for e in rec.terminal] == ["cancelled"]
