"""The errors of ssh itself: a host that cannot be reached or used (see
:mod:`cuprum._core.errors`, which re-exports them)."""

from __future__ import annotations

from cuprum._core.error_base import CuprumError

__all__ = [
    "HostKeyError",
    "RemoteAuthError",
    "RemoteConnectError",
    "RemoteError",
    "RemoteTimeoutError",
]


class RemoteError(CuprumError, ConnectionError):
    """ssh could not reach or use a host; never a remote program's own exit status.

    ``host`` names the host (its label), ``detail`` is what ssh said.
    """

    def __init__(self, host: str, message: str, detail: str = "") -> None:
        super().__init__(f"{host}: {message}" + (f" (ssh: {detail})" if detail else ""))
        self.host = host
        self.detail = detail
        self._keep_args(host, message, detail)


class RemoteConnectError(RemoteError):
    """The connection was refused, the host is unreachable or unknown, or it was lost."""


class RemoteTimeoutError(RemoteError, TimeoutError):
    """No connection was made within the host's ``connect_timeout``."""


class RemoteAuthError(RemoteError, PermissionError):
    """The server accepted none of the keys offered."""


class HostKeyError(RemoteError):
    """The host's key is not in the named known_hosts, or it has changed."""
