"""The secrets of one run: what its line events, messages and results are scrubbed of."""

from __future__ import annotations

from typing import Any

from cuprum._core.secret import Secret, secrets_in
from cuprum._runtime.request import RunRequest

__all__ = ["run_secrets"]


def run_secrets(req: RunRequest) -> tuple[Secret[Any], ...]:
    """Every :class:`Secret` the run hands a child: arguments, env overlay values, stdin,
    and a remote command's ``secret_env`` values (read by duck typing: this layer
    knows no remote command)."""
    found: list[Secret[Any]] = []
    for cmd in req.stages:
        for arg in cmd.argv:
            if type(arg) is not str:  # the common case, all plain, costs one test per arg
                found += secrets_in(cmd.argv)
                break
        hidden = getattr(cmd, "secret_env", None)
        if hidden:
            found += secrets_in(value for _, value in hidden)
    env = req.context.env
    if env:
        found += secrets_in(env.values())
    if type(req.stdin) is Secret:
        found.append(req.stdin)
    return tuple(found) if found else ()
