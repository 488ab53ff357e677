"""One command's output and exit in one wait: the parent holds the pipes' write ends until
the child exits (its pidfd), then reads them to EOF. Whatever the child does with its
output, the run captures all of it, ends when it should, and leaks no fd."""

from __future__ import annotations

import os
from typing import Any

import anyio
import pytest
from core_support import DEADLINE, MISSING, TEST_CATALOGUE, open_fds, py, shell

from cuprum import CAT, ProgramCatalogue, ProjectSettings, SpawnError, TimeoutExpired, sh

pytestmark = pytest.mark.anyio

_CATALOGUE = ProgramCatalogue(projects=(ProjectSettings(name="exit-wait", programs=(CAT,)),))


async def test_output_closed_before_the_exit_is_all_captured() -> None:
    with anyio.fail_after(DEADLINE):
        result = await shell("echo out; echo err >&2; exec >&- 2>&-; sleep 0.2").run()
    assert (result.exit_code, result.stdout, result.stderr) == (0, "out\n", "err\n")


async def test_a_grandchild_holding_the_pipes_is_read_to_its_end() -> None:
    # The child exits at once; its background job writes later through the same pipe.
    result = await shell("(sleep 0.2; echo late; echo late-err >&2) & echo early").run()
    assert result.stdout == "early\nlate\n"
    assert result.stderr == "late-err\n"


async def test_more_output_than_both_pipes_hold_before_the_exit() -> None:
    code = (
        "import os\n"
        "for _ in range(64):\n"
        "    os.write(1, b'o' * 16384)\n"
        "    os.write(2, b'e' * 16384)\n"
    )
    result = await py(code).run(text=False)
    assert (len(result.stdout), len(result.stderr)) == (1 << 20, 1 << 20)


async def test_stdin_fed_while_the_output_is_read() -> None:
    data = os.urandom(1 << 20)
    result = await sh.make(CAT, catalogue=_CATALOGUE)().run(stdin=data, text=False)
    assert result.stdout == data


async def test_without_pidfd_the_run_still_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(pid: int, flags: int = 0) -> int:
        raise OSError(38, "pidfd_open: not implemented here")

    monkeypatch.setattr(os, "pidfd_open", refused)
    with anyio.fail_after(DEADLINE):  # the pipes must end without a pidfd to wait on
        result = await shell("echo out; echo err >&2; exit 4").run()
    assert (result.exit_code, result.stdout, result.stderr) == (4, "out\n", "err\n")


async def test_a_timeout_with_held_pipes_ends_the_run() -> None:
    with pytest.raises(TimeoutExpired) as excinfo:
        await shell("echo partial; exec sleep 300").run(timeout=0.2)
    assert excinfo.value.output == "partial\n"


async def test_no_fd_left_open_when_the_start_fails() -> None:
    await shell("true").run()
    before = open_fds()
    missing = sh.make(MISSING, catalogue=TEST_CATALOGUE)()
    for _ in range(10):
        with pytest.raises(SpawnError):
            await missing.run()
        await shell("exec >&- 2>&-; exit 0").run()
    assert open_fds() == before


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_run_sync_output_closed_early(backend: Any) -> None:
    result = shell("echo out; exec >&-; echo err >&2").run_sync(backend=backend)
    assert (result.stdout, result.stderr) == ("out\n", "err\n")
