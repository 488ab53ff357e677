"""Real runs whose capture decodes as it reads (from the first byte here, where cuprum
starts at 4 MiB): results, ``UnicodeDecodeError``, a timeout's and a limit's output,
a pipeline's last stage and the stream handle's rest are those of one decode at the
end, on asyncio and trio and every stream strategy."""

from __future__ import annotations

import os

import pytest

from cuprum import CaptureLimitExceeded, ExecutionContext, TimeoutExpired
from cuprum._runtime import capture

from .streaming_support import py

pytestmark = pytest.mark.anyio

STRICT = ExecutionContext(errors="strict")
DEADLINE = 20.0
#: Valid UTF-8, about 300 KB in many reads, characters split across chunk bounds.
TEXT = ("ligne \u00e9t\u00e9 \u20ac " * 7 + "\n") * 4000
WRITE = "import os, sys\ndata = sys.stdin.buffer.read()\n" + (
    "for i in range(0, len(data), 4093): os.write(1, data[i:i + 4093])\n"
)
"""Writes its stdin to stdout in small writes, so the reads split characters."""
WAIT = "import time; time.sleep(300)\n"


@pytest.fixture(autouse=True, params=["as read", "at the end"])
def decode_as_read(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Decode as it reads from the first byte, or (for comparison) only at the end."""
    if request.param == "as read":
        if not capture._appends_in_place():
            pytest.skip("no in-place append here (a tracer runs, or not CPython)")
        monkeypatch.setattr(capture, "DECODE_AS_READ", 0)


async def test_text_is_the_decode_of_all_the_bytes(anyio_backend: str) -> None:
    raw = TEXT.encode() + os.urandom(3000) + b"\xe2\x82"
    result = await py(WRITE).run(stdin=raw, timeout=DEADLINE)
    assert result.stdout == raw.decode("utf-8", "replace")
    strict = await py(WRITE).run(stdin=TEXT, timeout=DEADLINE, context=STRICT)
    assert strict.stdout == TEXT


async def test_a_late_invalid_byte_under_strict_raises_as_one_decode_would(
    anyio_backend: str,
) -> None:
    raw = TEXT.encode() + b"bad \xff end"
    with pytest.raises(UnicodeDecodeError) as info:
        await py(WRITE).run(stdin=raw, timeout=DEADLINE, context=STRICT)
    with pytest.raises(UnicodeDecodeError) as want:
        raw.decode("utf-8")
    assert (info.value.start, info.value.end, info.value.reason) == (
        want.value.start,
        want.value.end,
        want.value.reason,
    )
    assert any("python" in note and "stdout" in note for note in info.value.__notes__)


async def test_a_timeout_inside_a_character_keeps_the_exact_bytes(anyio_backend: str) -> None:
    raw = TEXT.encode() + b"cut \xe2\x82"
    for timeout in (1.0, 4.0, DEADLINE):  # a loaded machine may not write it all in time
        with pytest.raises(TimeoutExpired) as info:
            await py(WRITE + WAIT).run(stdin=raw, timeout=timeout, context=STRICT)
        output = info.value.output
        if output == raw:
            break
        kept = output.encode() if isinstance(output, str) else output
        assert isinstance(kept, bytes) and raw.startswith(kept)  # cut earlier: a prefix
    assert output == raw


async def test_a_limit_inside_a_character_leaves_it_out(anyio_backend: str) -> None:
    raw = TEXT.encode()
    limit = raw.index("\u20ac".encode(), 100_000) + 1
    with pytest.raises(CaptureLimitExceeded) as info:
        await py(WRITE + WAIT).run(
            stdin=TEXT, capture_limit=limit, on_limit="raise", context=STRICT, timeout=DEADLINE
        )
    assert info.value.captured == raw[: limit - 1].decode()
    result = await py(WRITE).run(stdin=TEXT, capture_limit=limit, timeout=DEADLINE)
    assert (result.stdout, result.stdout_truncated) == (
        raw[:limit].decode("utf-8", "replace"),
        True,
    )


async def test_bytes_and_stderr(anyio_backend: str) -> None:
    raw = TEXT.encode() + os.urandom(5000)
    code = WRITE.replace("os.write(1,", "os.write(2,")
    result = await py(code).run(stdin=raw, timeout=DEADLINE)
    assert result.stderr == raw.decode("utf-8", "replace")
    as_bytes = await py(WRITE).run(stdin=raw, timeout=DEADLINE, text=False)
    assert as_bytes.stdout == raw


async def test_a_pipelines_last_stage(anyio_backend: str, stream_backend: str) -> None:
    raw = TEXT.encode() + b"\xff"
    cat = py("import shutil, sys; shutil.copyfileobj(sys.stdin.buffer, sys.stdout.buffer)")
    result = await (py(WRITE) | cat).run(stdin=raw, timeout=DEADLINE)
    assert result.stdout == raw.decode("utf-8", "replace")


async def test_the_stream_handles_rest(anyio_backend: str, stream_backend: str) -> None:
    async with py(WRITE).stream(stdin=TEXT, timeout=DEADLINE) as handle:
        first = await anext(handle.stdout_lines())
        result = await handle.wait()
    assert first + "\n" + str(result.stdout) == TEXT
