"""``stream(tty=...)``: conversations with programs on a terminal, on asyncio and trio."""

from __future__ import annotations

import re

import anyio
import pytest

from cuprum import ExpectTimeout, Secret, Terminal, TimeoutExpired, observe

from .terminal_support import (
    CAT,
    DEADLINE,
    GETPASS,
    ON_RESIZE,
    PY,
    Recorder,
    cmd,
    py,
    text,
)

pytestmark = pytest.mark.anyio


async def test_a_getpass_prompt_answered(anyio_backend: str) -> None:
    recorder = Recorder()
    with observe(recorder):
        async with py(GETPASS).stream(tty=True) as handle:
            prompt = await handle.expect("Password: ", timeout=DEADLINE)
            await handle.wait_noecho(timeout=DEADLINE)
            await handle.sendline("hunter2")
            report = re.compile(r"length (\d+) reversed (\w+)")
            found = await handle.expect(report, timeout=DEADLINE)
            result = await handle.wait()
    assert prompt.before == ""
    assert found.match is not None
    assert found.match.groups() == ("7", "2retnuh")
    assert result.ok
    # echo was off: the password never came back through the terminal
    assert all("hunter2" not in line for line in recorder.lines())


async def test_a_python_session_driven_for_several_exchanges(anyio_backend: str) -> None:
    python = cmd(PY, "-i", "-q")
    async with python.stream(tty=Terminal(term="dumb", echo_input=False)) as handle:
        await handle.expect(">>> ", timeout=DEADLINE)
        answers = []
        for n in range(5):
            await handle.sendline(f"{n} ** 2 + 1")
            reply = await handle.expect(">>> ", timeout=DEADLINE)
            answers.append(reply.before.strip().splitlines()[-1])
        await handle.sendline("x = 'kept'")
        await handle.expect(">>> ", timeout=DEADLINE)
        await handle.sendline("print(x.upper())")
        assert (await handle.expect(">>> ", timeout=DEADLINE)).before.strip().endswith("KEPT")
        await handle.send_eof()
        result = await handle.wait()
    assert answers == ["1", "2", "5", "10", "17"]
    assert result.exit_code == 0


async def test_cat_echoes_and_ends_at_send_eof(anyio_backend: str) -> None:
    async with cmd(CAT).stream(tty=True) as handle:
        await handle.sendline("first")
        echoed = await handle.expect("first\n", timeout=DEADLINE)  # the terminal's echo
        copied = await handle.expect("first\n", timeout=DEADLINE)  # cat's copy
        await handle.send_eof()
        result = await handle.wait()
    assert echoed.before == "" and copied.before == ""
    assert result.ok


async def test_resize_while_running(anyio_backend: str) -> None:
    async with py(ON_RESIZE).stream(tty=Terminal(rows=30, cols=90)) as handle:
        await handle.expect("size 30 90\n", timeout=DEADLINE)
        handle.resize(52, 147)
        await handle.expect("size 52 147\n", timeout=DEADLINE)
        assert handle.terminal_size == (52, 147)
        await handle.send_eof()
        result = await handle.wait()
    assert result.ok


async def test_lines_through_the_terminal_nothing_lost(anyio_backend: str) -> None:
    code = "import sys\nfor i in range(10_000): sys.stdout.write(f'line {i}\\n')"
    recorder = Recorder()
    with observe(recorder):
        async with py(code).stream(tty=True) as handle:
            lines = [line async for line in handle.stdout_lines()]
            result = await handle.wait()
    expected = [f"line {i}" for i in range(10_000)]
    assert lines == expected
    assert recorder.lines() == expected
    assert result.ok and result.stdout == ""


async def test_chunks_are_the_raw_terminal_bytes(anyio_backend: str) -> None:
    async with py("print('a'); print('b')").stream(tty=True, text=False) as handle:
        raw = b"".join([chunk async for chunk in handle.stdout_chunks()])
        await handle.wait()
    assert raw == b"a\r\nb\r\n"


async def test_wait_keeps_unread_output_as_text(anyio_backend: str) -> None:
    async with py("print('one'); print('two')").stream(tty=True) as handle:
        await handle.expect("one", timeout=DEADLINE)
        result = await handle.wait()
    assert text(result.stdout) == "\ntwo\n"


