"""What a remote run refuses or keeps as locally: loader variables, the size of the line
ssh sends, and a program's stderr when a signal kills it."""

from __future__ import annotations

import errno

import pytest

from cuprum import (
    ExecEvent,
    InvalidArgumentError,
    Program,
    ProgramCatalogue,
    ProjectSettings,
    ScopeConfig,
    SpawnError,
    observe,
    scoped,
    sh,
)
from cuprum.remote import SshHost
from cuprum.remote.launch import new_token
from cuprum.remote.master import POOL
from cuprum.remote.quoting import MAX_LINE, remote_line

from .remote_support import make_host, shell
from .sshd_daemon import Daemon

pytestmark = pytest.mark.anyio

PASSWD = Program("/etc/passwd")  # a file, not a program: the wrapper's exec fails
PROJECT = ProjectSettings(name="remote-limits", programs=(PASSWD,))
SHOW = 'printf "%s|%s" "${LD_LIBRARY_PATH-unset}" "${GCONV_PATH-unset}"'


@pytest.mark.parametrize(
    ("kind", "name"), [("env", "LD_PRELOAD"), ("env", "GCONV_PATH"), ("secret_env", "LD_AUDIT")]
)
async def test_a_loader_variable_in_a_remote_env_is_refused(
    host: SshHost, kind: str, name: str
) -> None:
    events: list[ExecEvent] = []
    overlay = {"LANG": "C", name: "/tmp/evil"}
    if kind == "env":
        cmd = host.cmd(shell("-c", SHOW), env=overlay)
    else:
        cmd = host.cmd(shell("-c", SHOW), secret_env=overlay)
    with observe(events.append), pytest.raises(InvalidArgumentError) as info:
        await cmd.run()
    message = str(info.value)
    assert message.startswith("/bin/sh: ")
    assert f"on {host.label} sets {name}, a loader variable" in message
    assert "allow_loader_env=True" in message
    assert events == []  # refused before any hook, event or process


async def test_a_scope_that_allows_loader_variables_lets_them_through(host: SshHost) -> None:
    cmd = host.cmd(shell("-c", SHOW), env={"LD_LIBRARY_PATH": "/opt/none"})
    with scoped(ScopeConfig(allow_loader_env=True)):
        allowed = await cmd.run()
        hidden = host.cmd(shell("-c", SHOW), secret_env={"GCONV_PATH": "/opt/g"})
        from_secret = await hidden.run()
        with scoped(ScopeConfig(allow_loader_env=False)), pytest.raises(InvalidArgumentError):
            await cmd.run()
    assert (allowed.exit_code, allowed.stdout) == (0, "/opt/none|unset")
    assert (from_secret.exit_code, from_secret.stdout) == (0, "unset|/opt/g")


@pytest.mark.parametrize(("signal", "number"), [("KILL", 9), ("TERM", 15), ("SEGV", 11)])
async def test_a_signal_death_adds_nothing_to_the_programs_stderr(
    host: SshHost, signal: str, number: int
) -> None:
    script = f"echo own >&2; kill -{signal} $$"
    local = await shell("-c", script).run()
    remote = await host(shell("-c", script)).run()
    assert local.stderr == "own\n"
    assert (remote.exit_code, remote.stderr) == (128 + number, "own\n")


async def test_the_shells_errors_before_the_program_still_reach_stderr(host: SshHost) -> None:
    missing = await host.cmd(shell("-c", "true"), cwd="/no/such/dir-cuprum").run()
    assert missing.exit_code == 126 and "/no/such/dir-cuprum" in (missing.stderr or "")
    not_a_program = sh.make(PASSWD, catalogue=ProgramCatalogue(projects=(PROJECT,)))
    unrunnable = await host(not_a_program()).run()
    assert unrunnable.exit_code == 126 and "/etc/passwd" in (unrunnable.stderr or "")


def _length_for(host: SshHost, total: int) -> int:
    """The length of a plain argument that makes the remote line ``total`` bytes."""
    base = remote_line(
        ("/bin/sh", "-c", 'echo "${#1}"', "sh", ""), token=new_token(), path=host.remote_path
    )
    return total - len(base)


async def test_the_remote_line_runs_up_to_its_limit(host: SshHost) -> None:
    arg = "a" * _length_for(host, MAX_LINE)
    result = await host(shell("-c", 'echo "${#1}"', "sh", arg)).run()
    assert (result.exit_code, result.stdout) == (0, f"{len(arg)}\n")


async def test_a_line_over_the_limit_names_the_program_and_the_host(
    daemon: Daemon,
) -> None:
    host = make_host(daemon, name="over-the-limit")
    events: list[ExecEvent] = []
    over = host(shell("-c", 'echo "${#1}"', "sh", "a" * _length_for(host, MAX_LINE + 1)))
    wide = host(shell("-c", 'echo "${#1}"', "sh", "é" * 20000))  # 40 KB of UTF-8
    for cmd in (over, wide):
        with observe(events.append), pytest.raises(SpawnError) as info:
            await cmd.run()
        assert info.value.errno == errno.E2BIG
        message = str(info.value)
        assert "/bin/sh: the remote command line for over-the-limit" in message
        assert f"over the {MAX_LINE} bytes" in message and "ssh" in message
    assert events == []
    assert not POOL.is_open(host)  # refused before connecting
