"""Running one command: results, capture, echo, env, cwd, decoding, big and odd output."""

from __future__ import annotations

import io
import os
import subprocess
from pathlib import Path

import anyio
import pytest
from core_support import DEADLINE, assert_dead, py, recording, shell

from cuprum import (
    ECHO,
    CommandFailedError,
    CommandResult,
    ExecutionContext,
    sh,
)

pytestmark = pytest.mark.anyio


async def test_result_of_a_successful_run() -> None:
    with recording() as rec:
        result = await sh.make(ECHO)("-n", "hello runtime").run()
    assert isinstance(result, CommandResult)
    assert result.ok and result.exit_code == 0 and result.outcome == "exited"
    assert result.stdout == "hello runtime"
    assert result.stderr == ""
    assert result.program == "echo"
    assert result.argv == ("echo", "-n", "hello runtime")
    assert result.pid == rec.pid
    assert result.duration_s > 0
    assert result.check() is result


async def test_nonzero_exit_is_a_result_not_an_error() -> None:
    result = await shell("echo out; echo err >&2; exit 3").run()
    assert not result.ok
    assert result.exit_code == 3
    assert (result.stdout, result.stderr) == ("out\n", "err\n")
    with pytest.raises(CommandFailedError) as excinfo:
        result.check()
    assert isinstance(excinfo.value, subprocess.CalledProcessError)
    assert excinfo.value.returncode == 3
    assert excinfo.value.stderr == "err\n"
    assert str(excinfo.value).startswith("sh: ")
    with pytest.raises(CommandFailedError):
        await shell("exit 4").run(check=True)


@pytest.mark.parametrize("signum", [9, 15])
async def test_child_killed_by_signal_reports_minus_signal(signum: int) -> None:
    with recording() as rec:
        result = await shell(f"kill -{signum} $$").run()
    assert result.exit_code == -signum
    assert not result.ok
    assert result.outcome == "exited"  # it was not cuprum that stopped it
    assert [event.exit_code for event in rec.of("exit")] == [-signum]


async def test_capture_false_gives_none() -> None:
    result = await shell("echo out; echo err >&2").run(capture=False)
    assert result.ok
    assert result.stdout is None and result.stderr is None


async def test_text_false_gives_bytes() -> None:
    result = await shell("printf 'a\\377b'; printf 'e' >&2").run(text=False)
    assert result.stdout == b"a\xffb"
    assert result.stderr == b"e"


async def test_echo_tees_to_custom_sinks_while_capturing() -> None:
    out, err = io.StringIO(), io.StringIO()
    ctx = ExecutionContext(stdout_sink=out, stderr_sink=err)
    script = "echo one; echo two >&2; printf 'three'"
    result = await shell(script).run(echo=True, context=ctx)
    assert (result.stdout, result.stderr) == ("one\nthree", "two\n")
    assert (out.getvalue(), err.getvalue()) == ("one\nthree", "two\n")


async def test_echo_without_capture_still_reaches_the_sinks() -> None:
    out, err = io.StringIO(), io.StringIO()
    ctx = ExecutionContext(stdout_sink=out, stderr_sink=err)
    result = await shell("echo one; echo two >&2").run(echo=True, capture=False, context=ctx)
    assert result.stdout is None and result.stderr is None
    assert (out.getvalue(), err.getvalue()) == ("one\n", "two\n")


async def test_no_echo_leaves_the_sinks_alone() -> None:
    out = io.StringIO()
    result = await sh.make(ECHO)("quiet").run(context=ExecutionContext(stdout_sink=out))
    assert result.stdout == "quiet\n"
    assert out.getvalue() == ""


async def test_env_overlay_reaches_the_child_and_leaves_os_environ_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CUPRUM_TEST_INHERITED", "parent")
    monkeypatch.setenv("CUPRUM_TEST_OVERRIDDEN", "parent")
    monkeypatch.delenv("CUPRUM_TEST_ADDED", raising=False)
    before = dict(os.environ)
    ctx = ExecutionContext(env={"CUPRUM_TEST_ADDED": "new", "CUPRUM_TEST_OVERRIDDEN": "child"})
    result = await shell(
        'echo "$CUPRUM_TEST_INHERITED $CUPRUM_TEST_OVERRIDDEN $CUPRUM_TEST_ADDED"'
    ).run(context=ctx)
    assert result.stdout == "parent child new\n"
    assert dict(os.environ) == before
    assert "CUPRUM_TEST_ADDED" not in os.environ


