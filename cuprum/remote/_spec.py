"""``HostSpec``: the fields of an :class:`~cuprum.remote.SshHost`, validated so no value
reaches ssh's parser.

Every field becomes either a fixed ``-o Name=value`` option or the destination after
``--``; values are checked against a restricted character set here, when the host is
built, so a host name, user or path can never be read by ssh as an option, a
``ProxyCommand`` or a ``%`` token.
"""

from __future__ import annotations

import numbers
import os
import re
from dataclasses import dataclass

from cuprum._core.errors import InvalidArgumentError

__all__ = ["DEFAULT_REMOTE_PATH", "HostSpec"]

#: The remote search path programs resolve through (the remote user's own PATH and
#: rc files are never consulted): absolute programs run as named.
DEFAULT_REMOTE_PATH = "/usr/local/bin:/usr/bin:/bin"

_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})")
_IPV6 = re.compile(r"[0-9A-Fa-f:.]{2,45}")
_USER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
_LABEL = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:@-]{0,127}")
_PATH = re.compile(r"/[A-Za-z0-9_./+-]*")


def _bad(name: str, value: object, why: str) -> InvalidArgumentError:
    return InvalidArgumentError(f"SshHost: {name}={value!r} {why}")


def _check_path(name: str, value: str | os.PathLike[str] | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str | os.PathLike) or not isinstance(os.fspath(value), str):
        raise _bad(name, value, "must be a str or os.PathLike path")
    text = os.path.abspath(os.fspath(value))
    if not _PATH.fullmatch(text):
        raise _bad(name, value, "must be a path of letters, digits and _ . / + - only")
    return text


def _is_seconds(value: object) -> bool:
    """An ``int`` or ``float`` (or another real number), not a ``bool``."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True)
class HostSpec:
    """The validated fields of an :class:`~cuprum.remote.SshHost` (apart, so the modules
    that only read them do not import the host's methods); see its docstring."""

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
    max_sessions: int = 10

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
        if not (
            isinstance(self.remote_path, str)
            and all(_PATH.fullmatch(entry) for entry in self.remote_path.split(":"))
        ):
            raise _bad(
                "remote_path",
                self.remote_path,
                "must be absolute directories, ':'-joined (no empty or relative entry)",
            )
        if not (_is_seconds(self.connect_timeout) and 0 < self.connect_timeout <= 3600):
            raise _bad(
                "connect_timeout", self.connect_timeout, "must be a number of seconds in (0, 3600]"
            )
        if not (
            isinstance(self.max_sessions, int)
            and not isinstance(self.max_sessions, bool)
            and 1 <= self.max_sessions <= 1000
        ):
            raise _bad("max_sessions", self.max_sessions, "must be an int in [1, 1000]")
        if not (_is_seconds(self.persist) and 0 <= self.persist <= 86400):
            raise _bad("persist", self.persist, "must be a number of seconds in [0, 86400]")

    @property
    def label(self) -> str:
        """The host's name in events, errors and fleet results."""
        if self.name is not None:
            return self.name
        text = self.host if self.user is None else f"{self.user}@{self.host}"
        return text if self.port is None else f"{text}:{self.port}"
