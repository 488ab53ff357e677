"""What a stream handle's run ends with, as the handle hands it out.

- A secret sent with ``write()`` (``send()``, ``sendline()``) is hidden as one given
  with ``stdin=`` is: by ``TimeoutExpired`` and ``CommandFailedError`` (message,
  ``repr()``, pickle) and by the result's ``repr()``; their output keeps it, as a
  result's does. Values ``repr()`` escapes (a newline, a quote, non-ASCII) too.
- A ``TimeoutExpired`` raised as the block exits (no ``wait()``) carries the partial
  output, as ``wait()``'s and ``run()``'s do: ``stderr``, and as ``output`` the stdout
  the block left unread; a later ``wait()`` raises the same error.
"""

from __future__ import annotations

import pickle
import uuid
from typing import Any

import anyio
import pytest

from cuprum import PIPE, CommandFailedError, ExecutionContext, Secret, TimeoutExpired, observe

from .streaming_support import CAT, DEADLINE, Recorder, chain, py, text, wait_until

pytestmark = pytest.mark.anyio

FAST = ExecutionContext(cancel_grace=0.2)

ECHO_LINE = """
import sys, time
line = sys.stdin.readline().rstrip("\\n") + "\\n"
sys.stdout.write(line); sys.stdout.flush()
sys.stderr.write(line); sys.stderr.write("echoed\\n"); sys.stderr.flush()
if sys.argv[1] == "fail":
    sys.exit(3)
time.sleep(60)
"""
"""Reads a line (its newline added at the end of input), writes it to stdout and to
stderr (then ``echoed``); exits 3 for ``fail``, else waits to be stopped."""

#: Secret values: plain, and ones ``repr()`` shows escaped.
VALUES = ["plain", "tab\there", "it's", "p\u20acss"]


def _value(kind: str) -> str:
    return f"pw-{uuid.uuid4().hex[:8]}-{kind}"


def _assert_hidden(error: BaseException, value: str) -> None:
    """Neither the message, the ``repr()`` nor a pickle shows ``value``, as it is or
    as a ``repr()`` escapes it; a pickled copy reads the same."""
    shown = (str(error), repr(error))
    escaped = {repr(value)[1:-1], repr(value.encode())[2:-1], value}
    assert not [form for form in escaped for text in shown if form in text], shown
    data = pickle.dumps(error)
    assert value.encode() not in data
    clone = pickle.loads(data)
    assert (type(clone), str(clone)) == (type(error), str(error))
    if "'" not in value:  # (else the repr quoted the original otherwise than its copy)
        assert repr(clone) == repr(error)


async def _send(handle: Any, how: str, value: str) -> None:
    if how == "write":
        await handle.write(Secret(value + "\n"))
    elif how == "send":
        await handle.send(Secret(value))
        await handle.send(b"\n")
    else:
        await handle.sendline(Secret(value))


async def _timed_out(cmd: Any, how: str, value: str, recorder: Recorder) -> TimeoutExpired:
    """Sends ``value`` to ``cmd`` through the handle, waits for the echo, then lets the
    run time out and calls ``wait()``."""

    async def body() -> None:
        async with cmd.stream(stdin=PIPE, timeout=2.0, context=FAST) as handle:
            await _send(handle, how, value)
            await wait_until(lambda: recorder.counted > 0, "the echo")
            await handle.wait()

    with pytest.raises(TimeoutExpired) as caught:
        await body()
    return caught.value


async def _sent_then_wait(cmd: Any, value: str) -> None:
    async with cmd.stream(stdin=PIPE, check=True, timeout=DEADLINE) as handle:
        await handle.sendline(Secret(value))
        await handle.wait()


@pytest.mark.parametrize("how", ["write", "send", "sendline"])
async def test_a_timeout_hides_a_secret_sent_to_the_program(anyio_backend: str, how: str) -> None:
    value = _value(how)
    recorder = Recorder("echoed")
    with observe(recorder), anyio.fail_after(DEADLINE):
        error = await _timed_out(py(ECHO_LINE, "wait"), how, value, recorder)
    assert text(error.output) == text(error.stderr).removesuffix("echoed\n") == value + "\n"
    assert Secret(value) in error.secrets or Secret(value + "\n") in error.secrets
    _assert_hidden(error, value)
    hidden = "***\n"  # (a secret sent with its newline shows as *** and the newline)
    assert pickle.loads(pickle.dumps(error)).output == hidden


@pytest.mark.parametrize("value", VALUES, ids=["plain", "tab", "quote", "non-ascii"])
@pytest.mark.parametrize("given", ["stdin=", "write()"])
async def test_a_failure_hides_a_secret_however_it_was_given(
    anyio_backend: str, value: str, given: str
) -> None:
    value = _value(value)
    cmd = py(ECHO_LINE, "fail")
    if given == "stdin=":
        with pytest.raises(CommandFailedError) as caught:
            await cmd.run(stdin=Secret(value), check=True, timeout=DEADLINE)
    else:
        with pytest.raises(CommandFailedError) as caught:
            await _sent_then_wait(cmd, value)
    error = caught.value
    assert error.returncode == 3
    assert error.stderr == value + "\nechoed\n"  # kept, as the result keeps it
    assert "(stderr: echoed)" in str(error)
    _assert_hidden(error, value)


