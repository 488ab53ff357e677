"""Remote execution through the OpenSSH client: the same commands, results and events.

``host = SshHost("web1", user="deploy", known_hosts="/etc/cuprum/known_hosts")``;
``await host(ls("-l")).run()`` runs ``ls -l`` on web1 through one master connection
per host, with the allowlist checked locally, host keys checked, the argv arriving
exactly as built whatever the remote login shell, and timeouts and cancellation
stopping the remote processes too. ``run_fleet`` runs many commands over many hosts
with a global and a per-host limit. See ``docs/remote.md``.
"""

from __future__ import annotations

from cuprum._core.errors import (
    HostKeyError,
    RemoteAuthError,
    RemoteConnectError,
    RemoteError,
    RemoteTimeoutError,
)
from cuprum.remote.command import RemoteCmd
from cuprum.remote.fleet import FleetConfig, FleetResult, run_fleet, run_fleet_sync
from cuprum.remote.host import DEFAULT_REMOTE_PATH, SshHost
from cuprum.remote.master import POOL


def disconnect_all() -> None:
    """Close every master connection now and remove the private control directory
    (done at interpreter exit too)."""
    POOL.close_all()


__all__ = [
    "DEFAULT_REMOTE_PATH",
    "FleetConfig",
    "FleetResult",
    "HostKeyError",
    "RemoteAuthError",
    "RemoteCmd",
    "RemoteConnectError",
    "RemoteError",
    "RemoteTimeoutError",
    "SshHost",
    "disconnect_all",
    "run_fleet",
    "run_fleet_sync",
]
