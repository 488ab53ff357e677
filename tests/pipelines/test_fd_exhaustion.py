"""Running out of file descriptors while a run is wired (issue 10, #6 and #12).

The soft ``RLIMIT_NOFILE`` is lowered and every free slot below it filled, then
``free`` slots are handed back, for ``free`` = 0, 1, 2, ... until the run
succeeds: every point of the wiring (each pipe of each hop, the output pipes,
the spawn itself) runs out in turn. Each attempt must leave exactly the fds
that were open before, and a run refused before its processes started must
raise ``SpawnError`` (an ``OSError`` with ``errno`` EMFILE) naming a program.
"""

from __future__ import annotations

import errno
from typing import Any

import pytest
from processes import only_free_fds, open_fds

from cuprum import Pipeline, SafeCmd, SpawnError, observe

from .pipeline_support import Recorder, cat

pytestmark = pytest.mark.anyio

#: Far more than any run here needs: the loop ends with a success long before.
MAX_FREE = 60


RUNS: dict[str, SafeCmd | Pipeline] = {
    "command": cat(),
    "pipeline": cat() | cat() | cat(),
}


@pytest.mark.parametrize("shape", list(RUNS))
@pytest.mark.parametrize("observed", [False, True], ids=["plain", "stage-events"])
async def test_fd_exhaustion_while_wiring_leaks_nothing(
    anyio_backend: str, stream_backend: str, shape: str, observed: bool
) -> None:
    if observed and stream_backend == "direct":
        pytest.skip("direct cannot serve stage_events=True")
    cmd = RUNS[shape]
    rec = Recorder()
    options: dict[str, Any] = {"stdin": b"hello\n", "stage_events": observed}
    with observe(rec):
        warm = await cmd.run(**options)  # any lazy import or fd of the event loop: now
    assert warm.stdout == "hello\n"
    before = open_fds()
    refused = 0
    for free in range(MAX_FREE):
        rec.events.clear()
        result: Any = None
        error: OSError | None = None
        with observe(rec), only_free_fds(free):
            try:
                result = await cmd.run(**options)
            except OSError as exc:
                error = exc
        assert open_fds() == before, f"leaked with {free} free fds"
        if error is None:
            assert result.stdout == "hello\n"
            break
        assert error.errno == errno.EMFILE, repr(error)
        if not [e for e in rec.events if e.phase == "start"]:
            # Refused while wiring or spawning: the same error either way.
            assert isinstance(error, SpawnError), repr(error)
            assert "cat" in str(error)
            assert {e.error for e in rec.events if e.is_terminal} == {"spawn_failed"}
            refused += 1
    else:
        pytest.fail(f"no run succeeded with up to {MAX_FREE} free fds")
    assert refused >= 3  # at least: no fd at all, one fd, and a pipe short of one end
