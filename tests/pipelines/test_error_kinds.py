"""A failed pipeline's terminal events say what failed, on every stream strategy."""

from __future__ import annotations

import errno
import io
from collections.abc import AsyncIterator, Callable

import pytest

from cuprum import (
    ExecutionContext,
    Program,
    ProgramCatalogue,
    ProgramNotFoundError,
    ProjectSettings,
    observe,
    sh,
)
from cuprum._transport import hop

from .pipeline_support import Recorder, cat, shell

pytestmark = pytest.mark.anyio

MISSING = Program("cuprum-no-such-program-3b1d")
missing = sh.make(
    MISSING,
    catalogue=ProgramCatalogue(projects=(ProjectSettings(name="missing", programs=(MISSING,)),)),
)


def error_kinds(rec: Recorder, stages: int) -> set[str | None]:
    terminal = [e for e in rec.events if e.is_terminal]
    assert len(terminal) == stages, rec.events
    assert {e.phase for e in terminal} == {"error"}
    return {e.error for e in terminal}


async def test_a_stage_that_cannot_start_is_spawn_failed(
    anyio_backend: str, stream_backend: str
) -> None:
    rec = Recorder()
    with observe(rec), pytest.raises(ProgramNotFoundError):
        await (cat() | missing() | cat()).run(stdin=b"data")
    assert error_kinds(rec, 3) == {"spawn_failed"}


async def test_a_failing_stdin_source_is_stdin_failed(
    anyio_backend: str, stream_backend: str
) -> None:
    async def source() -> AsyncIterator[bytes]:
        yield b"some\n"
        raise ConnectionResetError("source went away")

    rec = Recorder()
    with observe(rec), pytest.raises(ConnectionResetError):
        await (cat() | cat()).run(stdin=source())
    assert error_kinds(rec, 2) == {"stdin_failed"}


async def test_a_failing_echo_sink_is_output_failed(
    anyio_backend: str, stream_backend: str
) -> None:
    class Broken(io.StringIO):
        def write(self, text: str) -> int:
            raise OSError(errno.EIO, "terminal gone")

    rec = Recorder()
    context = ExecutionContext(stderr_sink=Broken())
    pipeline = shell("-c", "echo oops >&2; exec sleep 30") | cat()
    with observe(rec), pytest.raises(OSError, match="terminal gone"):
        await pipeline.run(echo=True, context=context)
    assert error_kinds(rec, 2) == {"output_failed"}


async def broken_relay(
    reader_fd: int, writer_fd: int, *, on_chunk: Callable[[bytes], None] | None = None
) -> int:
    """A relay whose I/O fails at once (EIO), as a broken descriptor would make it."""
    raise OSError(errno.EIO, "relay broke")


@pytest.mark.parametrize("stage_events", [False, True])
async def test_a_relay_io_error_is_relay_failed(
    anyio_backend: str, stream_backend: str, monkeypatch: pytest.MonkeyPatch, stage_events: bool
) -> None:
    if stream_backend == "direct":
        pytest.skip("a direct hop has no relay")
    monkeypatch.setattr(hop, "relay_for", lambda strategy: broken_relay)
    rec = Recorder()
    with observe(rec), pytest.raises(OSError, match="relay broke") as info:
        await (shell("-c", "echo data; exec sleep 30") | cat()).run(stage_events=stage_events)
    assert info.value.errno == errno.EIO
    assert error_kinds(rec, 2) == {"relay_failed"}
