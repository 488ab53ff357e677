"""``stream(echo=True)``: the stdout the handle reads is echoed like ``run(echo=True)``'s.

To ``ExecutionContext.stdout_sink`` (stderr, read by the run, to ``stderr_sink``), by
default the interpreter's own stdout and stderr: checked in a host process whose
output the test captures. A failing sink fails the run with ``output_failed``.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

import cuprum
from cuprum import PIPE, ExecutionContext, PipelineResult, observe

from .streaming_support import CAT, DEADLINE, Recorder, assert_dead, py, text

pytestmark = pytest.mark.anyio

SPEAK = """
import sys
print("out 1", flush=True)
print("err 1", file=sys.stderr, flush=True)
sys.stdout.write("out 2\\nhalf")
"""
"""Two lines and a partial one on stdout, one line on stderr."""


def speaker(shape: str) -> cuprum.SafeCmd | cuprum.Pipeline:
    return py(SPEAK) if shape == "command" else py(SPEAK) | py(CAT)


@pytest.mark.parametrize("shape", ["command", "pipeline"])
async def test_echo_mirrors_what_the_handle_reads_to_the_sinks(
    anyio_backend: str, stream_backend: str, shape: str
) -> None:
    out, err = io.StringIO(), io.StringIO()
    context = ExecutionContext(stdout_sink=out, stderr_sink=err)
    with anyio.fail_after(DEADLINE):
        async with speaker(shape).stream(echo=True, context=context) as handle:
            assert await anext(handle.stdout_lines()) == "out 1"
            result = await handle.wait()
    assert out.getvalue() == "out 1\nout 2\nhalf"  # all of it: read by lines, then wait()
    assert err.getvalue() == "err 1\n"
    assert text(result.stdout) == "out 2\nhalf"  # still captured: what was not read
    first = result.stages[0] if isinstance(result, PipelineResult) else result
    assert text(first.stderr) == "err 1\n"


async def test_echo_without_capture_and_with_text_false(anyio_backend: str) -> None:
    out = io.StringIO()
    context = ExecutionContext(stdout_sink=out, stderr_sink=io.StringIO())
    async with py(SPEAK).stream(echo=True, capture=False, context=context) as handle:
        assert [line async for line in handle.stdout_lines()] == ["out 1", "out 2", "half"]
        result = await handle.wait()
    assert result.stdout is None
    assert out.getvalue() == "out 1\nout 2\nhalf"
    out = io.StringIO()
    context = ExecutionContext(stdout_sink=out, stderr_sink=io.StringIO())
    async with py(SPEAK).stream(echo=True, text=False, context=context) as handle:
        chunks = [chunk async for chunk in handle.stdout_chunks()]
    assert b"".join(chunks) == b"out 1\nout 2\nhalf"
    assert out.getvalue() == "out 1\nout 2\nhalf"  # echo is text, decoded as it arrives


async def test_echo_of_a_conversation_over_stdin_pipe(anyio_backend: str) -> None:
    out = io.StringIO()
    context = ExecutionContext(stdout_sink=out, timeout=DEADLINE)
    async with py(CAT).stream(stdin=PIPE, echo=True, context=context) as handle:
        lines = handle.stdout_lines()
        for word in ("ping", "héllo"):
            await handle.write(f"{word}\n")
            assert await anext(lines) == word
            assert out.getvalue().endswith(f"{word}\n")  # echoed as soon as it is read
        await handle.wait()
    assert out.getvalue() == "ping\nhéllo\n"


async def test_echo_on_a_terminal_is_what_run_echoes(anyio_backend: str) -> None:
    code = "print('on a tty'); print('second')"
    ran, streamed = io.StringIO(), io.StringIO()
    await py(code).run(tty=True, echo=True, context=ExecutionContext(stdout_sink=ran))
    context = ExecutionContext(stdout_sink=streamed)
    async with py(code).stream(tty=True, echo=True, context=context) as handle:
        assert await anext(handle.stdout_lines()) == "on a tty"
        await handle.wait()
    assert streamed.getvalue() == ran.getvalue() == "on a tty\r\nsecond\r\n"


class BrokenSink(io.StringIO):
    def write(self, s: str) -> int:
        raise OSError("sink is gone")


async def test_a_failing_echo_sink_is_output_failed(anyio_backend: str) -> None:
    recorder = Recorder()
    context = ExecutionContext(stdout_sink=BrokenSink(), cancel_grace=0.2)
    pids: tuple[int, ...] = ()

    async def body() -> None:
        nonlocal pids
        async with py(SPEAK + "\nimport time; time.sleep(30)").stream(
            echo=True, context=context
        ) as handle:
            pids = handle.pids
            await anext(handle.stdout_lines())

    with observe(recorder), anyio.fail_after(DEADLINE):
        with pytest.raises(OSError, match="sink is gone"):  # the sink's own error
            await body()
    (error,) = recorder.of("error")
    assert error.error == "output_failed"
    await assert_dead(*pids)


#: Runs in a host interpreter: streams with echo=True and the default sinks.
HOST = """
import json, sys
import anyio
from cuprum import Program, ProgramCatalogue, sh

PY = Program(sys.executable)
catalogue = ProgramCatalogue.of(PY, project="echo-host")
py = sh.make(PY, catalogue=catalogue)
code = "import sys; print('child out', flush=True); print('child err', file=sys.stderr)"
shape = sys.argv[2]
cmd = py("-c", code) if shape == "command" else py("-c", code) | py("-c", sys.argv[3])

async def main():
    async with cmd.stream(echo=True) as handle:
        lines = [line async for line in handle.stdout_lines()]
        result = await handle.wait()
    sys.stdout.flush()
    sys.stderr.write("RESULT " + json.dumps([lines, result.stdout]) + "\\n")

anyio.run(main, backend=sys.argv[1])
"""


@pytest.mark.parametrize("shape", ["command", "pipeline"])
def test_echo_reaches_the_parents_own_stdout_and_stderr(
    anyio_backend: str, stream_backend: str, shape: str
) -> None:
    package_root = Path(cuprum.__file__).parent.parent
    env = {**os.environ, "PYTHONPATH": str(package_root)}
    host = subprocess.run(
        [sys.executable, "-c", HOST, anyio_backend, shape, CAT],
        cwd=package_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
    )
    assert host.returncode == 0, host.stderr
    assert host.stdout == "child out\n"  # the host printed nothing itself
    assert "child err\n" in host.stderr
    report = host.stderr.rsplit("RESULT ", 1)[1]
    assert json.loads(report) == [["child out"], ""]
