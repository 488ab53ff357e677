"""Pipeline stderr, echo to sinks, and timeouts with partial output."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest

from cuprum import ExecutionContext, Pipeline, ScopeConfig, TimeoutExpired, scoped

from .pipeline_support import Recorder, cat, is_dead, python, shell, wait_until_dead

pytestmark = pytest.mark.anyio

LINES = 5000
NOISY_STAGE = f"""
import sys
k = sys.argv[1]
for i in range({LINES}):
    sys.stderr.write(f"stage {{k}} line {{i:05d}} " + "e" * 60 + "\\n")
    if i % 1000 == 0:
        sys.stdout.write(f"{{k}}:{{i}}\\n")
        sys.stdout.flush()
sys.stdout.write(sys.stdin.read())
"""


async def test_every_stage_writes_5000_stderr_lines(
    anyio_backend: str, stream_backend: str
) -> None:
    stages = 3
    pipeline = Pipeline(tuple(python("-c", NOISY_STAGE, str(k)) for k in range(stages)))
    # ~440 KB of stderr per stage, far beyond a pipe: a stage whose stderr is not
    # drained would block, and the deadline turns such a stall into a failure.
    result = await pipeline.run(timeout=60)
    assert result.ok
    for k, stage in enumerate(result.stages):
        assert stage.exit_code == 0
        assert isinstance(stage.stderr, str)
        lines = stage.stderr.splitlines()
        assert len(lines) == LINES
        assert lines[0].startswith(f"stage {k} line 00000 ")
        assert lines[-1].startswith(f"stage {k} line {LINES - 1:05d} ")
    expected = sorted(f"{k}:{i}" for k in range(stages) for i in range(0, LINES, 1000))
    assert sorted((result.stdout or "").splitlines()) == expected


def stage_script(k: int) -> str:
    return f"import sys; sys.stderr.write('err-{k}\\n'); sys.stdout.write(sys.stdin.read().upper())"


async def test_echo_to_sinks(anyio_backend: str, stream_backend: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    ctx = ExecutionContext(stdout_sink=out, stderr_sink=err)
    pipeline = (
        shell("-c", "echo err-0 >&2; echo hello")
        | python("-c", stage_script(1))
        | python("-c", stage_script(2))
    )
    result = await pipeline.run(echo=True, context=ctx)
    assert result.ok
    # Only the final stdout is echoed (stage 0 printed "hello" in lower case).
    assert out.getvalue() == "HELLO\n"
    assert sorted(err.getvalue().splitlines()) == ["err-0", "err-1", "err-2"]
    # Echo tees: everything is still captured.
    assert result.stdout == "HELLO\n"
    assert [s.stderr for s in result.stages] == ["err-0\n", "err-1\n", "err-2\n"]
    assert [s.stdout for s in result.stages[:-1]] == [None, None]


async def test_echo_without_capture(anyio_backend: str, stream_backend: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    ctx = ExecutionContext(stdout_sink=out, stderr_sink=err)
    pipeline = shell("-c", "echo err-0 >&2; echo hello") | python("-c", stage_script(1))
    result = await pipeline.run(echo=True, capture=False, context=ctx)
    assert result.ok
    assert out.getvalue() == "HELLO\n"
    assert sorted(err.getvalue().splitlines()) == ["err-0", "err-1"]
    assert result.stdout is None
    assert all(s.stdout is None and s.stderr is None for s in result.stages)


async def test_no_capture_no_echo(anyio_backend: str, stream_backend: str) -> None:
    result = await (shell("-c", "echo x; echo y >&2") | cat()).run(capture=False)
    assert result.ok
    assert all(s.stdout is None and s.stderr is None for s in result.stages)


TIMEOUT = 0.5


async def test_timeout_keeps_partial_output(anyio_backend: str, stream_backend: str) -> None:
    rec = Recorder()
    pipeline = (
        shell("-c", "echo first; echo warn >&2; exec sleep 30")
        | cat()
        | shell("-c", 'while read -r l; do echo "got $l"; done; echo tail-err >&2')
    )
    started = time.monotonic()
    with scoped(ScopeConfig(observe_hooks=(rec,))), pytest.raises(TimeoutExpired) as info:
        await pipeline.run(timeout=TIMEOUT)
    elapsed = time.monotonic() - started
    assert TIMEOUT <= elapsed < TIMEOUT + 5
    exc = info.value
    output: object = exc.output
    stderr: object = exc.stderr
    assert exc.timeout == TIMEOUT
    # What the last stage printed before the deadline, decoded like a result.
    assert output == "got first\n"
    assert exc.stdout is exc.output
    assert stderr == ""  # the last stage's stderr (it never reached its echo)
    assert exc.cmd == [*pipeline.parts[0].argv_with_program, "|", "cat", "|",
                       *pipeline.parts[2].argv_with_program]  # fmt: skip
    pids = [e.pid for e in rec.of("start")]
    assert len(pids) == 3
    assert all(pid is not None and is_dead(pid) for pid in pids)
    errors = rec.of("error")
    assert [e.tags["pipeline_stage_index"] for e in errors] == [0, 1, 2]
    assert {e.error for e in errors} == {"timeout"}
    assert rec.of("exit") == []


async def test_timeout_from_context_partial_bytes(anyio_backend: str, stream_backend: str) -> None:
    pipeline = shell("-c", 'sleep 300 & printf "\\377%s" "$!"; wait') | cat()
    with pytest.raises(TimeoutExpired) as info:
        await pipeline.run(context=ExecutionContext(timeout=TIMEOUT), text=False)
    assert info.value.timeout == TIMEOUT
    output = info.value.output
    assert isinstance(output, bytes)
    assert output.startswith(b"\xff")
    grandchild = int(output[1:])
    assert wait_until_dead([grandchild]) == []


async def test_timeout_never_gives_a_later_stage_a_clean_eof(
    anyio_backend: str, stream_backend: str, tmp_path: Path
) -> None:
    # A consumer that commits on end of input must not commit a cut-off stream:
    # it is terminated while its input is still open, whatever the strategy.
    marker = tmp_path / "committed"
    pipeline = (
        shell("-c", "echo x; exec sleep 30")
        | cat()
        | shell("-c", f"cat >/dev/null; echo eof > '{marker}'")
    )
    with pytest.raises(TimeoutExpired):
        await pipeline.run(timeout=TIMEOUT)
    assert not marker.exists()
