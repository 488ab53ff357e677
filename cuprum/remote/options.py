"""The ssh command lines cuprum runs: fixed options, then ``--``, the host, one line.

Host keys are always checked (``BatchMode=yes``, ``StrictHostKeyChecking=yes``), no
config file is read unless the host names one, no pty, no escape character, no
forwarding, and every value was validated by :class:`~cuprum.remote.SshHost`.
"""

from __future__ import annotations

import math

from cuprum._core.errors import ProgramNotFoundError
from cuprum._core.pinning import executable
from cuprum._core.programs import Program
from cuprum.remote._spec import HostSpec

__all__ = ["command_argv", "control_argv", "direct_argv", "master_argv", "ssh_program"]

#: What a session's log (``-E``) says when ssh got the remote exit status: through
#: the master, or on a connection of its own (the master had gone).
STATUS_MARKERS = ("Received exit status from master", "rtype exit-status")


_SSH = Program("ssh")
_FALLBACK = Program("/usr/bin/ssh")


def ssh_program() -> str:
    """The local OpenSSH client, found and pinned as the catalogue finds a program:
    ``ssh`` on the trusted search path (never a directory others can write, never a
    relative ``PATH`` entry), else ``/usr/bin/ssh``; the pin is checked at each call."""
    try:
        return executable(_SSH, None)
    except ProgramNotFoundError:
        return executable(_FALLBACK, None)


def ssh_option_path(path: str) -> str:
    """``path`` as an ssh option value: ssh expands ``%`` tokens in it, so each ``%``
    is doubled (``%%`` is a literal ``%``)."""
    return path.replace("%", "%%")


def _base(
    host: HostSpec, control_path: str, *, level: str = "ERROR", connect: float | None = None
) -> list[str]:
    seconds = host.connect_timeout if connect is None else min(connect, host.connect_timeout)
    argv = [
        ssh_program(),
        "-F",
        str(host.config_file or "none"),
        "-T",
        "-x",
        "-a",
        "-e",
        "none",
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "UpdateHostKeys=no",
        "-o",
        f"LogLevel={level}",
        "-o",
        f"ConnectTimeout={max(1, math.ceil(seconds))}",
        "-o",
        "ServerAliveInterval=15",
        "-o",
        "ServerAliveCountMax=3",
        "-o",
        f"ControlPath={ssh_option_path(control_path)}",
        "-o",
        "ClearAllForwardings=yes",
        "-o",
        "PermitLocalCommand=no",
    ]
    if host.port is not None:
        argv += ["-p", str(host.port)]
    if host.user is not None:
        argv += ["-l", host.user]
    if host.identity_file is not None:
        argv += ["-o", f"IdentityFile={host.identity_file!s}", "-o", "IdentitiesOnly=yes"]
    if host.known_hosts is not None:
        argv += ["-o", f"UserKnownHostsFile={host.known_hosts}"]
        argv += ["-o", "GlobalKnownHostsFile=/dev/null"]
    if host.host_key_alias is not None:
        argv += ["-o", f"HostKeyAlias={host.host_key_alias}"]
    return argv


def master_argv(host: HostSpec, control_path: str, connect: float | None = None) -> list[str]:
    """Start the master connection: authenticate, then go to the background
    (``connect``: seconds for the TCP connect, at most the host's ``connect_timeout``)."""
    return [
        *_base(host, control_path, connect=connect),
        "-o",
        "ControlMaster=yes",
        "-o",
        f"ControlPersist={max(1, round(host.persist))}",
        "-N",
        "-f",
        "--",
        host.host,
    ]


def control_argv(host: HostSpec, control_path: str, operation: str) -> list[str]:
    """Ask the master something (``check``, ``exit``): ``ssh -O operation``."""
    return [*_base(host, control_path), "-O", operation, "--", host.host]


def command_argv(host: HostSpec, control_path: str, line: str, log: str | None = None) -> list[str]:
    """Run ``line`` over the master connection (ssh connects on its own only if the
    master has gone). ``log``: ssh's own messages go to that file, not to the
    program's stderr, with what says whether the remote exit status arrived
    (:data:`STATUS_MARKERS`)."""
    if log is None:
        return [*_base(host, control_path), "-o", "ControlMaster=no", "--", host.host, line]
    argv = _base(host, control_path, level="DEBUG2")
    return [*argv, "-E", log, "-o", "ControlMaster=no", "--", host.host, line]


def direct_argv(host: HostSpec, line: str) -> list[str]:
    """Run ``line`` on a connection of its own (no master): the kill's last resort."""
    return [*_base(host, "none"), "-o", "ControlMaster=no", "--", host.host, line]
