"""Secrets reach the child and nothing else: real programs, a secret in each position,
every observer attached to a real backend, every exception and repr searched."""

from __future__ import annotations

import copy
import json
import pickle
import uuid
from typing import Any, Literal

import pytest

from cuprum import (
    CommandFailedError,
    ExecutionContext,
    ProgramNotFoundError,
    SafeCmd,
    Secret,
    TimeoutExpired,
    run_concurrent,
    sh,
)

from .security_support import CATALOGUE, PY, observed, py

pytestmark = pytest.mark.anyio

VALUE = f"s3cr3t-{uuid.uuid4().hex}"

# Prints the value it was given (from argv, a flag, env or stdin) on stdout and stderr.
SHOW = """
import os, sys
where, code = sys.argv[1], int(sys.argv[2])
if where == "arg":
    value = sys.argv[3]
elif where == "flag":
    value = sys.argv[3].split("=", 1)[1]
elif where == "env":
    value = os.environ["CUPRUM_TOKEN"]
else:
    value = sys.stdin.read()
print("out", value, flush=True)
print("err", value, file=sys.stderr, flush=True)
if code < 0:
    import time
    time.sleep(300)
sys.exit(code)
"""

POSITIONS = ["arg", "flag", "env", "stdin"]


def _run_options(where: str, secret: Secret[Any]) -> tuple[SafeCmd, dict[str, Any]]:
    """The command and run options that hand ``secret`` over at ``where``."""
    build = sh.make(PY, catalogue=CATALOGUE)
    options: dict[str, Any] = {}
    if where == "arg":
        cmd = build("-c", SHOW, where, "{code}", secret)
    elif where == "flag":
        cmd = build("-c", SHOW, where, "{code}", token=secret)
    else:
        cmd = build("-c", SHOW, where, "{code}")
        if where == "env":
            options["context"] = ExecutionContext(env={"CUPRUM_TOKEN": secret})
        else:
            options["stdin"] = secret
    return cmd, options


def _with_code(cmd: SafeCmd, code: int) -> SafeCmd:
    argv = tuple(str(code) if a == "{code}" else a for a in cmd.argv)
    return SafeCmd(cmd.program, argv, cmd.project)


def _assert_hidden(*texts: object) -> None:
    for text in texts:
        assert VALUE not in str(text), f"shown: {text!r}"


@pytest.mark.parametrize("where", POSITIONS)
async def test_a_secret_reaches_the_child_and_no_observer(where: str) -> None:
    cmd, options = _run_options(where, Secret(VALUE))
    cmd = _with_code(cmd, 0)
    with observed() as seen:
        result = await cmd.run(**options)
    # Only the child saw the value, and the captured output keeps what it wrote.
    assert result.stdout == f"out {VALUE}\n"
    assert result.stderr == f"err {VALUE}\n"
    seen.assert_never_shows(VALUE)
    lines = [e.line for e in seen.recorder.events if e.line is not None]
    assert lines == ["out ***", "err ***"] or sorted(lines) == ["err ***", "out ***"]
    _assert_hidden(repr(cmd), str(cmd), repr(result), str(result), result.argv)
    _assert_hidden(repr(cmd | cmd), repr(options))
    if where in ("arg", "flag"):
        shown = "***" if where == "arg" else "--token=***"
        assert result.argv[-1] == shown
        assert all(e.argv[-1] == shown for e in seen.recorder.events)
    if where == "env":
        assert all(e.env == {"CUPRUM_TOKEN": "***"} for e in seen.recorder.events)


@pytest.mark.parametrize("where", POSITIONS)
async def test_a_failed_check_never_shows_the_secret(where: str) -> None:
    cmd, options = _run_options(where, Secret(VALUE))
    with observed() as seen, pytest.raises(CommandFailedError) as excinfo:
        await _with_code(cmd, 3).run(check=True, **options)
    exc = excinfo.value
    assert exc.returncode == 3
    assert exc.stderr == f"err {VALUE}\n"  # like the result: what the program wrote
    assert "(stderr: err ***)" in str(exc)
    _assert_hidden(str(exc), repr(exc), exc.cmd)
    seen.assert_never_shows(VALUE)


@pytest.mark.parametrize("where", POSITIONS)
async def test_a_timeout_never_shows_the_secret(where: str) -> None:
    cmd, options = _run_options(where, Secret(VALUE))
    with observed() as seen, pytest.raises(TimeoutExpired) as excinfo:
        await _with_code(cmd, -1).run(timeout=1.0, **options)
    exc = excinfo.value
    _assert_hidden(str(exc), repr(exc), exc.cmd)
    seen.assert_never_shows(VALUE)
    assert [e.error for e in seen.recorder.events if e.is_terminal] == ["timeout"]


async def test_an_error_event_message_never_shows_the_secret() -> None:
    secret = Secret(VALUE)
    cmd = py("import time; print('ready', flush=True); time.sleep(300)", secret)

    def stop(event: Any) -> None:
        if event.line == "ready":
            raise RuntimeError(f"a hook that quotes {VALUE}")

    with observed() as seen, sh.observe(stop), pytest.raises(RuntimeError):
        await cmd.run()
    (terminal,) = [e for e in seen.recorder.events if e.is_terminal]
    assert terminal.error == "hook_failed"
    assert terminal.message == "RuntimeError: a hook that quotes ***"
    seen.assert_never_shows(VALUE)


