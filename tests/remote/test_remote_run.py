"""A remote command runs like a local one: results, stdin, redirects, events, hooks, streams."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from cuprum import (
    ECHO,
    ExecEvent,
    ForbiddenProgramError,
    InvalidArgumentError,
    Program,
    ProgramCatalogue,
    ProjectSettings,
    ScopeConfig,
    before,
    observe,
    scoped,
    sh,
)
from cuprum.remote import RemoteCmd, SshHost, disconnect_all
from cuprum.remote.master import POOL
from cuprum.remote.options import command_argv

from .remote_support import SH, cat, echo, false, head, printf, shell, wc

pytestmark = pytest.mark.anyio


async def test_result_matches_the_local_run(host: SshHost) -> None:
    local = await echo("a b", "c").run()
    remote = await host(echo("a b", "c")).run()
    assert (remote.stdout, remote.exit_code, remote.argv) == (
        local.stdout,
        local.exit_code,
        local.argv,
    )
    assert remote.ok


async def test_bound_options_go_to_the_host_and_stay_remote(host: SshHost) -> None:
    # host(cmd) used to drop cmd's bound options, host(a | b) the pipeline's, and
    # host(cmd).with_options(...) returned a plain SafeCmd: it then ran locally.
    marker = shell("-c", 'echo "run=${CUPRUM_RUN:+remote}"; exit 3')
    bound = host(marker.with_options(accept=(0, 3), timeout=30))
    assert isinstance(bound, RemoteCmd)
    assert dict(bound.options) == {"accept": frozenset({0, 3}), "timeout": 30}
    rebound = host(marker).with_options(accept=(0, 3))
    assert isinstance(rebound, RemoteCmd) and rebound.host is host
    for cmd in (bound, rebound):
        result = await cmd.run()
        assert (result.stdout, result.ok) == ("run=remote\n", True)
    piped = host((marker | cat()).with_options(timeout=30))
    assert dict(piped.options) == {"timeout": 30}
    assert all(isinstance(part, RemoteCmd) for part in piped.parts)


async def test_tty_is_refused_for_a_remote_command(host: SshHost) -> None:
    # The remote program would get no terminal (ssh -T) and ^C would kill the local ssh.
    cmd = host(shell("-c", "tty"))
    with pytest.raises(InvalidArgumentError, match="tty= is for a local command"):
        await cmd.run(tty=True)
    with pytest.raises(InvalidArgumentError, match="tty= is for a local command"):
        cmd.stream(tty=True)


async def test_exit_codes_are_the_programs_even_255(host: SshHost) -> None:
    assert (await host(false()).run()).exit_code == 1
    result = await host(shell("-c", "echo oops >&2; exit 255")).run()
    assert (result.exit_code, result.stderr) == (255, "oops\n")


async def test_stdin_bytes_reach_the_remote_program(host: SshHost) -> None:
    result = await host(wc("-c")).run(stdin=b"x" * 100_000)
    assert (result.stdout or "").strip() == "100000"


async def test_stdout_redirect_to_a_local_file(host: SshHost, tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    with target.open("wb") as f:
        await host(printf("%s", "remote")).run(stdout=f)
    assert target.read_text() == "remote"


async def test_remote_cwd_and_env(host: SshHost) -> None:
    cmd = host.cmd(
        shell("-c", 'printf "%s|%s" "$(pwd)" "$GREETING"'), cwd="/", env={"GREETING": "hi there"}
    )
    assert (await cmd.run()).stdout == "/|hi there"


async def test_programs_resolve_through_the_pinned_path(host: SshHost) -> None:
    result = await host(shell("-c", 'printf "%s" "$PATH"')).run()
    assert result.stdout == host.remote_path


async def test_remote_echo_is_the_same_program_as_the_local_one(host: SshHost) -> None:
    # Never /bin/sh's builtin echo, which reads escapes itself and takes no -e.
    local = await echo("-e", "a\\tb", "\\101").run()
    remote = await host(echo("-e", "a\\tb", "\\101")).run()
    assert remote.stdout == local.stdout == "a\tb A\n"


async def test_an_env_path_cannot_replace_the_program(host: SshHost, tmp_path: Path) -> None:
    fake = tmp_path / "printf"
    fake.write_text("#!/bin/sh\necho hijacked\n")
    fake.chmod(0o755)
    result = await host.cmd(printf("%s", "real"), env={"PATH": str(tmp_path)}).run()
    assert result.stdout == "real"


async def test_a_program_missing_on_the_host_exits_127(host: SshHost) -> None:
    program = Program("no-such-program-cuprum")
    project = ProjectSettings(name="missing", programs=(program,))
    missing = sh.make(program, catalogue=ProgramCatalogue(projects=(project,)))
    result = await host(missing()).run()
    assert result.exit_code == 127
    assert "no-such-program-cuprum: not found in PATH" in (result.stderr or "")


async def test_pipeline_of_remote_and_local_stages(host: SshHost) -> None:
    result = await (host(head("-c", "5000", "/dev/zero")) | wc("-c")).run()
    assert (result.stages[-1].stdout or "").strip() == "5000"
    both = await host(printf("a\\nb\\n") | wc("-l")).run()
    assert (both.stages[-1].stdout or "").strip() == "2"


async def test_events_are_tagged_with_the_host_and_hooks_run(host: SshHost) -> None:
    events: list[ExecEvent] = []
    seen: list[str] = []
    with observe(events.append), before(lambda cmd: seen.append(cmd.program)):
        await host(echo("hi")).run()
    assert seen == [ECHO]
    phases = [e.phase for e in events if e.tags.get("host") == host.label]
    assert phases[0] == "plan" and "start" in phases and phases[-1] == "exit"
    assert {e.program for e in events} == {ECHO}


async def test_streaming_handle_reads_remote_lines(host: SshHost) -> None:
    async with host(printf("1\\n2\\n3\\n")).stream() as handle:
        lines = [line async for line in handle.stdout_lines()]
        result = await handle.wait()
    assert result.ok
    assert lines == ["1", "2", "3"]


async def test_allowlist_is_checked_before_connecting(daemon: object) -> None:
    nowhere = SshHost("192.0.2.1", connect_timeout=1)  # TEST-NET: would time out
    with scoped(ScopeConfig(allowlist=frozenset({SH}))), pytest.raises(ForbiddenProgramError):
        await nowhere(cat("/etc/passwd")).run()


def test_run_sync_works_too(host: SshHost) -> None:
    assert host(echo("sync")).run_sync().stdout == "sync\n"
    assert host(echo("trio")).run_sync(backend="trio").stdout == "trio\n"


async def test_one_private_master_per_host_and_cleanup(host: SshHost) -> None:
    await host(echo("1")).run()
    await host(echo("2")).run()
    directory = POOL.directory()
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    sockets = os.listdir(directory)
    assert POOL.control_path(host).rsplit("/", 1)[1] in sockets
    disconnect_all()
    assert not os.path.exists(directory)
    assert (await host(echo("3")).run()).stdout == "3\n"  # reconnects


def test_host_goes_after_double_dash_with_fixed_options(host: SshHost) -> None:
    argv = command_argv(host, "/ctl", "LINE")
    assert argv[-3:] == ["--", "127.0.0.1", "LINE"]
    assert "BatchMode=yes" in argv and "StrictHostKeyChecking=yes" in argv
    assert argv[argv.index("-F") + 1] == "none"


def test_remote_commands_are_hashable_values(host: SshHost) -> None:
    one = host.cmd(echo("x"), env={"A": "1"})
    assert one == host.cmd(echo("x"), env={"A": "1"})
    assert len({one, host.cmd(echo("x"), env={"A": "1"})}) == 1


async def test_secret_env_arrives_through_stdin_never_on_a_command_line(
    shell_host: SshHost,
) -> None:
    secret = "s3cr=t $x 'q'\nsecond line"
    events: list[ExecEvent] = []
    # The program's own command line must not hold the secret (the pattern is built
    # at run time so the script itself does not contain it).
    script = 'printf "%s|" "$TOKEN"; cat; grep -c "$(printf s3%s cr)" /proc/$$/cmdline || true'
    cmd = shell_host.cmd(shell("-c", script), secret_env={"TOKEN": secret})
    with observe(events.append):
        result = await cmd.run(stdin=b"the input")
    assert result.stdout == f"{secret}|the input0\n"
    assert "s3cr" not in repr(cmd)
    # Only the program's own output (which prints it here) may carry the secret.
    assert all("s3cr" not in repr(e) for e in events if e.phase != "stdout")
    from cuprum.remote.command import _FEEDING

    feeding = _FEEDING.set(cmd)  # as cmd.run() does
    line = " ".join(cmd.launch().argv)
    _FEEDING.reset(feeding)
    assert "s3cr" not in line and "163063143162" not in line  # neither text nor octal


async def test_secret_env_refuses_pipelines_and_file_stdin(host: SshHost, tmp_path: Path) -> None:
    from cuprum import InvalidArgumentError

    cmd = host.cmd(cat(), secret_env={"TOKEN": "x"})
    with pytest.raises(InvalidArgumentError, match="secret_env"):
        await (cmd | wc("-c")).run()
    path = tmp_path / "in"
    path.write_bytes(b"x")
    with pytest.raises(InvalidArgumentError, match="secret_env"):
        await cmd.run(stdin=path)