async def test_the_result_of_a_handle_hides_the_secrets_sent(anyio_backend: str) -> None:
    value = _value("result")
    async with py(ECHO_LINE, "fail").stream(stdin=PIPE, timeout=DEADLINE) as handle:
        await handle.sendline(Secret(value))
        result = await handle.wait()
    assert result.stdout == value + "\n"
    assert value not in repr(result)
    with pytest.raises(CommandFailedError) as caught:
        result.check()
    _assert_hidden(caught.value, value)


async def test_a_pipeline_hides_a_secret_sent_to_it(
    anyio_backend: str, stream_backend: str
) -> None:
    value = _value("pipeline")
    recorder = Recorder("echoed")
    with observe(recorder), anyio.fail_after(DEADLINE):
        error = await _timed_out(chain(py(CAT), py(ECHO_LINE, "wait")), "sendline", value, recorder)
    assert error.output == value + "\n"
    _assert_hidden(error, value)
    async with chain(py(CAT), py(ECHO_LINE, "fail")).stream(stdin=PIPE) as handle:
        await handle.sendline(Secret(value))
        result = await handle.wait()
    assert value not in repr(result)
    with pytest.raises(CommandFailedError) as failed:
        result.check()
    _assert_hidden(failed.value, value)


# -- a timeout as the block exits: the partial output ---------------------------------

WRITES_THEN_WAITS = """
import sys, time
sys.stdout.write("one\\ntwo\\n"); sys.stdout.flush()
sys.stderr.write("warn\\n"); sys.stderr.flush()
time.sleep(60)
"""


async def _exit_in_timeout(cmd: Any, read: int, **options: Any) -> tuple[TimeoutExpired, Any]:
    """The block reads ``read`` lines, waits for the run's timeout and exits without
    ``wait()``: the error it raises, and the handle."""
    recorder = Recorder()
    handle: Any = None

    async def body() -> None:
        nonlocal handle
        async with cmd.stream(timeout=1.0, context=FAST, **options) as handle:
            lines = handle.stdout_lines()
            for _ in range(read):
                await anext(lines)
            await wait_until(lambda: bool(recorder.of("error")), "the timeout")
            await anyio.wait_all_tasks_blocked()  # the run has ended in its error

    with observe(recorder), anyio.fail_after(DEADLINE), pytest.raises(TimeoutExpired) as caught:
        await body()
    return caught.value, handle


@pytest.mark.parametrize(("read", "unread"), [(0, "one\ntwo\n"), (1, "two\n"), (2, "")])
async def test_a_timeout_at_block_exit_carries_the_partial_output(
    anyio_backend: str, read: int, unread: str
) -> None:
    error, handle = await _exit_in_timeout(py(WRITES_THEN_WAITS), read)
    assert (text(error.output), text(error.stderr)) == (unread, "warn\n")  # was: output None
    assert f"{unread!r}, 'warn\\n')" in repr(error)
    assert pickle.loads(pickle.dumps(error)).output == unread
    with pytest.raises(TimeoutExpired) as again:
        await handle.wait()
    assert again.value is error
    assert error.output == unread


async def test_a_timeout_at_block_exit_of_a_pipeline_carries_the_partial_output(
    anyio_backend: str, stream_backend: str
) -> None:
    error, _ = await _exit_in_timeout(chain(py(WRITES_THEN_WAITS), py(CAT)), 0)
    assert error.output == "one\ntwo\n"
    assert error.stage_index == 0  # the writer was still running


async def test_a_timeout_at_block_exit_gives_bytes_or_nothing_as_asked(
    anyio_backend: str,
) -> None:
    error, _ = await _exit_in_timeout(py(WRITES_THEN_WAITS), 1, text=False)
    assert (error.output, error.stderr) == (b"two\n", b"warn\n")
    error, _ = await _exit_in_timeout(py(WRITES_THEN_WAITS), 1, capture=False)
    assert error.output is None
    error, _ = await _exit_in_timeout(py(WRITES_THEN_WAITS), 0, capture_limit=5)
    assert error.output == "one\nt"  # bounded as wait() would be (truncated, not raised)


async def test_an_expect_meeting_the_end_of_a_timed_out_run_carries_the_output(
    anyio_backend: str,
) -> None:
    async with py(WRITES_THEN_WAITS).stream(timeout=1.0, context=FAST) as handle:
        assert (await handle.expect("one\n")).before == ""
        with anyio.fail_after(DEADLINE), pytest.raises(TimeoutExpired) as caught:
            await handle.expect("never")
        assert [line async for line in handle.stdout_lines()] == ["two"]  # still there
        with pytest.raises(TimeoutExpired) as again:
            await handle.wait()
    assert again.value is caught.value
    assert (text(caught.value.output), text(caught.value.stderr)) == ("two\n", "warn\n")
