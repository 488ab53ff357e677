"""``run(tty=...)``: the child gets a terminal it controls, with the size asked for."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cuprum import (
    STDOUT,
    ExecutionContext,
    InvalidArgumentError,
    ProgramNotFoundError,
    Terminal,
    WorkingDirectoryError,
    observe,
)

from .terminal_support import (
    LS,
    MISSING,
    PY,
    STTY,
    TTY,
    Recorder,
    cmd,
    data,
    open_fds,
    py,
    text,
    zombie_children,
)

pytestmark = pytest.mark.anyio

ISATTY = "import sys; print(sys.stdin.isatty(), sys.stdout.isatty(), sys.stderr.isatty())"
SESSION = "import os; print(os.getsid(0) == os.getpid(), os.getpgrp() == os.getpid())"


async def test_tty_names_a_pseudo_terminal(anyio_backend: str) -> None:
    result = await cmd(TTY).run(tty=True)
    assert result.ok
    assert re.fullmatch(r"/dev/pts/\d+\n", text(result.stdout))


async def test_stty_reports_the_size_set(anyio_backend: str) -> None:
    result = await cmd(STTY, "size").run(tty=Terminal(rows=41, cols=133))
    assert text(result.stdout) == "41 133\n"
    default = await cmd(STTY, "size").run(tty=True)
    assert text(default.stdout) == "24 80\n"


async def test_stdin_and_stdout_are_the_terminal_stderr_a_pipe(anyio_backend: str) -> None:
    result = await py(ISATTY + "; print('to stderr', file=sys.stderr)").run(tty=True)
    assert text(result.stdout) == "True True False\n"
    assert text(result.stderr) == "to stderr\n"


async def test_stderr_on_the_terminal_too(anyio_backend: str) -> None:
    result = await py(ISATTY + "; print('to stderr', file=sys.stderr)").run(tty=True, stderr=STDOUT)
    assert text(result.stdout) == "True True True\nto stderr\n"
    assert result.stderr is None


async def test_child_leads_its_own_session_controlled_by_the_terminal(anyio_backend: str) -> None:
    result = await py(SESSION + "; open('/dev/tty').close(); print('ctty')").run(tty=True)
    assert text(result.stdout) == "True True\nctty\n"


async def test_python_sees_a_terminal(anyio_backend: str) -> None:
    result = await py("import sys; print(sys.stdout.isatty())").run(tty=True)
    assert text(result.stdout) == "True\n"


async def test_ls_colours_on_a_terminal(anyio_backend: str, tmp_path: Path) -> None:
    (tmp_path / "subdir").mkdir()
    on_tty = await cmd(LS, "--color=auto", str(tmp_path)).run(tty=Terminal(term="xterm"))
    assert "\x1b[" in text(on_tty.stdout)
    piped = await cmd(LS, "--color=auto", str(tmp_path)).run()
    assert "\x1b[" not in text(piped.stdout)


async def test_text_has_lf_where_the_terminal_wrote_crlf(anyio_backend: str) -> None:
    code = "import sys; sys.stdout.write('one\\ntwo\\r\\nprogress\\r50%\\n')"
    as_text = await py(code).run(tty=True)
    # Each "\r\n" becomes "\n": what the program wrote, before the terminal's ONLCR.
    assert text(as_text.stdout) == "one\ntwo\r\nprogress\r50%\n"
    raw = await py(code).run(tty=True, text=False)
    assert data(raw.stdout) == b"one\r\ntwo\r\r\nprogress\r50%\r\n"


async def test_ten_thousand_lines_nothing_lost(anyio_backend: str) -> None:
    recorder = Recorder()
    code = "import sys\nfor i in range(10_000): sys.stdout.write(f'line {i}\\n')"
    with observe(recorder):
        result = await py(code).run(tty=True)
    expected = [f"line {i}" for i in range(10_000)]
    assert text(result.stdout).splitlines() == expected
    assert recorder.lines() == expected  # line events: no "\r"


async def test_events_as_for_a_piped_run(anyio_backend: str) -> None:
    recorder = Recorder()
    with observe(recorder):
        result = await py("print('hello')").run(tty=True)
    phases = [event.phase for event in recorder.events]
    assert phases == ["plan", "start", "stdout", "exit"]
    assert recorder.lines() == ["hello"]
    assert recorder.of("exit")[0].pid == result.pid


async def test_term_sets_the_childs_term(anyio_backend: str) -> None:
    code = "import os; print(os.environ.get('TERM'))"
    result = await py(code).run(tty=Terminal(term="vt100"))
    assert text(result.stdout) == "vt100\n"
    overlay = ExecutionContext(env={"TERM": "dumb"})
    inherited = await py(code).run(tty=True, context=overlay)
    assert text(inherited.stdout) == "dumb\n"


async def test_cwd_is_honoured(anyio_backend: str, tmp_path: Path) -> None:
    result = await py("import os; print(os.getcwd())").run(
        tty=True, context=ExecutionContext(cwd=tmp_path)
    )
    assert text(result.stdout) == f"{tmp_path}\n"


async def test_a_missing_working_directory_is_named(anyio_backend: str, tmp_path: Path) -> None:
    with pytest.raises(WorkingDirectoryError, match="does not exist"):
        await py("pass").run(tty=True, context=ExecutionContext(cwd=tmp_path / "gone"))


async def test_a_missing_program_is_named(anyio_backend: str) -> None:
    with pytest.raises(ProgramNotFoundError, match=MISSING):
        await cmd(MISSING).run(tty=True)


async def test_child_sees_only_the_standard_fds(anyio_backend: str, inheritable_fd: int) -> None:
    code = f"import os; os.fstat({inheritable_fd})"
    result = await py(code).run(tty=True)
    assert not result.ok
    assert "Bad file descriptor" in text(result.stderr)


async def test_no_fd_or_zombie_left(anyio_backend: str) -> None:
    before = open_fds()
    for options in ({}, {"stderr": STDOUT}, {"capture": False}, {"text": False}):
        await py("print('x')").run(tty=True, **options)
    assert open_fds() == before
    assert zombie_children() == []


def test_run_sync_on_both_backends() -> None:
    for backend in ("asyncio", "trio"):
        result = py("import sys; print(sys.stdout.isatty())").run_sync(tty=True, backend=backend)
        assert text(result.stdout) == "True\n"


async def test_a_program_that_waits_for_input_times_out(anyio_backend: str) -> None:
    from cuprum import TimeoutExpired

    with pytest.raises(TimeoutExpired):
        await py("input()").run(tty=True, timeout=0.3)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"tty": "yes"}, "tty must be True, False or a Terminal"),
        ({"tty": Terminal(rows=0)}, "Terminal.rows must be an int from 1"),
        ({"tty": Terminal(cols=70_000)}, "Terminal.cols must be an int from 1"),
        ({"tty": Terminal(term="")}, "Terminal.term must be a non-empty str"),
        ({"tty": True, "stdin": b"data"}, "stdin is the terminal"),
        ({"tty": True, "stdout": Path("/dev/null")}, "stdout is the terminal"),
    ],
)
async def test_bad_options_are_refused_naming_the_program(
    anyio_backend: str, options: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=message) as caught:
        await py("pass").run(**options)  # type: ignore[call-overload]
    assert str(caught.value).startswith(PY)


async def test_a_pipeline_is_refused(anyio_backend: str) -> None:
    with pytest.raises(InvalidArgumentError, match="single command"):
        await (py("pass") | py("pass")).run(tty=True)


async def test_a_secret_argument_reaches_the_child_and_no_event(anyio_backend: str) -> None:
    from cuprum import Secret

    recorder = Recorder()
    with observe(recorder):
        result = await py("import sys; print('got', sys.argv[1])", Secret("t0ken-42")).run(tty=True)
    assert text(result.stdout) == "got t0ken-42\n"  # the result keeps what the program wrote
    assert recorder.lines() == ["got ***"]
