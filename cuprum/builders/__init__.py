"""Typed command builders for git, rsync and tar.

Every builder validates what it is given and returns a :class:`cuprum.SafeCmd`
for a curated program (``GIT``, ``RSYNC``, ``TAR``); nothing a caller passes can
become an option of the tool. Paths are :class:`SafePath` values (made from
``str`` or ``Path`` on the way in), refs are :class:`GitRef` values, and every
switch is an explicit keyword or option-object field mapped to one flag.
See ``docs/builders.md``.
"""

from __future__ import annotations

from cuprum.builders._git import git_checkout, git_rev_parse, git_status
from cuprum.builders._paths import SafePath, safe_path
from cuprum.builders._refs import GitRef, git_ref
from cuprum.builders._rsync import RsyncOptions, rsync_sync
from cuprum.builders._tar import TarCreateOptions, tar_create, tar_extract

__all__ = [
    "GitRef",
    "RsyncOptions",
    "SafePath",
    "TarCreateOptions",
    "git_checkout",
    "git_ref",
    "git_rev_parse",
    "git_status",
    "rsync_sync",
    "safe_path",
    "tar_create",
    "tar_extract",
]
