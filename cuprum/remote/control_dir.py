"""Where the control sockets live: a short private directory ssh reads as written.

ssh binds a master's socket at ``ControlPath`` plus a 17-character temporary suffix,
and a unix socket path holds at most 103 bytes on macOS and the BSDs (107 on Linux),
so the directory must be short. ssh also reads the path as a config value: it splits
it at whitespace, expands ``%`` tokens, ``${VAR}`` and a leading ``~``. So the
directory is made under the temporary directory (``TMPDIR``) when that is short and
made only of ``[A-Za-z0-9_./+,:@%-]`` (``%`` is written as ``%%``, see
:func:`~cuprum.remote.options.ssh_option_path`), else under ``/tmp``; either way with
``mkdtemp`` (mode 0700, owned by this user).
"""

from __future__ import annotations

import os
import re
import tempfile

from cuprum._core.errors import RemoteConnectError

__all__ = ["MAX_SOCKET_PATH", "make_control_dir", "usable_base"]

#: The longest socket path every supported system binds (macOS's ``sun_path`` is 104
#: bytes with its NUL; Linux's is 108).
MAX_SOCKET_PATH = 103
#: What ssh adds to a control path while it binds (``.`` and 16 random characters),
#: and what cuprum puts below the base: ``/cuprum-ssh-XXXXXXXX/`` and a 20-character key.
_SSH_SUFFIX = 17
_BELOW_BASE = len("/cuprum-ssh-XXXXXXXX/") + 20
_LONGEST_BASE = MAX_SOCKET_PATH - _SSH_SUFFIX - _BELOW_BASE
_SAFE = re.compile(r"/[A-Za-z0-9_./+,:@%-]*")
_FALLBACK = "/tmp"


def usable_base(base: str) -> str | None:
    """Why control sockets cannot live under ``base``, or ``None`` when they can."""
    if not os.path.isabs(base) or not _SAFE.fullmatch(base):
        return "it contains characters ssh would misread in ControlPath"
    if len(os.fsencode(base.rstrip("/"))) > _LONGEST_BASE:
        return (
            f"it is longer than {_LONGEST_BASE} bytes (a control socket path must stay "
            f"under {MAX_SOCKET_PATH + 1} bytes)"
        )
    if not os.path.isdir(base):
        return "it is not a directory"
    return None


def make_control_dir(label: str) -> str:
    """A new private directory for control sockets (``label``: the host, for errors)."""
    temp = tempfile.gettempdir()
    reasons = []
    for base in dict.fromkeys((temp, _FALLBACK)):
        why = usable_base(base)
        if why is None:
            try:
                made = tempfile.mkdtemp(prefix="cuprum-ssh-", dir=base)
            except OSError as exc:
                why = f"cannot make a directory there ({exc.strerror})"
            else:
                os.chmod(made, 0o700)
                return made
        reasons.append(f"{base!r}: {why}")
    raise RemoteConnectError(
        label,
        "no usable directory for the ssh control sockets (set TMPDIR to a short path "
        "of plain characters): " + "; ".join(reasons),
    )
