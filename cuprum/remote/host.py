"""``SshHost``: where remote commands run, validated so no value reaches ssh's parser.

Every field becomes either a fixed ``-o Name=value`` option or the destination after
``--``; values are checked against a restricted character set here, when the host is
built, so a host name, user or path can never be read by ssh as an option, a
``ProxyCommand`` or a ``%`` token.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, overload

from cuprum._core.errors import InvalidArgumentError

if TYPE_CHECKING:
    from cuprum._api.command import Pipeline, SafeCmd
    from cuprum._core.secret import Secret
    from cuprum.remote.command import RemoteCmd

__all__ = ["DEFAULT_REMOTE_PATH", "SshHost"]

#: The remote search path programs resolve through (the remote user's own PATH and
#: rc files are never consulted): absolute programs run as named.
DEFAULT_REMOTE_PATH = "/usr/local/bin:/usr/bin:/bin"

_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})")
_IPV6 = re.compile(r"[0-9A-Fa-f:.]{2,45}")
_USER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
_LABEL = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:@-]{0,127}")
_PATH = re.compile(r"/[A-Za-z0-9_./+-]*")
_PATH_LIST = re.compile(r"/[A-Za-z0-9_./+:-]*")


def _bad(name: str, value: object, why: str) -> InvalidArgumentError:
    return InvalidArgumentError(f"SshHost: {name}={value!r} {why}")


def _check_path(name: str, value: str | os.PathLike[str] | None) -> str | None:
    if value is None:
        return None
    text = os.path.abspath(os.fspath(value))
    if not _PATH.fullmatch(text):
        raise _bad(name, value, "must be a path of letters, digits and _ . / + - only")
    return text


@dataclass(frozen=True, slots=True)
class SshHost:
    """A host reached with the OpenSSH client, one master connection per host.

    ``host``: a DNS name or an IP address. ``user``, ``port``: as ssh's ``-l``/``-p``
    (``None``: ssh's default). ``identity_file``: the only key offered
    (``IdentitiesOnly``). ``known_hosts``: the file host keys are checked against
    (``None``: ssh's defaults); an unknown or changed key is a :class:`HostKeyError`.
    ``name``: the label in events, errors and fleet results (default ``host``, or
    ``user@host:port``); two hosts with different names get separate connections.
    ``host_key_alias``: look the key up under this name. ``connect_timeout``:
    seconds. ``config_file``: an ssh_config to read (``None``: none at all).
    ``remote_path``: the search path for programs that are not absolute.
    ``persist``: seconds an idle master connection stays up.
    """

    host: str
    user: str | None = None
    port: int | None = None
    identity_file: str | os.PathLike[str] | None = None
    known_hosts: str | os.PathLike[str] | None = None
    name: str | None = None
    host_key_alias: str | None = None
    connect_timeout: float = 10.0
    config_file: str | os.PathLike[str] | None = None
    remote_path: str = DEFAULT_REMOTE_PATH
    persist: float = 60.0

    def __post_init__(self) -> None:
        if not isinstance(self.host, str) or not (
            _HOST.fullmatch(self.host) or (":" in self.host and _IPV6.fullmatch(self.host))
        ):
            raise _bad("host", self.host, "is not a host name or IP address")
        if self.user is not None and not (
            isinstance(self.user, str) and _USER.fullmatch(self.user)
        ):
            raise _bad("user", self.user, "must be letters, digits, _ . - (not first: . -)")
        if self.port is not None and not (
            isinstance(self.port, int) and not isinstance(self.port, bool)
        ):
            raise _bad("port", self.port, "must be an int")
        if self.port is not None and not 0 < self.port < 65536:
            raise _bad("port", self.port, "must be between 1 and 65535")
        for attr in ("name", "host_key_alias"):
            value = getattr(self, attr)
            if value is not None and not (isinstance(value, str) and _LABEL.fullmatch(value)):
                raise _bad(attr, value, "must be letters, digits and _ . : @ - only")
        for attr in ("identity_file", "known_hosts", "config_file"):
            object.__setattr__(self, attr, _check_path(attr, getattr(self, attr)))
        if not _PATH_LIST.fullmatch(self.remote_path):
            raise _bad("remote_path", self.remote_path, "must be absolute directories, ':'-joined")
        if not (0 < self.connect_timeout <= 3600):
            raise _bad("connect_timeout", self.connect_timeout, "must be in (0, 3600] seconds")
        if not (0 <= self.persist <= 86400):
            raise _bad("persist", self.persist, "must be in [0, 86400] seconds")

    @property
    def label(self) -> str:
        """The host's name in events, errors and fleet results."""
        if self.name is not None:
            return self.name
        text = self.host if self.user is None else f"{self.user}@{self.host}"
        return text if self.port is None else f"{text}:{self.port}"

    def cmd(
        self,
        command: SafeCmd,
        *,
        cwd: str | None = None,
        env: Mapping[str, str] | None = None,
        secret_env: Mapping[str, str | Secret[Any]] | None = None,
    ) -> RemoteCmd:
        """``command`` to run on this host (``cwd``/``env``: on the remote side).

        ``secret_env``: remote environment sent through stdin before the program's
        input, never on a command line (only with ``cmd.run()``/``run_sync()``); its
        values (``str`` or :class:`~cuprum.Secret`) are redacted like any secret.
        A ``Secret`` in the argv or ``env`` is refused: it would be on the ssh
        command line.
        """
        from cuprum.remote.command import RemoteCmd

        return RemoteCmd.on(self, command, cwd=cwd, env=env, secret_env=secret_env)

    @overload
    def __call__(self, command: Pipeline) -> Pipeline: ...
    @overload
    def __call__(self, command: SafeCmd) -> RemoteCmd: ...
    def __call__(self, command: SafeCmd | Pipeline) -> RemoteCmd | Pipeline:
        """``host(cmd)`` is :meth:`cmd`; ``host(a | b)`` runs every stage on this host."""
        from cuprum._api.command import Pipeline

        if isinstance(command, Pipeline):
            return Pipeline(tuple(self.cmd(part) for part in command.parts))
        return self.cmd(command)

    async def connect(self) -> None:
        """Open (or check) the master connection now; raises a :class:`RemoteError`."""
        from cuprum.remote.master import POOL

        await POOL.ensure(self)

    async def disconnect(self) -> None:
        """Close the master connection, if one is open."""
        from cuprum.remote.master import POOL

        await POOL.close(self)
