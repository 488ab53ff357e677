"""A host that ignores SIGCHLD: the kernel reaps every child, and cuprum still works.

``subprocess.run`` copes by reporting status 0 when the real one cannot be known;
cuprum does the same, and still learns when each child exited through its pidfd.
Each scenario runs in a host process of its own that sets ``SIG_IGN`` first, on
both event loops and every stream strategy (the pipeline and the stream).
"""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest
from core_support import assert_dead, run_host

import cuprum

BACKENDS = ["asyncio", "trio"]

HOST = textwrap.dedent(
    """
    import signal
    import sys

    signal.signal(signal.SIGCHLD, signal.SIG_IGN)

    import anyio

    from cuprum import Program, ProgramCatalogue, ProjectSettings, TimeoutExpired, sh

    SH = Program("sh")
    catalogue = ProgramCatalogue(projects=(ProjectSettings(name="host", programs=(SH,)),))


    def cmd(script):
        return sh.make(SH, catalogue=catalogue)("-c", script)


    async def main():
        ok = await cmd("echo out; echo err >&2").run()
        print("single", ok.exit_code, repr(ok.stdout), repr(ok.stderr), flush=True)
        failed = await cmd("exit 3").run()
        print("failed", failed.exit_code, failed.ok, flush=True)
        pipe = await (cmd("echo a; echo b") | cmd("cat") | cmd("wc -l")).run()
        print("pipeline", pipe.ok, pipe.stdout.strip(), [s.exit_code for s in pipe.stages])
        async with cmd("echo one; echo two").stream() as handle:
            lines = [line async for line in handle.stdout_lines()]
            streamed = await handle.wait()
        print("stream", lines, streamed.exit_code, flush=True)
        try:
            await cmd('sleep 300 & echo "$!"; wait').run(timeout=0.5)
        except TimeoutExpired as exc:
            print("timeout", exc.output.strip(), flush=True)


    anyio.run(main, backend=sys.argv[1])
    print("sync", cmd("echo s").run_sync(backend=sys.argv[1]).stdout.strip(), flush=True)
    """
)


@pytest.mark.parametrize("strategy", ["direct", "python", "rust"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_runs_in_a_host_that_ignores_sigchld(backend: str, strategy: str, tmp_path: Path) -> None:
    if strategy == "rust" and not cuprum.is_rust_available():
        pytest.skip("stream strategy 'rust' needs the cuprum_native extension (not installed)")
    done = run_host(HOST, tmp_path, backend, strategy=strategy)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "single 0 'out\\n' 'err\\n'"
    # The real status (3) is lost with the child: 0, as subprocess.run reports.
    assert lines[1] == "failed 0 True"
    assert subprocess.run(["sh", "-c", "exit 3"], check=False).returncode == 3  # sanity
    assert lines[2] == "pipeline True 2 [0, 0, 0]"
    assert lines[3] == "stream ['one', 'two'] 0"
    kind, grandchild = lines[4].split()
    assert kind == "timeout"
    assert_dead(int(grandchild))  # the timeout still tore the whole group down
    assert lines[5] == "sync s"
    assert len(lines) == 6
