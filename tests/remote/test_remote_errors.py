"""Connection failures are a RemoteError family naming the host; bad values never reach ssh."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from cuprum import InvalidArgumentError
from cuprum.remote import (
    HostKeyError,
    RemoteAuthError,
    RemoteConnectError,
    RemoteError,
    SshHost,
)

from .remote_support import echo
from .sshd_daemon import Daemon

pytestmark = pytest.mark.anyio


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_refused_connection(daemon: Daemon) -> None:
    host = SshHost("127.0.0.1", port=_closed_port(), known_hosts=daemon.known_hosts, name="gone")
    with pytest.raises(RemoteConnectError, match=r"^gone: ") as info:
        await host(echo("x")).run()
    assert info.value.host == "gone"


async def test_unknown_host_key(daemon: Daemon, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    host = SshHost(
        "127.0.0.1",
        port=daemon.port,
        user=daemon.user,
        identity_file=daemon.identity,
        known_hosts=empty,
        name="stranger",
    )
    with pytest.raises(HostKeyError, match="stranger"):
        await host(echo("x")).run()


async def test_changed_host_key(daemon: Daemon, tmp_path: Path) -> None:
    other = "AAAAC3NzaC1lZDI1NTE5AAAAIFq6hZ3Yc2q4h1h8l0pQ7r6y0o0G4wqkGJm3fK1c0XbS"
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{daemon.port} ssh-ed25519 {other}\n")
    host = SshHost(
        "127.0.0.1",
        port=daemon.port,
        user=daemon.user,
        identity_file=daemon.identity,
        known_hosts=known,
        name="changed",
    )
    with pytest.raises(HostKeyError, match="changed"):
        await host(echo("x")).run()


async def test_refused_key(daemon: Daemon, tmp_path: Path) -> None:
    import subprocess

    key = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    host = SshHost(
        "127.0.0.1",
        port=daemon.port,
        user=daemon.user,
        identity_file=key,
        known_hosts=daemon.known_hosts,
        name="nokey",
    )
    with pytest.raises(RemoteAuthError, match="nokey"):
        await host(echo("x")).run()


def test_remote_errors_are_connection_errors() -> None:
    assert issubclass(RemoteError, ConnectionError)
    assert not issubclass(RemoteError, InvalidArgumentError)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("host", "-oProxyCommand=sh"),
        ("host", "a b"),
        ("host", "host;rm"),
        ("host", ""),
        ("user", "-l"),
        ("user", "root@evil"),
        ("user", "a b"),
        ("port", 0),
        ("port", "22"),
        ("identity_file", "/tmp/%d/key"),
        ("known_hosts", "/tmp/a b"),
        ("known_hosts", '/tmp/x"'),
        ("name", "-x"),
        ("host_key_alias", "a=b"),
        ("remote_path", "bin:/usr/bin"),
    ],
)
def test_bad_values_are_refused_naming_the_parameter(field: str, value: object) -> None:
    kwargs: dict[str, object] = {"host": "example.org", field: value}
    with pytest.raises(InvalidArgumentError, match=field):
        SshHost(**kwargs)  # type: ignore[arg-type]


def test_remote_env_names_are_checked(host: SshHost) -> None:
    with pytest.raises(InvalidArgumentError, match="env"):
        host.cmd(echo("x"), env={"A=B": "x"})
    with pytest.raises(InvalidArgumentError, match="cwd"):
        host.cmd(echo("x"), cwd="relative")


async def test_a_lost_connection_is_a_remote_error_not_exit_255(daemon: Daemon) -> None:
    import os
    import tempfile
    import time

    import anyio

    from .remote_support import make_host, shell

    host = make_host(daemon, name="dropped")
    drop = Path(tempfile.mkdtemp(prefix="cuprum-remote-"))
    os.chmod(drop, 0o777)
    marker = drop / "started"

    async def drop_once_running() -> None:
        deadline = time.monotonic() + 20
        while not marker.exists():
            assert time.monotonic() < deadline, "the remote program did not start"
            await anyio.sleep(0.01)
        await host.disconnect()

    async with anyio.create_task_group() as tg:
        tg.start_soon(drop_once_running)
        with pytest.raises(RemoteConnectError, match="dropped: the connection was lost"):
            await host(shell("-c", f"touch {marker}; sleep 5")).run()
    marker.unlink()
    drop.rmdir()
