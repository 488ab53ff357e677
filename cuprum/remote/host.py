"""``SshHost``: where remote commands run (see :class:`~cuprum.remote._spec.HostSpec`
for its fields and how they are checked), and what can be done with one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, overload

from cuprum._api.command import Pipeline, SafeCmd
from cuprum._core.secret import Secret
from cuprum.remote._spec import DEFAULT_REMOTE_PATH, HostSpec
from cuprum.remote.command import RemoteCmd
from cuprum.remote.master import POOL

__all__ = ["DEFAULT_REMOTE_PATH", "SshHost"]


@dataclass(frozen=True, slots=True)
class SshHost(HostSpec):
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
        return RemoteCmd.on(self, command, cwd=cwd, env=env, secret_env=secret_env)

    @overload
    def __call__(self, command: Pipeline) -> Pipeline: ...
    @overload
    def __call__(self, command: SafeCmd) -> RemoteCmd: ...
    def __call__(self, command: SafeCmd | Pipeline) -> RemoteCmd | Pipeline:
        """``host(cmd)`` is :meth:`cmd`; ``host(a | b)`` runs every stage on this host."""
        if isinstance(command, Pipeline):
            # its own options (timeout, check, ...) stay bound, as each stage's do
            return Pipeline(
                tuple(self.cmd(part) for part in command.parts), options=command.options
            )
        return self.cmd(command)

    async def connect(self) -> None:
        """Open (or check) the master connection now; raises a :class:`RemoteError`."""
        await POOL.ensure(self)

    async def disconnect(self) -> None:
        """Close the master connection, if one is open."""
        await POOL.close(self)
