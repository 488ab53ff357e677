"""A real child prints a secret it was given, whatever characters the value holds
(a token read from a file ends in a newline, a PEM key holds several): no event, line,
batch, log record, span, result or error repr shows it, in text or ``bytes``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from cuprum import (
    CommandFailedError,
    ExecutionContext,
    LineBatch,
    Secret,
    TimeoutExpired,
    observe_batches,
)

from .leak_support import assert_not_shown, secret_values
from .security_support import observed, py

pytestmark = pytest.mark.anyio

# The exact bytes of the value, on both streams, between other text; then exit 1.
ECHO = (
    "import os, sys\n"
    "value = os.environb[b'TOKEN']\n"
    "for stream in (sys.stdout, sys.stderr):\n"
    "    stream.buffer.write(b'out ' + value + b' end\\n' + value); stream.flush()\n"
    "sys.exit(1)"
)

# Quotes the value on stderr, then outlives any timeout.
STALL = (
    "import os, sys, time\n"
    "sys.stderr.write('bad ' + os.environ['TOKEN']); sys.stderr.flush(); time.sleep(300)"
)


class Batches:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, batch: LineBatch) -> None:
        self.lines += batch.lines


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=secret_values())
async def test_no_observer_result_or_error_shows_a_secret(anyio_backend: str, value: str) -> None:
    context = ExecutionContext(env={"TOKEN": Secret(value)})
    batches = Batches()
    with observed() as seen, observe_batches(batches):
        with pytest.raises(CommandFailedError) as failed:
            await py(ECHO).run(context=context, check=True)
        result = await py(ECHO).run(context=context, text=False)
    assert result.stdout == f"out {value} end\n{value}".encode()  # the child got it whole
    lines = [e.line for e in seen.recorder.events if e.line is not None]
    assert len(lines) == len(batches.lines) > 0
    assert_not_shown(value, *lines, *batches.lines, lines_only=True)
    assert_not_shown(value, *(text for _, text in seen.texts()))
    with pytest.raises(CommandFailedError) as failed_bytes:
        result.check()
    for shown in (result, failed.value, failed_bytes.value):
        assert_not_shown(value, repr(shown), str(shown))


@pytest.mark.parametrize(
    "value", ["pa\\ss-1234", "pass\t1234", "pass-1234\n", "pa\"ss'1234", "pässwörd-1234"]
)
def test_a_timeout_never_shows_a_secret_repr_escapes(value: str) -> None:
    context = ExecutionContext(env={"TOKEN": Secret(value)})
    for text in (True, False):
        with pytest.raises(TimeoutExpired) as expired:
            py(STALL).run_sync(context=context, timeout=0.5, text=text)
        assert "1234" not in repr(expired.value) + str(expired.value)


PEM = (
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n"
    "xq3Hn0Zr2v5mQ1aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789ab\n"
    "-----END PRIVATE KEY-----\n"
)


async def test_a_token_read_from_a_file_and_a_key_never_show(
    anyio_backend: str, tmp_path: Path
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("tok-123456789\n")
    token: Secret[Any] = Secret(token_file.read_text())  # with the file's newline
    context = ExecutionContext(env={"TOKEN": token, "KEY": Secret(PEM)})
    code = "import os; print('token is', os.environ['TOKEN']); print(os.environ['KEY'])"
    batches = Batches()
    with observed() as seen, observe_batches(batches):
        result = await py(code).run(context=context)
    assert result.stdout == f"token is tok-123456789\n\n{PEM}\n"
    lines = [e.line for e in seen.recorder.events if e.phase == "stdout"]
    assert lines == ["token is ***", "", "***", "***", "***", "***", ""]
    assert batches.lines == lines
    for secret in ("tok-123456789", *PEM.splitlines()):
        seen.assert_never_shows(secret)
        assert secret not in repr(result)
