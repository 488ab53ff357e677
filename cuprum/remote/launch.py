"""One remote stage's start and end: the ssh argv, its tags, its session, the remote kill.

OpenSSH forwards no signal without a pty, so stopping the local ssh leaves the remote
program running. Every remote run carries a fresh token in its environment
(``CUPRUM_RUN``, set by the wrapper in :mod:`.quoting`); :meth:`RemoteLaunch.stop`
sends a small sh script that finds every process carrying the token (the program,
its children, even those that left its process group; and, by its command line, a
session still starting), sends SIGTERM, waits up to
the grace, then SIGKILLs what is left: over the master connection, or, when that
fails (the master is gone, or the server refuses one more session), on a fresh
connection bounded by the host's ``connect_timeout``. Finding processes reads
``/proc/*/environ`` (a Linux remote, GNU grep).

After a stage ends, :meth:`RemoteLaunch.settle` tells a lost session from the
program's own exit status exactly: ssh writes its own messages to a per-run log
(``-E``) that says whether the remote exit status arrived (the wrapper always ends
with one), so a remote ``exit 255`` stays an exit code.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
from collections.abc import Mapping, Sequence

import anyio
import anyio.to_thread

from cuprum._core.errors import InvalidArgumentError, RemoteConnectError
from cuprum.remote._spec import HostSpec
from cuprum.remote.master import POOL, key_of
from cuprum.remote.options import STATUS_MARKERS, command_argv, direct_argv
from cuprum.remote.quoting import check_line, remote_line
from cuprum.remote.sessions import SESSIONS

__all__ = ["KILL_SCRIPT", "RemoteLaunch", "new_token"]

KILL_SCRIPT = "\n".join(
    (
        't="CUPRUM_RUN=$1"; n=$2',
        'p() { { grep -lsxzF -e "$t" /proc/[0-9]*/environ;'
        " printf '%s\\n' \"$t\" | grep -lszF -f - /proc/[0-9]*/cmdline; }"
        " | sed 's,^/proc/,,;s,/[a-z]*$,,'; }",
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

    __slots__ = (
        "argv",
        "control_path",
        "done",
        "held",
        "host",
        "log",
        "lost",
        "session_key",
        "tags",
        "token",
    )

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
        self.host: HostSpec = host
        self.control_path: str = control_path
        self.token: str = new_token()
        self.log: str = os.path.join(os.path.dirname(control_path), f"{self.token}.log")
        line = remote_line(
            argv,
            token=self.token,
            path=host.remote_path,
            cwd=cwd,
            env=env,
            secret_stdin=secret_stdin,
        )
        check_line(argv[0], host.label, line)
        self.argv: tuple[str, ...] = tuple(command_argv(host, control_path, line, self.log))
        self.tags: Mapping[str, object] = {"host": host.label}
        self.session_key: str = key_of(host)
        self.held: int = 0  # sessions this launch holds for itself and its peers on the host
        self.done: bool = False  # the far end is known to be over (or was stopped)
        self.lost: RemoteConnectError | None = None  # the session ended without a status

    # -- sessions ---------------------------------------------------------------

    async def hold(self, peers: Sequence[RemoteLaunch]) -> None:
        """Take the sessions of every peer on this host at once (the first one does)."""
        mine = [p for p in peers if p.session_key == self.session_key]
        if mine[0] is not self:
            return
        if len(mine) > self.host.max_sessions:
            raise InvalidArgumentError(
                f"{self.host.label}: this run needs {len(mine)} sessions on the host at "
                f"once, more than its max_sessions={self.host.max_sessions}"
            )
        await SESSIONS.acquire(self.session_key, len(mine), self.host.max_sessions)
        self.held = len(mine)

    def release(self) -> None:
        """Give the sessions back and remove ssh's log; called once the run has ended."""
        if self.held:
            SESSIONS.release(self.session_key, self.held, self.host.max_sessions)
            self.held = 0
        with contextlib.suppress(OSError):
            os.unlink(self.log)

    # -- the end of a stage -------------------------------------------------------

    def got_status(self, exit_code: int | None) -> bool:
        """Whether ssh received the remote exit status (else ssh's 255 is its own)."""
        if exit_code is not None and 0 <= exit_code < 255:
            return True  # ssh exits with another code only when it got one
        try:
            with open(self.log, encoding="utf-8", errors="replace") as f:
                text = f.read()
        except OSError:
            return False
        return any(marker in text for marker in STATUS_MARKERS)

    def said(self) -> str:
        """What ssh said about this session, beyond its debug lines."""
        try:
            with open(self.log, encoding="utf-8", errors="replace") as f:
                lines = [line.strip() for line in f if not line.startswith("debug")]
        except OSError:
            return ""
        return " ".join(line for line in lines if line)[:500]

    async def ended(self, exit_code: int | None, stopped: bool, grace: float) -> None:
        """The local ssh has exited: if the session ended without the program's exit
        status, stop the far end now (the master holds the stage's pipes until it
        ends) and keep the error for :meth:`settle`."""
        if self.done or stopped:
            return
        if self.got_status(exit_code):  # a small local file, read at most once
            self.done = True
            return
        self.lost = await self._lose(exit_code, grace)

    async def settle(self, exit_code: int | None, stopped: bool, grace: float) -> None:
        """Once the run's stages have ended: stop the far end of a stage cuprum
        stopped, and raise :class:`RemoteConnectError` for a session that ended
        without the program's exit status (its remote processes stopped first)."""
        lost, self.lost = self.lost, None
        if lost is not None:
            raise lost
        if self.done:
            return
        if stopped:
            await self.stop(grace)
            return
        await self.ended(exit_code, stopped, grace)
        lost, self.lost = self.lost, None
        if lost is not None:
            raise lost

    async def _lose(self, exit_code: int | None, grace: float) -> RemoteConnectError:
        """Stop what is left of a lost session remotely; the error that says so."""
        reached = await self.stop(grace)
        await anyio.to_thread.run_sync(POOL.forget, self.host)
        said = self.said()
        if exit_code is not None and exit_code < 0:
            why = f"the ssh client was killed by signal {-exit_code}"
        elif "open refused" in said or "administratively prohibited" in said:
            why = "the server refused one more session (its MaxSessions is below max_sessions)"
        else:
            why = "the connection was lost"
        aftermath = (
            "its remote processes were stopped"
            if reached
            else "could not reach the host again to stop the remote program, which may "
            f"still be running (its processes carry CUPRUM_RUN={self.token})"
        )
        return RemoteConnectError(
            self.host.label,
            f"{why} before the program's exit status arrived; {aftermath}",
            said,
        )

    def _run_kill(self, argv: list[str], grace: float) -> bool:
        try:
            done = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=grace + self.host.connect_timeout + 5,
                check=False,
            )
        except (OSError, subprocess.SubprocessError):
            return False
        return done.returncode == 0

    def _kill_blocking(self, grace: float) -> bool:
        ticks = max(0, round(grace / 0.05))
        argv = ("/bin/sh", "-c", KILL_SCRIPT, "cuprum-stop", self.token, str(ticks))
        line = remote_line(argv, token=new_token(), path=self.host.remote_path)
        if self._run_kill(command_argv(self.host, self.control_path, line), grace):
            return True
        return self._run_kill(direct_argv(self.host, line), grace)

    async def stop(self, grace: float) -> bool:
        """SIGTERM every remote process of this run, then SIGKILL after ``grace``;
        whether the host was reached (shielded; once per launch)."""
        if self.done:
            return True
        self.done = True
        reached = [False]
        with anyio.CancelScope(shield=True):
            reached[0] = await anyio.to_thread.run_sync(self._kill_blocking, grace)
        return reached[0]
