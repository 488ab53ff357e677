"""``CaptureLimitExceeded`` treats the run's secrets as the other errors do: ``captured``
keeps what the program wrote (as a result's output and ``TimeoutExpired.output`` do),
its message and ``repr()`` never show a secret's value, and a pickle of it holds
``captured`` with each secret as ``***``; for ``run()``, a pipeline on every stream
strategy, and a stream handle's ``wait()``."""

from __future__ import annotations

import pickle
import uuid

import pytest

from cuprum import PIPE, CaptureLimitExceeded, ExecutionContext, Secret

from .streaming_support import CAT, DEADLINE, chain, py

pytestmark = pytest.mark.anyio

REPEAT = """
import os, sys
value = {source}
fd = 1 if sys.argv[1] == "out" else 2
os.write(fd, ("token=" + value + "\\n").encode() * 200)
"""
"""Writes ``token=<value>`` 200 times to stdout (``out``) or stderr; ``{source}`` says
where the value comes from."""

SOURCES = {
    "argv": "sys.argv[2]",
    "env": "os.environ['TOKEN']",
    "stdin": "sys.stdin.read()",
}
LIMIT = 300  # several copies of the value, well short of the whole output


def _value() -> str:
    return f"pw-{uuid.uuid4().hex}"


def _assert_hidden(error: CaptureLimitExceeded, value: str, *, text: bool) -> None:
    """``captured`` keeps the value; the message, repr and a pickle do not show it."""
    captured = error.captured
    assert isinstance(captured, str if text else bytes)
    raw = captured.encode() if isinstance(captured, str) else captured
    assert value.encode() in raw  # kept, as a result's output keeps it
    assert value not in str(error)
    assert value not in repr(error)
    data = pickle.dumps(error)
    assert value.encode() not in data
    clone = pickle.loads(data)
    assert (type(clone), str(clone), repr(clone)) == (type(error), str(error), repr(error))
    assert (clone.program, clone.stream, clone.limit) == (error.program, error.stream, LIMIT)
    hidden = raw.replace(value.encode(), b"***")
    assert clone.captured == (hidden.decode() if text else hidden)


@pytest.mark.parametrize("source", list(SOURCES))
@pytest.mark.parametrize("stream", ["out", "err"])
@pytest.mark.parametrize("text", [True, False])
async def test_run_hides_the_secret_wherever_it_was_given(
    anyio_backend: str, source: str, stream: str, text: bool
) -> None:
    value = _value()
    code = REPEAT.format(source=SOURCES[source])
    args = (stream, Secret(value)) if source == "argv" else (stream,)
    env = {"TOKEN": Secret(value)} if source == "env" else None
    stdin = Secret(value) if source == "stdin" else None
    with pytest.raises(CaptureLimitExceeded) as caught:
        await py(code, *args).run(
            stdin=stdin,
            context=ExecutionContext(env=env),
            capture_limit=LIMIT,
            on_limit="raise",
            text=text,
            timeout=DEADLINE,
        )
    assert caught.value.stream == ("stdout" if stream == "out" else "stderr")
    _assert_hidden(caught.value, value, text=text)


async def test_a_pipeline_hides_a_secret_of_any_stage(
    anyio_backend: str, stream_backend: str
) -> None:
    value = _value()
    pipeline = chain(py(REPEAT.format(source=SOURCES["argv"]), "out", Secret(value)), py(CAT))
    with pytest.raises(CaptureLimitExceeded) as caught:
        await pipeline.run(capture_limit=LIMIT, on_limit="raise", timeout=DEADLINE)
    assert caught.value.program == pipeline.parts[-1].program
    _assert_hidden(caught.value, value, text=True)


@pytest.mark.parametrize("text", [True, False])
async def test_a_stream_handle_hides_the_secrets_it_sent(
    anyio_backend: str, stream_backend: str, text: bool
) -> None:
    # The limit is passed in the stdout the handle did not read, at wait(); the
    # secret was sent through the handle, not given to the run.
    value = _value()
    code = REPEAT.format(source="sys.stdin.readline().strip()")
    async with py(code, "out").stream(
        stdin=PIPE, capture_limit=LIMIT, on_limit="raise", text=text, timeout=DEADLINE
    ) as handle:
        await handle.sendline(Secret(value))
        with pytest.raises(CaptureLimitExceeded) as caught:
            await handle.wait()
    _assert_hidden(caught.value, value, text=text)
