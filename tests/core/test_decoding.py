"""Decoding never hides the error that ended a run, and never loses output.

``errors="strict"``: a run that times out, hits ``on_limit="raise"`` or is
cancelled gives a stream it cannot decode as its bytes (the run's own error wins);
a character split by ``capture_limit`` is left out of the text; only a run that
ended normally raises ``UnicodeDecodeError``. Echo and line events never raise.
"""

from __future__ import annotations

import io
from typing import Any

import anyio
import pytest
from core_support import DEADLINE, PY, cancel_on_line, py, recording, shell

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


# -- UTF-16 and UTF-32 without a byte order mark: every path as bytes.decode -----------
# (a stream without a mark is in the platform's byte order; the standard library's
# incremental decoders raised a bare UnicodeError for it, on every path but the result)

NO_MARK = [
    ("utf-16", "one\ntwo\n".encode("utf-16-le")),
    ("utf-32", "one\ntwo\n".encode("utf-32-le")),
    ("utf-16", "\u20ac\U0001d11e\nx".encode("utf-16-le")),  # a surrogate pair, no newline
]


RELAY = "import sys; sys.stdout.buffer.write(sys.stdin.buffer.read())"
PY_NAME = str(PY)


def writes(data: bytes) -> str:
    """A program that writes ``data`` to stdout."""
    return f"import os; os.write(1, {data!r})"


@pytest.mark.parametrize(("encoding", "data"), NO_MARK, ids=["utf-16", "utf-32", "pair"])
async def test_no_byte_order_mark_decodes_alike_on_every_path(
    anyio_backend: str, encoding: str, data: bytes
) -> None:
    text = data.decode(encoding)  # (the tests run on little-endian hosts)
    lines = text.split("\n")[:-1] if text.endswith("\n") else text.split("\n")
    context = ExecutionContext(encoding=encoding, errors="strict")
    with recording() as rec:
        result = await py(writes(data)).run(context=context, timeout=DEADLINE)
    assert (result.stdout, rec.lines("stdout")) == (text, lines)
    with recording() as rec:
        piped = await (py(writes(data)) | py(RELAY)).run(context=context, timeout=DEADLINE)
    assert (piped.stdout, rec.lines("stdout")) == (text, lines)
    async with py(writes(data)).stream(context=context, timeout=DEADLINE) as handle:
        assert [line async for line in handle.stdout_lines()] == lines
    async with py(writes(data)).stream(context=context, timeout=DEADLINE) as handle:
        assert [line async for batch in handle.stdout_batches() for line in batch] == lines
    async with py(writes(data)).stream(context=context, timeout=DEADLINE) as handle:
        assert (await handle.expect(lines[-1])).before == text[: text.rindex(lines[-1])]


def test_no_byte_order_mark_decodes_alike_in_run_sync() -> None:
    data = "one\ntwo".encode("utf-32-le")
    with recording() as rec:
        result = py(writes(data)).run_sync(context=ExecutionContext(encoding="utf-32"))
    assert (result.stdout, rec.lines("stdout")) == ("one\ntwo", ["one", "two"])


#: Bytes no handler but a lossy one decodes: an odd count, a unit past U+10FFFF.
BROKEN = [
    ("utf-16", b"a\x00\n\x00b"),
    ("utf-16-be", b"\x00a\x00\n\x00"),
    ("utf-32", b"a\x00\x00\x00\n\x00\x00\x00\x00\x00\x11\x00"),
    ("utf-32-le", b"a\x00\x00\x00\n\x00\x00\x00b\x00"),
]


async def lines_then_wait(stream: Any) -> None:
    async with stream as handle:
        assert [line async for line in handle.stdout_lines()] == ["a"]
        await handle.wait()


@pytest.mark.parametrize(("encoding", "data"), BROKEN, ids=[e for e, _ in BROKEN])
async def test_undecodable_wide_output_is_a_unicode_decode_error_naming_the_program(
    anyio_backend: str, encoding: str, data: bytes
) -> None:
    context = ExecutionContext(encoding=encoding, errors="strict")
    note = f"{PY_NAME}: its stdout is not valid {encoding}"
    with recording() as rec, pytest.raises(UnicodeDecodeError) as info:
        await py(writes(data)).run(context=context, timeout=DEADLINE)
    assert note in info.value.__notes__
    assert rec.lines("stdout") == data.decode(encoding, "replace").split("\n")  # U+FFFD
    with pytest.raises(UnicodeDecodeError) as info:
        await (py(writes(data)) | py(RELAY)).run(context=context, timeout=DEADLINE)
    assert note in info.value.__notes__
    with pytest.raises(UnicodeDecodeError) as info:  # the iterator, or wait() at the end
        await lines_then_wait(py(writes(data)).stream(context=context, timeout=DEADLINE))
    assert note in info.value.__notes__
    replaced = ExecutionContext(encoding=encoding)
    result = await py(writes(data)).run(context=replaced, timeout=DEADLINE)
    assert result.stdout == data.decode(encoding, "replace")


async def test_a_strict_line_iterator_names_the_program_as_wait_would(
    anyio_backend: str,
) -> None:
    context = ExecutionContext(encoding="utf-32-le", errors="strict")
    data = "one\n".encode("utf-32-le") + b"\x00\x00\x11\x00" + "\n".encode("utf-32-le")
    async with py(writes(data)).stream(context=context, timeout=DEADLINE) as handle:
        with pytest.raises(UnicodeDecodeError) as info:  # as it reads the bad unit
            await anext(handle.stdout_lines())
    # (Python 3.12+ may add its own "decoding with ... failed" note first)
    assert info.value.__notes__[-1:] == [f"{PY_NAME}: its stdout is not valid utf-32-le"]


# -- surrogateescape past U+10FFFF: escaped as bytes.decode escapes it --------------------


@pytest.mark.parametrize("encoding", ["utf-32", "utf-32-le"])
async def test_surrogateescape_escapes_a_utf32_unit_past_the_last_code_point(
    anyio_backend: str, encoding: str
) -> None:
    data = b"\x80\x80\x80\x80" + "\nok\n".encode("utf-32-le")
    want = data.decode(encoding, "surrogateescape")
    assert want == "\udc80\udc80\udc80\udc80\nok\n"
    context = ExecutionContext(encoding=encoding, errors="surrogateescape")
    with recording() as rec:
        result = await py(writes(data)).run(context=context, timeout=DEADLINE)
    assert (result.stdout, rec.lines("stdout")) == (want, want.split("\n")[:-1])
    async with py(writes(data)).stream(context=context, timeout=DEADLINE) as handle:
        assert [line async for line in handle.stdout_lines()] == want.split("\n")[:-1]
    async with py(writes(data)).stream(context=context, timeout=DEADLINE) as handle:
        assert (await handle.expect("ok")).before == want[: want.index("ok")]
