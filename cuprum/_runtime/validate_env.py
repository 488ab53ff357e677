"""Checking ``ExecutionContext.env``: when the request is built, and the loader-variable
rule again at the spawn, on the overlay the child is actually given.

A before hook runs after the request was checked and may still change the env mapping
it holds (the engine reads it at the spawn), so the policy that refuses loader variables
(``LD_PRELOAD``, ...; see ``docs/security.md``) is applied in both places, by one rule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cuprum._core.context import CuprumContext, is_loader_variable
from cuprum._core.secret import Secret
from cuprum._model.spec import CommandSpec
from cuprum._runtime.refusal import _Refused, check_os_string, described, refused

__all__ = ["check_env", "check_loader_env", "check_spawn_env"]


def check_loader_env(env: Mapping[object, object], policy: CuprumContext) -> None:
    """Refuse an overlay that sets a loader variable, unless the scope allows them."""
    if policy.allow_loader_env:
        return
    for name in env:
        if isinstance(name, str) and is_loader_variable(name):
            raise _Refused(
                f"ExecutionContext.env sets {name}, a loader variable (it can run code of "
                "its choosing inside the program); refused unless the scope allows it: "
                "scoped(ScopeConfig(allow_loader_env=True))"
            )


def check_spawn_env(
    stages: Sequence[CommandSpec], env: Mapping[Any, object], policy: CuprumContext
) -> None:
    """:func:`check_loader_env` on the overlay read at the spawn, as the request's
    :class:`InvalidArgumentError` naming the program (before any event or process);
    the request's check passed, so something changed the mapping since."""
    try:
        check_loader_env(env, policy)
    except _Refused as exc:
        hint = " (set after the request was checked: by a before hook?)"
        raise refused(stages, f"{exc}{hint}") from None


def check_env(env: object, policy: CuprumContext) -> None:
    """A mapping of non-empty names (no ``=``) to values, all ``str`` (a ``Secret`` is
    one), none with NUL; no loader variable unless the scope allows them."""
    if not isinstance(env, Mapping):
        raise _Refused(
            f"ExecutionContext.env must be a mapping of str to str, got {described(env)}"
        )
    for name, value in env.items():
        if not isinstance(name, str):
            raise _Refused(f"ExecutionContext.env: variable name {described(name)} is not a str")
        if not name or "=" in name:
            raise _Refused(
                f"ExecutionContext.env: invalid variable name {name!r} "
                "(names are non-empty and contain no '=')"
            )
        check_os_string(f"ExecutionContext.env: variable name {name!r}", name)
        check_loader_env({name: value}, policy)
        if not isinstance(value, str):  # the message tells the type only: it may be a secret
            raise _Refused(
                f"ExecutionContext.env[{name!r}] must be a str, got {type(value).__name__}"
            )
        real = value.reveal() if isinstance(value, Secret) else value
        if isinstance(real, bytes):
            if b"\x00" in real:
                raise _Refused(f"ExecutionContext.env[{name!r}] contains a NUL byte")
        else:
            check_os_string(f"ExecutionContext.env[{name!r}]", real)
