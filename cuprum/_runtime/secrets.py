"""The secrets of one run: what its line events, messages and results are scrubbed of."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cuprum._core.secret import Secret, secrets_in
from cuprum._runtime.request import RunRequest

__all__ = ["hide_also", "run_secrets"]


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


def hide_also(error: BaseException, secrets: Sequence[Secret[Any]]) -> None:
    """Have ``error``, made with the run's ``secrets``, hide ``secrets`` too: those sent
    to the program while it ran (a stream handle's ``write()``), which the run did
    not know of when it made the error. Its message, ``repr()`` and pickle then
    redact them as they redact the run's own; an error without ``secrets`` is left."""
    known = getattr(error, "secrets", None)
    if not isinstance(known, tuple):
        return
    added = [secret for secret in secrets if secret not in known]
    if not added:
        return
    merged = (*known, *added)
    error.__dict__["secrets"] = merged
    saved = getattr(error, "_init_args", None)
    if saved is not None and "secrets" in saved[1]:  # what copy and pickle rebuild it from
        args, kwargs = saved
        error._keep_args(*args, **{**kwargs, "secrets": merged})  # type: ignore[attr-defined]
