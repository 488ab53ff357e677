"""A host that put SIGPIPE back to its default: a reader that goes early never kills it.

CLI tools often do ``signal.signal(SIGPIPE, SIG_DFL)``. Regression: cuprum's own
writes (a stdin fed from bytes or an iterable, a ``python`` relay between two
stages, a stream handle's ``write()``) then died of SIGPIPE with the host when
their reader exited first, where the native pump did not: now each is EPIPE,
handled as with Python's SIGPIPE ignored, and the host's mask and pending set are
as they were. Each scenario runs in a host of its own, on both event loops and
the direct path, and every stream strategy.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from core_support import run_host

import cuprum

HOST = textwrap.dedent(
    """
    import signal
    import sys

    signal.signal(signal.SIGPIPE, signal.SIG_DFL)

    import anyio

    from cuprum import PIPE, Program, ProgramCatalogue, ProjectSettings, sh

    SH = Program("sh")
    catalogue = ProgramCatalogue(projects=(ProjectSettings(name="host", programs=(SH,)),))
    BIG = b"x" * (4 << 20)  # more than any pipe takes: the writes meet EPIPE


    def cmd(script):
        return sh.make(SH, catalogue=catalogue)("-c", script)


    async def chunks():
        for _ in range(64):
            yield b"y" * 65536


    async def write_to_a_closed_stdin():
        # The block's end then stops the program (it waits for nothing).
        async with cmd("exec 0<&-; echo closed; exec sleep 30").stream(stdin=PIPE) as handle:
            assert await anext(handle.stdout_lines()) == "closed"
            try:
                await handle.write(BIG)
            except OSError as exc:
                return type(exc).__name__
            return "written"


    def report(how, name, run):
        print(how, name, repr(run()), flush=True)


    backend = sys.argv[1]
    if backend == "direct":
        report(backend, "stdin", lambda: cmd("exit 0").run_sync(stdin=BIG).exit_code)
        report(backend, "iterable", lambda: cmd("head -c 1 >/dev/null").run_sync(
            stdin=chunks()).exit_code)
        report(backend, "relay", lambda: (cmd("yes") | cmd("head -1")).run_sync(
            stage_events=True).stdout)
    else:
        def on_loop(make):
            return anyio.run(make, backend=backend)

        report(backend, "stdin", lambda: on_loop(
            lambda: cmd("exit 0").run(stdin=BIG)).exit_code)
        report(backend, "iterable", lambda: on_loop(
            lambda: cmd("head -c 1 >/dev/null").run(stdin=chunks())).exit_code)
        report(backend, "relay", lambda: on_loop(
            lambda: (cmd("yes") | cmd("head -1")).run(stage_events=True)).stdout)
        report(backend, "write", lambda: on_loop(write_to_a_closed_stdin))
    print("mask", signal.SIGPIPE in signal.pthread_sigmask(signal.SIG_BLOCK, []))
    print("pending", signal.SIGPIPE in signal.sigpending())
    """
)


@pytest.mark.parametrize("strategy", ["python", "rust"])
@pytest.mark.parametrize("backend", ["direct", "asyncio", "trio"])
def test_a_reader_gone_early_does_not_kill_the_host(
    backend: str, strategy: str, tmp_path: Path
) -> None:
    if strategy == "rust" and not cuprum.is_rust_available():
        pytest.skip("stream strategy 'rust' needs the cuprum_native extension (not installed)")
    done = run_host(HOST, tmp_path, backend, strategy=strategy)
    assert (done.returncode, done.stderr) == (0, "")  # -13: killed by SIGPIPE
    expected = ["stdin 0", "iterable 0", "relay 'y\\n'"]
    if backend != "direct":
        expected.append("write 'BrokenPipeError'")
    assert done.stdout.splitlines() == [
        *(f"{backend} {line}" for line in expected),
        "mask False",
        "pending False",
    ]
