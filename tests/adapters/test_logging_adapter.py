"""structured_logging_hook and JsonLoggingFormatter against real runs."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from adapters_support import PROJECT, PY, lines_then_exit, missing, py

from cuprum import ExecutionContext, ProgramNotFoundError, sh
from cuprum.adapters.logging_adapter import (
    EVENT_FIELDS,
    JsonLoggingFormatter,
    structured_logging_hook,
)

pytestmark = pytest.mark.anyio


class ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, ListHandler]]:
    logger = logging.getLogger("cuprum.tests.structured")
    handler = ListHandler()
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, handler
    logger.removeHandler(handler)


def _field(record: logging.LogRecord, name: str) -> object:
    return record.__dict__[name]


async def test_one_record_per_event_with_every_field(
    captured: tuple[logging.Logger, ListHandler],
) -> None:
    logger, handler = captured
    ctx = ExecutionContext(tags={"request": "r-1"})
    with sh.observe(structured_logging_hook(logger=logger)):
        result = await lines_then_exit("l", 2).run(context=ctx)
    records = handler.records
    phases = [_field(r, "cuprum_phase") for r in records]
    assert phases[:2] == ["plan", "start"]
    assert phases[-1] == "exit"
    assert sorted(map(str, phases[2:-1])) == ["stderr", "stdout", "stdout"]
    for record in records:
        for name in EVENT_FIELDS:
            assert hasattr(record, name), name
        assert _field(record, "cuprum_program") == PY
        assert _field(record, "cuprum_argv") == list(result.argv)
        assert _field(record, "cuprum_tags") == {"project": PROJECT, "request": "r-1"}
    plan, start, *_, exit_ = records
    assert _field(plan, "cuprum_pid") is None
    assert _field(start, "cuprum_pid") == result.pid
    assert _field(exit_, "cuprum_exit_code") == 0
    assert _field(exit_, "cuprum_duration_s") == result.duration_s
    assert [r.levelno for r in (plan, start, exit_)] == [logging.INFO] * 3
    lines = [r for r in records if _field(r, "cuprum_phase") == "stdout"]
    assert [_field(r, "cuprum_line") for r in lines] == ["l-0", "l-1"]
    assert all(r.levelno == logging.DEBUG for r in lines)


async def test_failures_log_at_failure_level(
    captured: tuple[logging.Logger, ListHandler],
) -> None:
    logger, handler = captured
    with sh.observe(structured_logging_hook(logger=logger, failure_level=logging.ERROR)):
        await lines_then_exit("l", 0, code=4).run()
        with pytest.raises(ProgramNotFoundError):
            await missing().run()
    failures = [r for r in handler.records if r.levelno == logging.ERROR]
    assert [_field(r, "cuprum_phase") for r in failures] == ["exit", "error"]
    assert _field(failures[0], "cuprum_exit_code") == 4
    assert _field(failures[1], "cuprum_error") == "spawn_failed"
    assert "not found" in str(_field(failures[1], "cuprum_message"))


async def test_disabled_levels_are_skipped(
    captured: tuple[logging.Logger, ListHandler],
) -> None:
    logger, handler = captured
    logger.setLevel(logging.INFO)
    with sh.observe(structured_logging_hook(logger=logger)):
        await lines_then_exit("l", 50).run()
    assert [_field(r, "cuprum_phase") for r in handler.records] == ["plan", "start", "exit"]


def test_default_logger_is_cuprum_exec(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="cuprum.exec"):
        with sh.observe(structured_logging_hook()):
            lines_then_exit("d", 1).run_sync()
    assert {r.name for r in caplog.records} == {"cuprum.exec"}
    assert "d-0" in caplog.text


ODD_LINES = [
    'quote " and backslash \\',
    "unicode: żółć 漢字 🐍",
    "line\u2028separator and next\x85line",
    '{"looks": ["like", "json"]}',
    "tab\there",
    "100% sure: %s %(name)s",
]


async def test_json_formatter_writes_one_object_per_line() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLoggingFormatter())
    logger = logging.getLogger("cuprum.tests.json")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    code = "import sys\nfor line in sys.argv[1:]:\n    print(line)"
    try:
        with sh.observe(structured_logging_hook(logger=logger)):
            result = await py(code, *ODD_LINES).run()
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    rows = [json.loads(row) for row in text.split("\n") if row]
    assert len(rows) == len(text.splitlines()), "a record spilled over a line break"
    assert [row["cuprum_phase"] for row in rows] == [
        "plan",
        "start",
        *["stdout"] * len(ODD_LINES),
        "exit",
    ]
    for row in rows:
        assert set(EVENT_FIELDS) <= set(row)
        assert row["logger"] == "cuprum.tests.json"
        assert row["cuprum_argv"] == list(result.argv)
        assert row["cuprum_tags"] == {"project": PROJECT}
        assert row["timestamp"].endswith("+00:00")
    # The child's text survives: "\u2028"/"\x85" are kept in the line, only escaped.
    stdout_rows = [row["cuprum_line"] for row in rows if row["cuprum_phase"] == "stdout"]
    assert stdout_rows == ODD_LINES
    assert rows[-1]["cuprum_exit_code"] == 0
    assert rows[-1]["level"] == "INFO"


def test_json_formatter_handles_exceptions_and_unserialisable_values() -> None:
    formatter = JsonLoggingFormatter(extra_fields=("request_id",))

    def fail() -> None:
        raise ValueError("bad")

    try:
        fail()
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "m %s", ("a",), sys.exc_info())
    record.cuprum_thing = object()
    record.request_id = "r-9"
    record.unrelated = "not included"
    row = json.loads(formatter.format(record))
    assert row["message"] == "m a"
    assert "ValueError: bad" in row["exception"]
    assert row["cuprum_thing"].startswith("<object object")
    assert row["request_id"] == "r-9"
    assert "unrelated" not in row
    ascii_only = JsonLoggingFormatter(ensure_ascii=True).format(
        logging.LogRecord("x", logging.INFO, __file__, 1, "żółć", None, None)
    )
    assert ascii_only.isascii()
    assert json.loads(ascii_only)["message"] == "żółć"


@pytest.mark.parametrize("created", [1_700_000_000.123456, 0.5, 1_700_000_000.0, 1_999_999_999.999])
def test_json_timestamps_are_iso_8601_utc(created: float) -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    record.created = created
    stamp = json.loads(JsonLoggingFormatter().format(record))["timestamp"]
    expected = datetime.fromtimestamp(created, UTC)
    assert abs(datetime.fromisoformat(stamp) - expected) <= timedelta(microseconds=1)
    assert stamp.endswith("+00:00")
