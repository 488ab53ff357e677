"""Watching a remote run's far end on the loopback host, through ``/proc``.

A remote test program records its run token (``$CUPRUM_RUN``) and its pid in a drop
directory; the daemon is on this machine, so the test then checks with a deadline
that no process carrying the token is left (the program, its children, and those
that left its process group).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import pytest

__all__ = ["Drop", "carrying", "drop_dir", "record_tokens", "survivors", "all_gone"]


def carrying(token: str) -> list[int]:
    """Live (not zombie) processes whose environment holds ``CUPRUM_RUN=token``."""
    needle = f"CUPRUM_RUN={token}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                env = f.read().split(b"\0")
            with open(f"/proc/{entry}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if needle in env and state not in (b"Z", b"X"):
            found.append(int(entry))
    return found


def survivors(token: str, timeout: float = 20.0) -> list[int]:
    """Poll until nothing carries ``token``; return what still does at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        left = carrying(token)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.02)


class Drop:
    """A directory the remote test user writes to: ``script(name)`` makes a remote
    ``sh -c`` body that records its token and pid as ``name``, then runs ``then``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def script(self, name: str, then: str = "sleep 300 & wait") -> str:
        tmp = self.path / f"{name}.tmp"
        record = f'printf "%s %s" "$CUPRUM_RUN" $$ > {tmp}; mv {tmp} {self.path / name}'
        return f"{record}; {then}"

    async def token(self, name: str, timeout: float = 20.0) -> str:
        """The token ``name`` recorded, once it has (with a deadline)."""
        path = self.path / name
        deadline = time.monotonic() + timeout
        while not path.exists():
            assert time.monotonic() < deadline, f"the remote program {name!r} did not start"
            await anyio.sleep(0.01)
        return path.read_text().split()[0]

    def pid(self, name: str) -> int:
        return int((self.path / name).read_text().split()[1])


@contextmanager
def drop_dir() -> Iterator[Drop]:
    path = Path(tempfile.mkdtemp(prefix="cuprum-remote-"))
    os.chmod(path, 0o777)
    try:
        yield Drop(path)
    finally:
        shutil.rmtree(path, ignore_errors=True)


def record_tokens(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every run token made from now on (the test's remote stages and kill scripts)."""
    from cuprum.remote import launch

    made: list[str] = []
    real = launch.new_token

    def recording() -> str:
        token = real()
        made.append(token)
        return token

    monkeypatch.setattr(launch, "new_token", recording)
    return made


def all_gone(tokens: list[str]) -> list[int]:
    """What still carries any of ``tokens`` once each has had its deadline."""
    return [pid for token in list(tokens) for pid in survivors(token)]
