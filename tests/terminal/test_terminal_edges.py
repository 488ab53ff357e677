"""Terminal runs at the edges: no fds left, a host ignoring SIGCHLD, a libc without closefrom."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap

import pytest
from processes import only_free_fds

from cuprum import SpawnError
from cuprum._runtime import terminal_spawn

from .terminal_support import DEADLINE, open_fds, py, text

pytestmark = pytest.mark.anyio


async def test_running_out_of_fds_leaks_none_and_names_the_program(anyio_backend: str) -> None:
    await py("pass").run(tty=True)  # every module and libc loaded before fds run out
    before = open_fds()
    refused = 0
    for free in range(40):
        error: OSError | None = None
        with only_free_fds(free):
            try:
                result = await py("print('made it')").run(tty=True)
            except OSError as exc:
                error = exc
        assert open_fds() == before, f"leaked with {free} free fds"
        if error is None:
            assert text(result.stdout) == "made it\n"
            break
        assert error.errno == errno.EMFILE, repr(error)
        if isinstance(error, SpawnError):
            assert f"{sys.executable}: cannot start" in str(error)
            refused += 1
    else:
        pytest.fail("never had enough fds")
    assert refused >= 2  # no fd for the pty, and one short of its two ends


async def test_inheritable_fds_are_closed_without_closefrom(
    anyio_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    libc = terminal_spawn._libc()
    monkeypatch.setattr(libc, "closefrom", None)  # as on a libc without it (musl)
    read_fd, write_fd = os.pipe()
    os.set_inheritable(read_fd, True)
    try:
        result = await py(f"import os; os.fstat({read_fd})").run(tty=True)
    finally:
        os.close(read_fd)
        os.close(write_fd)
    assert not result.ok
    assert "Bad file descriptor" in text(result.stderr)


HOST = textwrap.dedent(
    """
    import signal, sys
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    import anyio
    from cuprum import STDOUT, Program, ProgramCatalogue, ProjectSettings, TimeoutExpired, sh
    PY = Program(sys.executable)
    catalogue = ProgramCatalogue(projects=(ProjectSettings(name="host", programs=(PY,)),))
    py = sh.make(PY, catalogue=catalogue)

    async def main():
        ok = await py("-c", "import sys; print(sys.stdout.isatty())").run(tty=True)
        print("run", ok.exit_code, repr(ok.stdout), flush=True)
        async with py("-c", "print(input('? '))").stream(tty=True, stderr=STDOUT) as handle:
            await handle.expect("? ")
            await handle.sendline("answer")
            await handle.expect("answer")  # the echo
            reply = await handle.expect("answer")
            result = await handle.wait()
        print("stream", result.exit_code, repr(reply.before), flush=True)
        try:
            await py("-c", "import time; time.sleep(300)").run(tty=True, timeout=0.3)
        except TimeoutExpired:
            print("timeout", flush=True)

    anyio.run(main, backend=sys.argv[1])
    """
)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_runs_in_a_host_that_ignores_sigchld(backend: str) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run(
        [sys.executable, "-c", HOST, backend],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "run 0 'True\\n'",
        "stream 0 '\\n'",
        "timeout",
    ]
