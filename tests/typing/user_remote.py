"""User code under ``mypy --strict``: a remote command's result is typed like a local one's.

Checked by tests/test_typing.py (mypy, then run for real against the test suite's
loopback sshd, when OpenSSH is installed). No cast, no ``assert x is not None``.
"""

from __future__ import annotations

import importlib
import sys
import tempfile
from pathlib import Path
from typing import Any, assert_type

import anyio

from cuprum import (
    DEVNULL,
    ECHO,
    STDOUT,
    WC,
    CommandResult,
    PipelineResult,
    ProgramCatalogue,
    StreamHandle,
    sh,
)
from cuprum.remote import RemoteCmd, SshHost

catalogue = ProgramCatalogue.of(ECHO, WC)
echo = sh.make(ECHO, catalogue=catalogue)
wc = sh.make(WC, catalogue=catalogue)


def results(host: SshHost) -> None:
    hello = host(echo("hello"))
    assert_type(hello, RemoteCmd)
    result = hello.run_sync()
    assert_type(result, CommandResult[str, str])
    assert result.stdout == "hello\n"
    assert_type(hello.run_sync(text=False).stdout, bytes)
    assert_type(hello.run_sync(capture=False).stdout, None)
    assert_type(hello.run_sync(stdout=DEVNULL), CommandResult[None, str])
    assert_type(hello.run_sync(stderr=STDOUT).stdout, str)
    checked = host.cmd(echo("x"), env={"LANG": "C"}).run_sync(check=True, timeout=30)
    assert_type(checked.exit_code, int)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp, "out")
        redirected = hello.run_sync(stdout=out, stderr=DEVNULL)
        assert_type(redirected, CommandResult[None, None])
        assert out.read_text() == "hello\n"
    counted = (host(echo("a b")) | wc("-w")).run_sync()
    assert_type(counted, PipelineResult[str, str])
    assert counted.stdout.strip() == "2"


async def on_an_event_loop(host: SshHost) -> None:
    result = await host(echo("async")).run()
    assert_type(result, CommandResult[str, str])
    assert result.stdout == "async\n"
    raw = await host(echo("raw")).run(text=False)
    assert_type(raw.stdout, bytes)
    async with host(echo("a", "b")).stream() as handle:
        assert_type(handle, StreamHandle[CommandResult[str, str]])
        lines = [line async for line in handle.stdout_lines()]
        done = await handle.wait()
    assert_type(done, CommandResult[str, str])
    assert lines == ["a b"]


def main() -> None:
    # The test suite's loopback daemon (tests/ is on sys.path when the test runs this).
    daemons: Any = importlib.import_module("remote.sshd_daemon")
    if daemons.missing_reason() is not None:
        print("skipped:", daemons.missing_reason())
        return
    with tempfile.TemporaryDirectory() as tmp, daemons.start_sshd(Path(tmp, "sshd")) as d:
        host = SshHost(
            "127.0.0.1",
            port=d.port,
            user=d.user,
            identity_file=d.identity,
            known_hosts=d.known_hosts,
        )
        results(host)
        anyio.run(on_an_event_loop, host)
        anyio.run(on_an_event_loop, host, backend="trio")
    from cuprum.remote import disconnect_all

    disconnect_all()


if __name__ == "__main__":
    main()
    sys.exit(0)
