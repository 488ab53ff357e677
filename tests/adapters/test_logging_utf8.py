"""#17: JSON records of output that is not UTF-8 reach a UTF-8 handler intact."""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from adapters_support import py
from hypothesis import given, settings
from hypothesis import strategies as st

from cuprum import ExecutionContext, sh
from cuprum.adapters.logging_adapter import JsonLoggingFormatter, structured_logging_hook

pytestmark = pytest.mark.anyio

# A child writing bytes that are not UTF-8 on both streams, and echoing its argument.
BAD_BYTES = (
    "import os, sys\n"
    "out = sys.stdout.buffer\n"
    "out.write(b'caf\\xe9 \\xff\\xfe end\\n' + os.fsencode(sys.argv[1]) + b'\\n')\n"
    "out.flush()\n"
    "sys.stderr.buffer.write(b'warn \\x80\\n')\n"
)
ARG = os.fsdecode(b"arg-\xfd")  # an argument that is not UTF-8 either


@pytest.fixture
def json_logger(tmp_path: Path) -> Iterator[tuple[logging.Logger, Path, io.BytesIO]]:
    """A logger writing JSON through a real FileHandler and a StreamHandler, both UTF-8."""
    logger = logging.getLogger("cuprum.tests.utf8")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    path = tmp_path / "records.jsonl"
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="utf-8", newline="\n", write_through=True)
    handlers: list[logging.Handler] = [
        logging.FileHandler(path, encoding="utf-8"),
        logging.StreamHandler(stream),
    ]
    for handler in handlers:
        handler.setFormatter(JsonLoggingFormatter())
        logger.addHandler(handler)
    yield logger, path, raw
    for handler in handlers:
        logger.removeHandler(handler)
        handler.close()


def _rows(data: bytes) -> list[dict[str, object]]:
    return [json.loads(line) for line in data.decode("utf-8").splitlines()]


def _output(rows: list[dict[str, object]], phase: str) -> list[bytes]:
    """The lines of one stream, as the bytes the program wrote."""
    lines = [str(row["cuprum_line"]) for row in rows if row["cuprum_phase"] == phase]
    return [line.encode("utf-8", "surrogateescape") for line in lines]


async def test_invalid_utf8_output_is_logged_not_dropped(
    json_logger: tuple[logging.Logger, Path, io.BytesIO], capsys: pytest.CaptureFixture[str]
) -> None:
    logger, path, raw = json_logger
    ctx = ExecutionContext(errors="surrogateescape")
    with sh.observe(structured_logging_hook(logger=logger)):
        result = await py(BAD_BYTES, ARG).run(context=ctx, check=True)
    assert "Logging error" not in capsys.readouterr().err
    file_bytes = path.read_bytes()
    assert file_bytes == raw.getvalue()  # decode("utf-8") below is strict: valid UTF-8
    rows = _rows(file_bytes)
    assert [row["cuprum_phase"] for row in rows][:2] == ["plan", "start"]
    assert rows[-1]["cuprum_phase"] == "exit"
    assert len(rows) == 6  # plan, start, two stdout lines, one stderr line, exit
    # json.loads gives back the surrogateescape strings, so the bytes are recoverable.
    assert _output(rows, "stdout") == [b"caf\xe9 \xff\xfe end", b"arg-\xfd"]
    assert _output(rows, "stderr") == [b"warn \x80"]
    assert rows[0]["cuprum_argv"] == list(py(BAD_BYTES, ARG).argv_with_program)
    assert result.stdout is not None and "\udcff" in result.stdout
    assert b"\\udcff" in file_bytes  # written as the escape ensure_ascii=True would use


# Lone surrogates, line and paragraph separators, C0 controls and ordinary text.
_AWKWARD = st.one_of(st.characters(), st.characters(categories=["Cs", "Zl", "Zp", "Cc"]))


@settings(max_examples=300, deadline=None)
@given(message=st.text(_AWKWARD), line=st.text(_AWKWARD))
def test_every_record_is_one_valid_utf8_json_line(message: str, line: str) -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, message, None, None)
    record.cuprum_line = line
    for ensure_ascii in (False, True):
        text = JsonLoggingFormatter(ensure_ascii=ensure_ascii).format(record)
        text.encode("utf-8")  # strict: raises on a lone surrogate
        assert len(text.splitlines()) == 1
        row = json.loads(text)
        assert (row["message"], row["cuprum_line"]) == (message, line)
