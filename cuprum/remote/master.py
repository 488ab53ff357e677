"""One master connection per host, in a private 0700 directory cuprum owns and cleans.

The control sockets live in a ``mkdtemp`` directory made on first use (short and
plain enough for ssh: :mod:`.control_dir`); at interpreter
exit every master is asked to exit and the directory is removed. Opening a master
runs ``ssh -M -N -f`` (which returns once authenticated, its stdio on /dev/null) in a
worker thread, one at a time per host; its failure is classified into the
:class:`~cuprum._core.errors.RemoteError` family from what ssh printed.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import shutil
import subprocess
import threading

import anyio.to_thread

from cuprum._core.errors import (
    HostKeyError,
    RemoteAuthError,
    RemoteConnectError,
    RemoteError,
    RemoteTimeoutError,
)
from cuprum.remote._spec import HostSpec
from cuprum.remote.control_dir import make_control_dir
from cuprum.remote.options import control_argv, master_argv

__all__ = ["POOL", "MasterPool", "Opening", "classify", "key_of"]

_HOST_KEY = (
    "host key verification failed",
    "host key is known",
    "remote host identification has changed",
    "host key for",
)


def classify(host: HostSpec, stderr: str) -> RemoteError:
    """The :class:`RemoteError` for what ssh said when a connection failed."""
    detail = " ".join(stderr.split())[:500]
    low = detail.lower()
    if any(marker in low for marker in _HOST_KEY):
        return HostKeyError(host.label, "host key unknown or changed; refusing to connect", detail)
    if "permission denied" in low or "too many authentication failures" in low:
        return RemoteAuthError(host.label, "authentication failed", detail)
    if "timed out" in low:
        return RemoteTimeoutError(host.label, "connection timed out", detail)
    return RemoteConnectError(host.label, "could not connect", detail)


def key_of(host: HostSpec) -> str:
    """The name of ``host``'s connection: its socket's, and its sessions' key."""
    fields = (host.label, host.host, host.user, host.port, host.identity_file, host.known_hosts)
    extra = (host.host_key_alias, host.config_file)
    return hashlib.sha256(repr((fields, extra)).encode()).hexdigest()[:20]


class Opening:
    """The ``ssh -M`` of one :meth:`MasterPool.ensure` call: a caller cancelled while it
    connects kills it, so no ``ssh`` lives on until its own connect timeout."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._cancelled = False

    def start(self, argv: list[str]) -> subprocess.Popen[bytes] | None:
        """``ssh`` started for ``argv``, or ``None`` once the caller has given up."""
        with self._lock:
            if self._cancelled:
                return None
            self._process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
            return self._process

    def cancel(self) -> None:
        """Kill the connecting ``ssh`` (its worker thread reaps it); none is started later."""
        with self._lock:
            self._cancelled = True
            if self._process is not None and self._process.poll() is None:
                self._process.kill()


class MasterPool:
    """The master connections of this process, keyed by host; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._open: dict[str, HostSpec] = {}
        self._dir: str | None = None

    def directory(self, label: str = "ssh") -> str:
        """The private control directory, made (mode 0700) on first use, short and
        plain enough for ssh (:mod:`.control_dir`; ``label``: the host, for errors)."""
        with self._lock:
            if self._dir is None or not os.path.isdir(self._dir):
                self._dir = make_control_dir(label)
            return self._dir

    def control_path(self, host: HostSpec) -> str:
        """Where ``host``'s master listens."""
        return os.path.join(self.directory(host.label), key_of(host))

    def _host_lock(self, key: str) -> threading.Lock:
        with self._lock:
            return self._locks.setdefault(key, threading.Lock())

    def _alive(self, host: HostSpec, path: str) -> bool:
        if not os.path.exists(path):
            return False
        probe = subprocess.run(
            control_argv(host, path, "check"),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=host.connect_timeout + 5,
            check=False,
        )
        return probe.returncode == 0

    def ensure_blocking(
        self, host: HostSpec, budget: float | None = None, opening: Opening | None = None
    ) -> str | None:
        """Open ``host``'s master unless it is up; return its control path.

        ``budget``: seconds left of the run's own timeout; when it is shorter than the
        host's ``connect_timeout`` and runs out, ``None`` (the run's timeout, not a
        :class:`RemoteTimeoutError`).
        """
        key = key_of(host)
        path = self.control_path(host)
        opening = opening or Opening()
        with self._host_lock(key):
            if key in self._open and os.path.exists(path):
                return path
            if self._alive(host, path):
                self._open[key] = host
                return path
            with contextlib.suppress(OSError):
                os.unlink(path)  # a dead master's socket would disable the new one
            short = budget is not None and budget < host.connect_timeout
            limit = budget if short and budget is not None else host.connect_timeout + 10
            process = opening.start(master_argv(host, path, connect=budget))
            if process is None:
                raise RemoteConnectError(host.label, "cancelled before connecting")
            try:
                _, stderr = process.communicate(timeout=max(limit, 0.01))
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()
                if short:
                    return None
                raise RemoteTimeoutError(host.label, "connection timed out") from None
            if process.returncode != 0:
                error = classify(host, stderr.decode("utf-8", "replace"))
                if short and isinstance(error, RemoteTimeoutError):
                    return None
                raise error
            self._open[key] = host
            return path

    async def ensure(self, host: HostSpec, budget: float | None = None) -> str | None:
        """:meth:`ensure_blocking` in a worker thread (asyncio and trio alike); an
        open master is used without one."""
        if self.is_open(host):
            return self.control_path(host)
        opening = Opening()
        try:
            return await anyio.to_thread.run_sync(
                self.ensure_blocking, host, budget, opening, abandon_on_cancel=True
            )
        except BaseException:
            opening.cancel()
            raise

    def forget(self, host: HostSpec) -> None:
        """After a lost session: if ``host``'s master is gone, the next run opens a
        new one (its dead socket removed)."""
        key = key_of(host)
        path = self.control_path(host)
        with self._host_lock(key):
            try:
                alive = self._alive(host, path)
            except (OSError, subprocess.SubprocessError):
                alive = False
            if not alive:
                self._open.pop(key, None)
                with contextlib.suppress(OSError):
                    os.unlink(path)

    def is_open(self, host: HostSpec) -> bool:
        """Whether this pool opened ``host``'s master and its socket still exists."""
        return key_of(host) in self._open and os.path.exists(self.control_path(host))

    def close_blocking(self, host: HostSpec) -> None:
        """Ask ``host``'s master to exit (no error if there is none)."""
        key = key_of(host)
        with self._host_lock(key):
            self._open.pop(key, None)
            if self._dir is None:
                return
            path = os.path.join(self._dir, key)
            if os.path.exists(path):
                subprocess.run(
                    control_argv(host, path, "exit"),
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    timeout=10,
                    check=False,
                )

    async def close(self, host: HostSpec) -> None:
        """:meth:`close_blocking` in a worker thread."""
        await anyio.to_thread.run_sync(self.close_blocking, host)

    def close_all(self) -> None:
        """Close every master and remove the control directory (run at exit)."""
        for host in list(self._open.values()):
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                self.close_blocking(host)
        with self._lock:
            if self._dir is not None:
                shutil.rmtree(self._dir, ignore_errors=True)
                self._dir = None


POOL = MasterPool()
atexit.register(POOL.close_all)
