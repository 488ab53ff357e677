"""Secrets over ssh: never on the local ssh command line, redacted in every telemetry."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from cuprum import CommandFailedError, ExecEvent, InvalidArgumentError, Secret, observe
from cuprum.adapters.logging_adapter import structured_logging_hook
from cuprum.remote import SshHost

from .remote_support import echo, shell

pytestmark = pytest.mark.anyio

VALUE = "tok-" + "9f3c" * 4 + " with space"
OCTAL = "".join(f"{b:03o}" for b in VALUE.encode())


def _cmdlines() -> list[str]:
    """Every readable process command line on this machine (NULs as spaces)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                found.append(
                    (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
                )
            except OSError:
                continue
    return found


def test_a_secret_argument_or_remote_env_value_is_refused(host: SshHost) -> None:
    with pytest.raises(InvalidArgumentError, match=r"echo.*argument.*secret_env="):
        host(echo(Secret(VALUE)))
    with pytest.raises(InvalidArgumentError, match=r"echo.*secret_env="):
        host(echo("--token=" + Secret(VALUE)))
    with pytest.raises(InvalidArgumentError, match=r"echo.*remote env value.*secret_env="):
        host.cmd(echo("x"), env={"TOKEN": Secret(VALUE)})
    with pytest.raises(InvalidArgumentError, match=r"echo.*secret_env TOKEN.*NUL"):
        host.cmd(echo("x"), secret_env={"TOKEN": Secret("a\x00b")})


@pytest.mark.parametrize("kind", ["secret", "plain"])
async def test_secret_env_stays_out_of_cmdlines_events_logs_and_errors(
    host: SshHost, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    events: list[ExecEvent] = []
    ready = anyio.Event()
    seen: list[str] = []
    ssh: list[str] = []  # the local ssh's own command line, read while it runs

    def hook(event: ExecEvent) -> None:
        events.append(event)
        if event.phase == "stdout" and event.line == "ready":
            ready.set()

    async def stdin() -> AsyncIterator[bytes]:
        # The remote program is running, so is the local ssh: look at every cmdline.
        with anyio.fail_after(30):
            await ready.wait()
        seen.extend(_cmdlines())
        pid = next(ev.pid for ev in events if ev.phase == "start")
        ssh.append((Path("/proc") / str(pid) / "cmdline").read_bytes().decode("utf-8", "replace"))
        yield b"go\n"

    script = 'echo ready; printf "%s\\n" "$TOKEN"; printf "%s\\n" "$TOKEN" >&2; read x; exit 3'
    value: str = Secret(VALUE) if kind == "secret" else VALUE
    cmd = host.cmd(shell("-c", script), secret_env={"TOKEN": value})
    logger = logging.getLogger("cuprum.test.remote-secrets")
    with caplog.at_level(logging.DEBUG, logger=logger.name):
        with observe(hook, structured_logging_hook(logger=logger)):
            result = await cmd.run(stdin=stdin())
            with pytest.raises(CommandFailedError) as failed:
                await cmd.run(stdin=b"", check=True)

    assert result.stdout == f"ready\n{VALUE}\n"  # the program's own output is the caller's
    assert result.exit_code == 3
    assert len(ssh) == 1 and "ssh" in ssh[0] and "cuprum" in ssh[0]
    assert VALUE not in ssh[0] and OCTAL not in ssh[0]
    assert not [line for line in seen if VALUE in line or OCTAL in line]
    assert "***" in [ev.line for ev in events if ev.phase == "stdout"]
    assert "***" in [ev.line for ev in events if ev.phase == "stderr"]
    texts = [repr(ev) for ev in events]
    texts += [repr(vars(record)) for record in caplog.records] + [caplog.text]
    texts += [str(failed.value), repr(failed.value), repr(result), repr(cmd), str(cmd)]
    leaks = [text for text in texts if VALUE in text or OCTAL in text]
    assert not leaks
    assert os.environ.get("TOKEN") != VALUE
