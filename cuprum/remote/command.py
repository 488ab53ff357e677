"""``RemoteCmd``: a ``SafeCmd`` that runs on an :class:`SshHost`, through the same engine.

It is a ``SafeCmd`` (same program, argv and project, so the allowlist, hooks, results
and events see the remote command), plus the host. The engine asks three things of
it, by duck typing, and of no local command:

- ``await prepare(budget)`` before any hook or process: the host's master connection
  is opened (a :class:`RemoteError` if it cannot be);
- ``launch()`` per stage per run: a :class:`~cuprum.remote.launch.RemoteLaunch` with
  the ssh argv to spawn, the ``host`` event tag, its sessions (``hold``/``release``),
  ``settle`` once the stage has ended and ``stop(grace)`` for a teardown.

Its ``run``/``run_sync``/``stream`` are ``SafeCmd``'s, typed per call the same way.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from cuprum._api.command import SafeCmd
from cuprum._core.context import current_context
from cuprum._core.errors import InvalidArgumentError
from cuprum._core.secret import Secret, reveal, secrets_in
from cuprum._runtime.request import RunRequest
from cuprum.remote._spec import HostSpec
from cuprum.remote.launch import RemoteLaunch, new_token
from cuprum.remote.master import POOL
from cuprum.remote.quoting import (
    check_env,
    check_line,
    check_loader_env,
    remote_line,
    secret_preamble,
)
from cuprum.remote.secret_stdin import with_preamble

__all__ = ["RemoteCmd"]

# The command whose own run() is feeding the secret preamble, if any.
_FEEDING: ContextVar[object] = ContextVar("cuprum_remote_feeding", default=None)


@dataclass(frozen=True, slots=True)
class RemoteCmd(SafeCmd):
    """A catalogued command bound to a host: ``host.cmd(cmd)`` or ``host(cmd)``.

    Runs like any ``SafeCmd`` (``run``, ``run_sync``, ``stream``, ``|`` with local or
    remote commands, :func:`~cuprum.run_concurrent`). ``remote_cwd`` and
    ``remote_env`` (name/value pairs, so the value stays hashable) apply on the
    remote side; ``ExecutionContext.env``/``cwd`` apply to the local ssh process.
    """

    host: HostSpec = field(kw_only=True)
    remote_cwd: str | None = field(default=None, kw_only=True)
    remote_env: tuple[tuple[str, str], ...] = field(default=(), kw_only=True)
    #: Sent as stdin lines before the program's input, exported by the wrapper:
    #: never on a command line, never in ``repr`` or events. Every value is kept as
    #: a :class:`~cuprum.Secret` (a plain ``str`` is wrapped), so the run redacts it.
    secret_env: tuple[tuple[str, str], ...] = field(default=(), kw_only=True, repr=False)

    def __post_init__(self) -> None:
        SafeCmd.__post_init__(self)
        if not isinstance(self.host, HostSpec):
            raise InvalidArgumentError(f"{self.program}: host must be an SshHost")
        if self.remote_cwd is not None and (
            not isinstance(self.remote_cwd, str)
            or not os.path.isabs(self.remote_cwd)
            or "\x00" in self.remote_cwd
        ):
            raise InvalidArgumentError(
                f"{self.program}: remote cwd {self.remote_cwd!r} must be an absolute path"
            )
        pairs = tuple(self.remote_env)
        _refuse_secrets(self.program, self.argv, pairs)
        check_env(self.program, dict(pairs))
        object.__setattr__(self, "remote_env", pairs)
        secret = tuple((name, _as_secret(self.program, name, v)) for name, v in self.secret_env)
        check_env(self.program, {name: "" for name, _ in secret})
        object.__setattr__(self, "secret_env", secret)

    @classmethod
    def on(
        cls,
        host: HostSpec,
        command: SafeCmd,
        *,
        cwd: str | None = None,
        env: Mapping[str, str] | None = None,
        secret_env: Mapping[str, str | Secret[Any]] | None = None,
    ) -> RemoteCmd:
        """``command`` bound to ``host`` (an already remote command is rebound)."""
        if not isinstance(command, SafeCmd):
            raise InvalidArgumentError(f"{host.label}: expected a SafeCmd, got {command!r}")
        return cls(
            command.program,
            command.argv,
            command.project,
            host=host,
            remote_cwd=cwd,
            remote_env=tuple((env or {}).items()),
            secret_env=tuple((secret_env or {}).items()),
            options=command.options,  # bound with_options() go with it to the host
        )

    async def prepare(self, budget: float | None = None) -> bool:
        """Open the host's master connection (before any hook or process) within
        ``budget``, what is left of the run's timeout; ``False`` if that ran out.
        What the run's scope refuses, or ssh could not send, is refused before."""
        self._check_run()
        return await POOL.ensure(self.host, budget) is not None

    def _check_run(self) -> None:
        """The scope's loader-variable refusal, and the size of the line ssh sends."""
        names = [name for name, _ in (*self.remote_env, *self.secret_env)]
        allowed = current_context().allow_loader_env
        check_loader_env(self.program, self.host.label, names, allowed)
        line = remote_line(
            self.argv_with_program,
            token=new_token(),
            path=self.host.remote_path,
            cwd=self.remote_cwd,
            env=dict(self.remote_env),
            secret_stdin=bool(self.secret_env),
        )
        check_line(self.program, self.host.label, line)

    def _request(self, call: dict[str, Any]) -> RunRequest:
        """The run's request; with ``secret_env`` its stdin starts with the preamble."""
        if self.secret_env:
            call = dict(call)
            call["stdin"] = with_preamble(
                self.program,
                secret_preamble({name: reveal(value) for name, value in self.secret_env}),
                call.get("stdin"),
            )
        return SafeCmd._request(self, call)

    async def _run(self, request: RunRequest) -> Any:
        """As a ``SafeCmd``'s; this command's own run may feed its secret preamble."""
        token = _FEEDING.set(self)
        try:
            return await SafeCmd._run(self, request)
        finally:
            _FEEDING.reset(token)

    def launch(self) -> RemoteLaunch:
        """This run's ssh argv, tags and remote stop (a fresh token every time)."""
        if self.secret_env and _FEEDING.get() is not self:
            raise InvalidArgumentError(
                f"{self.program}: a command with secret_env runs on its own (cmd.run()), "
                "not in a pipeline, a stream or a fleet"
            )
        return RemoteLaunch(
            self.host,
            POOL.control_path(self.host),
            self.argv_with_program,
            cwd=self.remote_cwd,
            env=dict(self.remote_env),
            secret_stdin=bool(self.secret_env),
        )

    def __repr__(self) -> str:
        return f"RemoteCmd({self.host.label}: {' '.join(self.argv_with_program)!r})"


def _refuse_secrets(program: str, argv: tuple[str, ...], env: tuple[tuple[str, str], ...]) -> None:
    """A ``Secret`` argument or ``remote_env`` value would travel on the local ssh
    command line (visible in ``/proc/PID/cmdline``): refused, pointing to ``secret_env``."""
    in_argv = bool(secrets_in(argv))
    if in_argv or secrets_in(value for pair in env for value in pair):
        where = "an argument" if in_argv else "a remote env value"
        raise InvalidArgumentError(
            f"{program}: a Secret as {where} of a remote command would be on the local ssh "
            "command line; pass it with secret_env= (sent through stdin) instead"
        )


def _as_secret(program: str, name: object, value: object) -> Secret[Any]:
    """A ``secret_env`` value as a ``Secret``: a ``str`` or a ``Secret`` without NUL."""
    if not isinstance(value, str):
        raise InvalidArgumentError(
            f"{program}: secret_env {name} must be a str or a Secret, not {type(value).__name__}"
        )
    real = reveal(value)
    if b"\x00" in real if isinstance(real, bytes) else "\x00" in real:
        raise InvalidArgumentError(f"{program}: secret_env {name} must not contain NUL")
    return value if type(value) is Secret else Secret(str(value))
