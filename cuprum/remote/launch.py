"""One remote stage's start and stop: the ssh argv, its event tags, the remote kill.

OpenSSH forwards no signal without a pty, so stopping the local ssh leaves the remote
program running. Every remote run carries a fresh token in its environment
(``CUPRUM_RUN``, set by the wrapper in :mod:`.quoting`); :meth:`RemoteLaunch.stop`
sends, over the same master connection, a small sh script that finds every process
carrying the token (the program, its children, even those that left its process
group), sends SIGTERM, waits up to the grace, then SIGKILLs what is left.
Finding processes reads ``/proc/*/environ`` (a Linux remote, GNU grep).
"""

from __future__ import annotations

import contextlib
import secrets
import subprocess
from collections.abc import Mapping

import anyio
import anyio.to_thread

from cuprum.remote._spec import HostSpec
from cuprum.remote.options import command_argv
from cuprum.remote.quoting import remote_line

__all__ = ["KILL_SCRIPT", "RemoteLaunch", "new_token"]

KILL_SCRIPT = "\n".join(
    (
        't="CUPRUM_RUN=$1"; n=$2',
        "p() { grep -lsxzF -e \"$t\" /proc/[0-9]*/environ | sed 's,^/proc/,,;s,/environ$,,'; }",
        'x=$(p); [ -n "$x" ] || exit 0',
        "kill -TERM $x 2>/dev/null",
        "i=0",
        "while [ $i -lt $n ]; do",
        '  x=$(p); [ -n "$x" ] || exit 0',
        "  sleep 0.05; i=$((i+1))",
        "done",
        'x=$(p); [ -z "$x" ] || kill -KILL $x 2>/dev/null',
        "exit 0",
    )
)


def new_token() -> str:
    """A token no other run shares (128 random bits)."""
    return secrets.token_hex(16)


class RemoteLaunch:
    """What the engine needs for one remote stage of one run (a fresh token each)."""

    __slots__ = ("argv", "control_path", "host", "tags", "token")

    def __init__(
        self,
        host: HostSpec,
        control_path: str,
        argv: tuple[str, ...],
        *,
        cwd: str | None,
        env: Mapping[str, str] | None,
        secret_stdin: bool = False,
    ) -> None:
        self.host = host
        self.control_path = control_path
        self.token = new_token()
        line = remote_line(
            argv,
            token=self.token,
            path=host.remote_path,
            cwd=cwd,
            env=env,
            secret_stdin=secret_stdin,
        )
        self.argv: tuple[str, ...] = tuple(command_argv(host, control_path, line))
        self.tags: Mapping[str, object] = {"host": host.label}

    def _kill_blocking(self, grace: float) -> None:
        ticks = max(0, round(grace / 0.05))
        argv = ("/bin/sh", "-c", KILL_SCRIPT, "cuprum-stop", self.token, str(ticks))
        line = remote_line(argv, token=new_token(), path=self.host.remote_path)
        # If the host is gone, nothing can be stopped there any more.
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(
                command_argv(self.host, self.control_path, line),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=grace + self.host.connect_timeout + 5,
                check=False,
            )

    async def stop(self, grace: float) -> None:
        """SIGTERM every remote process of this run, then SIGKILL after ``grace``."""
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(self._kill_blocking, grace)