async def test_stderr_stays_a_captured_pipe(anyio_backend: str) -> None:
    code = "import sys; print('out'); print('err', file=sys.stderr)"
    async with py(code).stream(tty=True) as handle:
        await handle.expect("out", timeout=DEADLINE)
        result = await handle.wait()
    assert text(result.stderr) == "err\n"


async def test_wait_noecho_times_out_naming_the_program(anyio_backend: str) -> None:
    async with cmd(CAT).stream(tty=True) as handle:
        with pytest.raises(ExpectTimeout, match="echo not turned off") as caught:
            await handle.wait_noecho(timeout=0.05)
    assert caught.value.program == "cat"


async def test_terminal_only_methods_need_a_terminal(anyio_backend: str) -> None:
    async with py("pass").stream() as handle:
        with pytest.raises(RuntimeError, match="tty=True"):
            handle.resize(10, 10)
        with pytest.raises(RuntimeError, match="tty=True"):
            await handle.wait_noecho(timeout=1)
        await handle.wait()


async def test_sending_after_the_program_is_gone_is_a_broken_pipe(anyio_backend: str) -> None:
    async with py("print('bye')").stream(tty=True) as handle:
        await handle.wait()
        with pytest.raises(BrokenPipeError, match="its terminal is closed"):
            await handle.send("anyone there?")


async def test_typing_blocked_when_the_timeout_expires_raises_timeout_expired(
    anyio_backend: str,
) -> None:
    code = "import time; print('ready', flush=True); time.sleep(30)"  # never reads
    with anyio.fail_after(DEADLINE):
        async with py(code).stream(tty=Terminal(echo_input=False), timeout=1.0) as handle:
            await handle.expect("ready\n", timeout=DEADLINE)
            with pytest.raises(TimeoutExpired) as caught:
                await handle.send(("x" * 40 + "\n") * 20_000)  # more than the input queue holds
    assert caught.value.timeout == 1.0


async def test_input_waits_while_the_terminal_is_full_and_loses_nothing(
    anyio_backend: str,
) -> None:
    lines = [f"line {i:05d} " + "x" * 40 for i in range(5000)]  # ~260 KB, far over 4 KiB

    async with cmd(CAT).stream(tty=Terminal(echo_input=False)) as handle:

        async def send_all() -> None:
            await handle.send("".join(f"{line}\n" for line in lines))
            await handle.send_eof()

        async with anyio.create_task_group() as tg:
            tg.start_soon(send_all)
            copied = [line async for line in handle.stdout_lines()]
        result = await handle.wait()
    assert copied == lines
    assert result.ok


async def test_a_secret_sent_is_typed_as_its_value_and_redacted_from_events(
    anyio_backend: str,
) -> None:
    password = Secret("s3cr3t-value")
    recorder = Recorder()
    with observe(recorder):
        async with cmd(CAT).stream(tty=True) as handle:  # echo on: the value comes back
            await handle.sendline(password)
            echoed = await handle.expect(password, timeout=DEADLINE)  # matched by its value
            copied = await handle.expect("s3cr3t-value\n", timeout=DEADLINE)  # cat's copy
            with pytest.raises(ExpectTimeout) as caught:
                await handle.expect("never", timeout=0.05)
            await handle.send_eof()
            await handle.wait()
    assert echoed.matched == "s3cr3t-value" and echoed.pattern is password
    assert copied.before == "\n"
    lines = recorder.lines()
    assert lines and all("s3cr3t" not in line for line in lines)
    assert "***" in lines
    assert "s3cr3t" not in str(caught.value)


async def test_a_secret_answers_a_password_prompt(anyio_backend: str) -> None:
    async with py(GETPASS).stream(tty=True) as handle:
        await handle.expect("Password: ", timeout=DEADLINE)
        await handle.wait_noecho(timeout=DEADLINE)
        await handle.sendline(Secret("hunter2"))
        found = await handle.expect(re.compile(r"reversed (\w+)"), timeout=DEADLINE)
        await handle.wait()
    assert found.match is not None and found.match.group(1) == "2retnuh"
