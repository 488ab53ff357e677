"""A real OpenSSH daemon on 127.0.0.1, in a private directory, for the remote tests.

:func:`start_sshd` makes host keys, a client key, an ``authorized_keys`` file, a
``known_hosts`` that names the daemon under every alias, and an ``sshd_config``, then
runs ``sshd -D -e -f CONFIG`` on a free loopback port. As root it also makes one test
user per login shell (``sh``, ``bash`` and ``fish`` when installed), so quoting is
checked through each shell. Loopback only; the benchmarks reuse it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SSHD = shutil.which("sshd") or ("/usr/sbin/sshd" if os.path.exists("/usr/sbin/sshd") else None)
SSH_KEYGEN = shutil.which("ssh-keygen")
SHELLS = {"sh": "/bin/sh", "bash": "/bin/bash", "fish": "/usr/bin/fish"}


@dataclass(frozen=True)
class Daemon:
    """What a test needs to reach the daemon: port, keys, the users per shell."""

    port: int
    directory: Path
    identity: Path
    known_hosts: Path
    users: dict[str, str]  # shell name -> user name (only the shells available)
    process: subprocess.Popen[bytes]

    @property
    def user(self) -> str:
        """The default test user (login shell /bin/sh when running as root)."""
        return self.users.get("sh") or next(iter(self.users.values()))


def missing_reason() -> str | None:
    """Why the daemon cannot run here, or ``None``."""
    if SSHD is None or SSH_KEYGEN is None or shutil.which("ssh") is None:
        return "OpenSSH (sshd, ssh, ssh-keygen) is not installed"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _keygen(path: Path, kind: str = "ed25519") -> None:
    assert SSH_KEYGEN is not None
    subprocess.run(
        [SSH_KEYGEN, "-q", "-t", kind, "-N", "", "-C", "cuprum-test", "-f", str(path)],
        check=True,
    )


def _ensure_user(name: str, shell: str) -> None:
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "-m", "-s", shell, name], check=True)
    else:
        if entry.pw_shell != shell:
            subprocess.run(["usermod", "-s", shell, name], check=True)
    # "!" (locked) would make sshd refuse the key; "*" only disables passwords.
    subprocess.run(["usermod", "-p", "*", name], check=True)


def _users() -> dict[str, str]:
    if os.geteuid() != 0:
        return {"self": pwd.getpwuid(os.getuid()).pw_name}
    users = {}
    for label, shell in SHELLS.items():
        if os.path.exists(shell):
            name = f"cuprum-{label}"
            _ensure_user(name, shell)
            users[label] = name
    return users


def _config(
    directory: Path, public: Path, port: int, users: dict[str, str], max_sessions: int
) -> Path:
    lines = [
        f"Port {port}",
        "ListenAddress 127.0.0.1",
        f"HostKey {directory / 'host_ed25519'}",
        f"PidFile {directory / 'sshd.pid'}",
        f"AuthorizedKeysFile {public / 'authorized_keys'}",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PubkeyAuthentication yes",
        "UsePAM no",
        "StrictModes no",
        "PermitRootLogin prohibit-password",
        f"AllowUsers {' '.join(users.values())}",
        f"MaxSessions {max_sessions}",
        "MaxStartups 100:30:200",
        "LogLevel ERROR",
        "Subsystem sftp internal-sftp",
    ]
    path = directory / "sshd_config"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _wait_listening(port: int, proc: subprocess.Popen[bytes], deadline: float) -> None:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"sshd exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError("sshd did not listen within 20 s")


@contextmanager
def start_sshd(directory: Path, max_sessions: int = 100) -> Iterator[Daemon]:
    """Run a daemon for the duration of the block; kill it and its sessions after.

    ``max_sessions``: its ``MaxSessions`` (sessions per connection)."""
    assert SSHD is not None
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o755)  # the test users read the authorized keys
    _keygen(directory / "host_ed25519")
    _keygen(directory / "client")
    # sshd reads authorized_keys as the user: a world-readable directory of its own.
    public = Path(tempfile.mkdtemp(prefix="cuprum-sshd-"))
    os.chmod(public, 0o755)
    shutil.copy(directory / "client.pub", public / "authorized_keys")
    os.chmod(public / "authorized_keys", 0o644)
    host_key = (directory / "host_ed25519.pub").read_text(encoding="utf-8").split()
    port = _free_port()
    known = directory / "known_hosts"
    known.write_text(f"[127.0.0.1]:{port} {host_key[0]} {host_key[1]}\n", encoding="utf-8")
    users = _users()
    if os.geteuid() == 0:  # sshd's privilege separation needs this directory
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    config = _config(directory, public, port, users, max_sessions)
    subprocess.run([SSHD, "-t", "-f", str(config)], check=True)
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stderr=subprocess.DEVNULL)
    try:
        _wait_listening(port, proc, time.monotonic() + 20)
        yield Daemon(port, directory, directory / "client", known, users, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(public, ignore_errors=True)
