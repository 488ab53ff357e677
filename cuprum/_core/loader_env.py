"""Loader variables: the environment names an env overlay may set only when the scope
allows it (``ScopeConfig(allow_loader_env=True)``; see ``docs/security.md``)."""

from __future__ import annotations

__all__ = ["LOADER_ENV_NAMES", "LOADER_ENV_PREFIXES", "is_loader_variable"]

LOADER_ENV_PREFIXES: tuple[str, ...] = ("LD_", "DYLD_")
"""Every variable named with one of these prefixes is a loader variable: the dynamic
loaders of glibc and musl read ``LD_*`` (``LD_PRELOAD``, ``LD_LIBRARY_PATH``,
``LD_AUDIT``, ``LD_DEBUG_OUTPUT``, ...), macOS's reads ``DYLD_*``."""
LOADER_ENV_NAMES: frozenset[str] = frozenset(
    {"GLIBC_TUNABLES", "GCONV_PATH", "LOCPATH", "NLSPATH", "MALLOC_TRACE", "HOSTALIASES"}
)
"""Other variables the C library itself acts on in every program: they load code
(``GCONV_PATH``), retune the loader and allocator (``GLIBC_TUNABLES``), or make it read
or write files of the caller's choosing. glibc drops all of these for setuid programs."""


def is_loader_variable(name: str) -> bool:
    """Whether an env overlay setting ``name`` is refused unless the scope allows it."""
    return name.startswith(LOADER_ENV_PREFIXES) or name in LOADER_ENV_NAMES
