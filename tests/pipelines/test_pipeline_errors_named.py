"""A failed or timed-out pipeline's error names the stage to look at: its program and
index (message and attributes), with the whole pipeline as ``cmd``; and a timeout
or a capture limit wins over strict decoding on every stream strategy."""

from __future__ import annotations

import pickle
import subprocess

import pytest

from cuprum import (
    GREP,
    CaptureLimitExceeded,
    CommandFailedError,
    ExecutionContext,
    TimeoutExpired,
    observe,
)

from .pipeline_support import Recorder, cat, echo, grep, shell, sleep, wc

pytestmark = pytest.mark.anyio

STRICT = ExecutionContext(errors="strict")
CUT = 0.5  # long enough for the stages to have started and written, short for the test
GUARD = 20.0


# -- CommandFailedError (issue 10 #16) ------------------------------------------------


async def test_check_names_the_failing_middle_stage(
    anyio_backend: str, stream_backend: str
) -> None:
    pipeline = echo("a") | grep("zzz") | wc("-l")
    with pytest.raises(CommandFailedError) as info:
        await pipeline.run(check=True)
    exc = info.value
    assert isinstance(exc, subprocess.CalledProcessError)
    assert (exc.program, exc.stage_index, exc.returncode) == (GREP, 1, 1)
    assert exc.cmd == ["echo", "a", "|", "grep", "zzz", "|", "wc", "-l"]
    assert exc.output in ("", "0\n")  # the final stdout (fail-fast may stop wc first)
    assert str(exc).startswith("grep: stage 1 of pipeline ")
    assert "returned non-zero exit status 1" in str(exc)


async def test_check_names_a_failing_first_stage_with_its_stderr(
    anyio_backend: str, stream_backend: str
) -> None:
    pipeline = shell("-c", "echo why >&2; exit 3") | cat() | cat()
    result = await pipeline.run()
    with pytest.raises(CommandFailedError) as info:
        result.check()
    exc = info.value
    assert (exc.program, exc.stage_index, exc.returncode, exc.stderr) == ("sh", 0, 3, "why\n")
    assert str(exc).startswith("sh: stage 0 of pipeline ")
    assert str(exc).endswith("(stderr: why)")


async def test_check_names_a_stage_killed_by_a_signal(
    anyio_backend: str, stream_backend: str
) -> None:
    pipeline = cat() | shell("-c", "kill -USR1 $$") | cat()
    with pytest.raises(CommandFailedError) as info:
        await pipeline.run(check=True)
    assert (info.value.stage_index, info.value.returncode) == (1, -10)
    assert "stage 1 of pipeline" in str(info.value)
    assert "died with <Signals.SIGUSR1: 10>" in str(info.value)


def test_the_named_errors_survive_pickling() -> None:
    failed = CommandFailedError(1, ["a", "|", "b"], "out", "err", program="b", stage_index=1)
    copy = pickle.loads(pickle.dumps(failed))
    assert (copy.program, copy.stage_index, copy.cmd, copy.stderr) == (
        "b",
        1,
        ["a", "|", "b"],
        "err",
    )
    assert str(copy) == str(failed)
    expired = TimeoutExpired(
        ["a", "|", "b"], 1.0, b"x", None, program="a", stage_index=0, running=(0, 1)
    )
    copy_t = pickle.loads(pickle.dumps(expired))
    assert (copy_t.program, copy_t.stage_index, copy_t.running) == ("a", 0, (0, 1))
    assert str(copy_t) == str(expired)


def test_a_single_command_keeps_its_message_and_has_no_stage() -> None:
    exc = CommandFailedError(2, ["ls", "/nope"], "", "ls: no such file\n")
    assert (exc.program, exc.stage_index) == ("ls", None)
    assert str(exc) == (
        "ls: Command '['ls', '/nope']' returned non-zero exit status 2. (stderr: ls: no such file)"
    )
    assert TimeoutExpired(["sleep", "9"], 0.5).stage_index is None


# -- TimeoutExpired (issue 10 #16) ----------------------------------------------------


async def test_timeout_names_the_most_upstream_stage_still_running(
    anyio_backend: str, stream_backend: str
) -> None:
    pipeline = echo("a") | sleep("300") | wc("-l")
    with pytest.raises(TimeoutExpired) as info:
        await pipeline.run(timeout=CUT)
    exc = info.value
    assert isinstance(exc, subprocess.TimeoutExpired)
    assert (exc.program, exc.stage_index, exc.running) == ("sleep", 1, (1, 2))
    assert exc.cmd == ["echo", "a", "|", "sleep", "300", "|", "wc", "-l"]
    assert str(exc).startswith("sleep: pipeline ")
    assert "while stage 1 was still running (still running: stages 1, 2)" in str(exc)
    assert exc.output == ""  # wc had nothing to say yet


async def test_timeout_with_every_stage_running_names_the_first(
    anyio_backend: str, stream_backend: str
) -> None:
    pipeline = shell("-c", "echo part; exec sleep 300") | cat()
    with pytest.raises(TimeoutExpired) as info:
        await pipeline.run(timeout=CUT)
    exc = info.value
    assert (exc.program, exc.stage_index, exc.running) == ("sh", 0, (0, 1))
    assert exc.output == "part\n"  # the last stage's output so far, as before


async def test_timeout_at_once_names_the_first_stage(
    anyio_backend: str, stream_backend: str
) -> None:
    with pytest.raises(TimeoutExpired) as info:
        await (echo("a") | cat()).run(timeout=0)
    assert (info.value.program, info.value.stage_index, info.value.running) == ("echo", 0, ())
    assert str(info.value).endswith("timed out after 0 seconds with no stage still running")


async def test_timeout_after_every_stage_exited_names_the_last(
    anyio_backend: str, stream_backend: str
) -> None:
    # The last stage leaves a grandchild holding its output open, then exits.
    pipeline = echo("a") | shell("-c", "sleep 300 & exit 0")
    with pytest.raises(TimeoutExpired) as info:
        await pipeline.run(timeout=CUT)
    assert (info.value.program, info.value.stage_index, info.value.running) == ("sh", 1, ())
    assert "with no stage still running" in str(info.value)


# -- decoding on every strategy (issue 10 #4, #5) -------------------------------------


async def test_pipeline_timeout_cut_inside_a_character_under_strict(
    anyio_backend: str, stream_backend: str
) -> None:
    pipeline = shell("-c", "printf 'ok \\303'; exec sleep 300") | cat()
    rec = Recorder()
    with observe(rec), pytest.raises(TimeoutExpired) as info:
        await pipeline.run(timeout=CUT, context=STRICT, stage_events=stream_backend != "direct")
    assert info.value.output == b"ok \xc3"
    stderr: object = info.value.stderr  # typeshed has it as bytes only
    assert stderr == ""
    assert {e.error for e in rec.of("error")} == {"timeout"}


async def test_pipeline_limit_inside_a_character_under_strict(
    anyio_backend: str, stream_backend: str
) -> None:
    pipeline = shell("-c", "printf '\\303\\251%.0s' 1 2 3 4 5; exec sleep 300") | cat()
    rec = Recorder()
    with observe(rec), pytest.raises(CaptureLimitExceeded) as info:
        await pipeline.run(capture_limit=5, on_limit="raise", context=STRICT, timeout=GUARD)
    assert info.value.captured == "\u00e9\u00e9"
    assert [e.error for e in rec.of("error")] == ["capture_limit", "capture_limit"]