async def test_without_env_the_child_inherits_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CUPRUM_TEST_INHERITED", "yes")
    result = await shell('echo "$CUPRUM_TEST_INHERITED"').run()
    assert result.stdout == "yes\n"


@pytest.mark.parametrize("as_path", [True, False])
async def test_cwd_sets_the_working_directory(tmp_path: Path, as_path: bool) -> None:
    cwd: str | Path = tmp_path if as_path else str(tmp_path)
    result = await py("import os; print(os.getcwd())").run(context=ExecutionContext(cwd=cwd))
    assert isinstance(result.stdout, str)
    assert Path(result.stdout.strip()).resolve() == tmp_path.resolve()
    assert Path.cwd() != tmp_path


INVALID_UTF8 = "import sys; sys.stdout.buffer.write(b'ok\\xff\\xfe!')"


async def test_invalid_utf8_is_replaced_by_default() -> None:
    result = await py(INVALID_UTF8).run()
    assert result.stdout == "ok\ufffd\ufffd!"


async def test_custom_encoding_and_error_handler() -> None:
    latin = await py(INVALID_UTF8).run(context=ExecutionContext(encoding="latin-1"))
    assert latin.stdout == "ok\xff\xfe!"
    escaped = await py(INVALID_UTF8).run(context=ExecutionContext(errors="surrogateescape"))
    assert isinstance(escaped.stdout, str)
    assert escaped.stdout.encode("utf-8", "surrogateescape") == b"ok\xff\xfe!"


async def test_strict_decoding_raises_unicode_decode_error() -> None:
    """``errors="strict"`` behaves like ``subprocess.run(text=True)``: it raises."""
    with pytest.raises(UnicodeDecodeError):
        await py(INVALID_UTF8).run(context=ExecutionContext(errors="strict"))
    ok = await py("print('fine')").run(context=ExecutionContext(errors="strict"))
    assert ok.stdout == "fine\n"


async def test_strict_decoding_error_lets_the_child_finish_and_ends_with_exit() -> None:
    script = INVALID_UTF8 + "; sys.stdout.flush(); import time; time.sleep(0.2); sys.exit(7)"
    with recording() as rec, pytest.raises(UnicodeDecodeError):
        await py(script).run(context=ExecutionContext(errors="strict"))
    assert [(e.phase, e.exit_code) for e in rec.terminal] == [("exit", 7)]


async def test_large_stdout_and_stderr_at_once_do_not_deadlock() -> None:
    size = 8 << 20
    script = (
        "import sys\n"
        "chunk = b'o' * 65536\n"
        "echunk = b'e' * 65536\n"
        f"for _ in range({size // 65536}):\n"
        "    sys.stdout.buffer.write(chunk); sys.stdout.buffer.flush()\n"
        "    sys.stderr.buffer.write(echunk); sys.stderr.buffer.flush()\n"
    )
    with anyio.fail_after(DEADLINE * 3):
        result = await py(script).run(text=False)
    assert result.ok
    assert result.stdout == b"o" * size
    assert result.stderr == b"e" * size


async def test_empty_output() -> None:
    result = await shell("true").run()
    assert (result.stdout, result.stderr) == ("", "")


async def test_stdin_defaults_to_devnull() -> None:
    with anyio.fail_after(DEADLINE):
        result = await py("import sys; print(repr(sys.stdin.read()))").run()
    assert result.stdout == "''\n"


async def test_background_leftovers_in_the_group_are_killed_after_a_normal_exit() -> None:
    """A job the child left running (not holding our pipes) does not outlive the run."""
    result = await shell("sleep 300 >/dev/null 2>&1 & echo $!").run(timeout=DEADLINE)
    assert result.ok
    assert result.stdout is not None
    assert_dead(int(result.stdout))