async def test_a_spawn_failure_never_shows_the_secret() -> None:
    from .security_support import tool

    _, cmd = tool("cuprum-security-no-such-tool")
    cmd = SafeCmd(cmd.program, ("--token=" + Secret(VALUE),), cmd.project)
    with observed() as seen, pytest.raises(ProgramNotFoundError) as excinfo:
        await cmd.run()
    _assert_hidden(str(excinfo.value), repr(excinfo.value))
    assert [e.error for e in seen.recorder.events if e.is_terminal] == ["spawn_failed"]
    _assert_hidden(*(text for _, text in seen.texts()))


async def test_a_pipeline_hides_secrets_of_every_stage(stream_backend: str) -> None:
    first = py("import sys; print('first', sys.argv[1], flush=True)", Secret(VALUE))
    second = py(
        "import os, sys\n"
        "for line in sys.stdin:\n"
        "    print('got', line.strip(), os.environ['CUPRUM_TOKEN'], flush=True)",
    )
    pipeline = first | second
    context = ExecutionContext(env={"CUPRUM_TOKEN": Secret(VALUE + "-env")})
    stage_events = stream_backend != "direct"
    with observed() as seen:
        result = await pipeline.run(context=context, stage_events=stage_events)
    assert result.stdout == f"got first {VALUE} {VALUE}-env\n"
    seen.assert_never_shows(VALUE)

    def lines(stage: int) -> list[str | None]:
        return [
            e.line
            for e in seen.recorder.events
            if e.phase == "stdout" and e.tags["pipeline_stage_index"] == stage
        ]

    assert lines(1) == ["got first *** ***"]  # the longer value is replaced first
    assert lines(0) == (["first ***"] if stage_events else [])
    _assert_hidden(repr(pipeline), str(pipeline), repr(result), str(result))


async def test_a_streamed_run_gives_the_caller_real_lines_and_observers_redacted_ones() -> None:
    cmd = py("import sys; print(sys.stdin.read(), flush=True)")
    with observed() as seen:
        async with cmd.stream(stdin=Secret(VALUE)) as handle:
            lines = [line async for line in handle.stdout_lines()]
            result = await handle.wait()
    assert lines == [VALUE]
    _assert_hidden(repr(result))
    seen.assert_never_shows(VALUE)


async def test_run_concurrent_results_hide_the_secret() -> None:
    cmds = [py("import sys; print(sys.argv[1])", Secret(f"{VALUE}-{i}")) for i in range(3)]
    with observed() as seen:
        batch = await run_concurrent(*cmds)
    assert [r.stdout for r in batch.results] == [f"{VALUE}-{i}\n" for i in range(3)]
    _assert_hidden(repr(batch), str(batch))
    seen.assert_never_shows(VALUE)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_run_sync_hides_the_secret(backend: Literal["asyncio", "trio"]) -> None:
    cmd = py("import sys; print(sys.argv[1])", Secret(VALUE))
    with observed() as seen:
        result = cmd.run_sync(backend=backend)
    assert result.stdout == f"{VALUE}\n"
    _assert_hidden(repr(result))
    seen.assert_never_shows(VALUE)


async def test_a_bytes_secret_as_stdin() -> None:
    data = VALUE.encode() + b"\xff\x00"
    cmd = py("import sys; sys.stdout.buffer.write(sys.stdin.buffer.read())")
    with observed() as seen:
        result = await cmd.run(stdin=Secret(data), text=False)
    assert result.stdout == data
    seen.assert_never_shows(VALUE)


# -- the value itself ------------------------------------------------------------------


def test_every_text_form_of_a_secret_is_the_redaction() -> None:
    secret = Secret(VALUE)
    flag = "--token=" + secret
    for shown in (
        str(secret),
        repr(secret),
        f"{secret}",
        "%s" % secret,  # noqa: UP031 - the old formatting path too
        json.dumps([secret, flag]),
        " ".join([secret, flag]),
        repr(vars(secret) if hasattr(secret, "__dict__") else secret),
        pickle.loads(pickle.dumps(secret)),
        repr(copy.copy(secret)),
    ):
        assert VALUE not in shown
    assert secret.reveal() == VALUE
    assert isinstance(flag, Secret)
    assert (str(flag), flag.reveal()) == ("--token=***", f"--token={VALUE}")
    assert copy.deepcopy(secret) is secret
    assert pickle.loads(pickle.dumps(flag)) == "--token=***"  # a plain str once pickled


def test_secrets_compare_by_value_and_never_equal_plain_text() -> None:
    assert Secret("a") == Secret("a")
    assert Secret("a") != Secret("b")
    assert Secret("a") != "***"
    assert "***" != Secret("a")  # noqa: SIM300 - the reflected comparison, on purpose
    assert len({Secret("a"), Secret("a")}) == 1


def test_a_secret_takes_only_str_or_bytes() -> None:
    with pytest.raises(TypeError, match="str or bytes"):
        Secret(42)  # type: ignore[type-var]


async def test_an_argument_secret_is_in_the_childs_cmdline_as_documented() -> None:
    # The documented limit: other local users can read /proc/PID/cmdline.
    cmd = py("import sys, time; print('ready', flush=True); time.sleep(300)", Secret(VALUE))
    seen: list[bytes] = []

    async with cmd.stream() as handle:
        async for line in handle.stdout_lines():
            assert line == "ready"
            with open(f"/proc/{handle.pids[0]}/cmdline", "rb") as f:
                seen.append(f.read())
            break
    assert VALUE.encode() in seen[0]
