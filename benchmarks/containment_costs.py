"""What containment costs per spawn: native spawn vs ``Popen``, and the pure placements.

A standalone script (not part of ``run_all.py`` until the engine uses these
primitives): ``python benchmarks/containment_costs.py [--reps N]``. Every row
spawns ``/bin/true`` with stdio on ``/dev/null`` and reaps it; the rows are
interleaved (see ``_harness.interleaved``) and each figure is the median of
``reps`` samples of 20 spawns; a second table times single spawns that each
follow a 50 ms pause. Rows that need cgroups or the native extension are left
out (and say so) where those are missing.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time
from collections.abc import Callable

import anyio
from _harness import interleaved, median

from cuprum._runtime import cgroup, cgroupfs, native_spawn, placement
from cuprum._runtime.cgroup import CgroupHost, RunCgroup

TRUE = ["/bin/true"]
NULL = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
ENV = [os.fsencode(k) + b"=" + os.fsencode(v) for k, v in os.environ.items()]


def popen() -> None:
    child = subprocess.Popen(TRUE, stdin=NULL, stdout=NULL, stderr=NULL, process_group=0)
    child.wait()


def native_raw(run: RunCgroup | None = None, copy_on_write: bool = False) -> None:
    from cuprum import _streams_rs

    spawn = getattr(_streams_rs, "spawn_process")  # noqa: B009 - typed in native_spawn
    pid, pidfd = spawn(
        b"/bin/true",
        [b"/bin/true"],
        ENV,
        (NULL, NULL, NULL),
        cgroup_fd=None if run is None else run.fd,
        copy_on_write=copy_on_write,
    )
    os.waitpid(pid, 0)
    if pidfd is not None:
        os.close(pidfd)


def native(run: RunCgroup | None = None) -> None:
    child = native_spawn.spawn_native(TRUE, cgroup=run)
    os.waitpid(child.pid, 0)
    if child.pidfd is not None:
        os.close(child.pidfd)


def placed(run: RunCgroup) -> None:
    started: list[subprocess.Popen[bytes]] = []
    placement.spawn_into(
        run,
        lambda: started.append(
            subprocess.Popen(TRUE, stdin=NULL, stdout=NULL, stderr=NULL, process_group=0)
        ),
    )
    started[0].wait()


def placed_after(run: RunCgroup) -> None:
    child = subprocess.Popen(TRUE, stdin=NULL, stdout=NULL, stderr=NULL, process_group=0)
    placement.place_after_spawn(run, child.pid)
    child.wait()


def lifecycle(host: CgroupHost, spawn: Callable[[RunCgroup], None]) -> Callable[[], None]:
    """A whole contained run: create its cgroup, spawn, reap, kill what is left, remove."""

    def call() -> None:
        run = host.new_run()
        spawn(run)
        run.close_fd()
        try:
            run.remove()  # as RunCgroup.destroy() does: an empty leaf goes at once
        except OSError:
            run.kill()
            cgroupfs.wait_empty_blocking(run.path, 5)
            run.remove()

    return call


def contenders() -> tuple[dict[str, Callable[[], None]], list[str]]:
    rows: dict[str, Callable[[], None]] = {"popen": popen}
    missing = []
    has_native = native_spawn.native_spawn_available()
    if has_native:
        rows["native (raw binding)"] = native_raw
        rows["native (spawn_native wrapper)"] = native
        rows["native copy-on-write"] = lambda: native_raw(copy_on_write=True)
    else:
        missing.append("native rows: the extension with spawn_process is not installed")
    support = cgroup.probe()
    if not support.available:
        missing.append(f"cgroup rows: {support.reason}")
        return rows, missing
    host = anyio.run(cgroup.host, support)
    shared = host.new_run()
    rows["pure: host visits the run around Popen"] = lambda: placed(shared)
    rows["pure: Popen, then write the pid"] = lambda: placed_after(shared)
    rows["whole run, pure (mkdir, visit, Popen, rmdir)"] = lifecycle(host, placed)
    if has_native:
        rows["native into the run (clone3)"] = lambda: native_raw(shared)
        rows["whole run, native (mkdir, clone3, rmdir)"] = lifecycle(host, native)
    return rows, missing


def after_a_pause(rows: dict[str, Callable[[], None]], reps: int) -> dict[str, list[float]]:
    """One call per sample, each after 50 ms without any spawn (a host that runs rarely).

    A write into ``cgroup.procs`` takes a lock that, once idle for an RCU grace
    period, makes the next writer wait for a whole grace period; this is where
    that shows.
    """
    samples: dict[str, list[float]] = {name: [] for name in rows}
    for _ in range(reps):
        for name, call in rows.items():
            time.sleep(0.05)
            start = time.perf_counter()
            call()
            samples[name].append(time.perf_counter() - start)
    return samples


def report(title: str, samples: dict[str, list[float]]) -> None:
    base = median(samples["popen"])
    print(f"{title:58} {'median':>9} {'vs popen':>9}")
    for name, times in samples.items():
        value = median(times)
        print(f"{name:58} {value * 1e6:7.0f}us {value / base:8.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=15)
    args = parser.parse_args()
    rows, missing = contenders()
    report("back to back: spawn + reap of /bin/true", interleaved(rows, reps=args.reps, inner=20))
    single = [name for name in rows if not name.startswith(("whole", "native ("))]
    paused = after_a_pause({name: rows[name] for name in single}, args.reps)
    report("after 50 ms without a spawn", paused)
    for reason in missing:
        print(f"(left out) {reason}")
    anyio.run(_cleanup)


async def _cleanup() -> None:
    support = cgroup.probe()
    if support.available:
        await (await cgroup.host(support)).close()


if __name__ == "__main__":
    main()
