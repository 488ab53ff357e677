"""Remote runs through OpenSSH against a loopback sshd (the test suite's daemon).

``remote.true``: a warm ``true`` per call on a host (master connection up) vs
``ssh -o ControlPath=none HOST true`` per call: what a script without connection
reuse pays each time. Goal: at most 0.25x.

``remote.stream_1g``: 1 GiB from a remote ``head -c`` into a local ``wc -c`` (a
pipeline of a remote and a local stage) vs the shell running ``ssh HOST head -c N
/dev/zero | wc -c``. The baseline's ssh makes its own connection (as a shell user's
would); cuprum's bytes go through the master. Goal: at least 0.8x the throughput.

``remote.fleet``: 50 ``true`` over 10 host aliases (one master each, warm) at
concurrency 10 through ``run_fleet`` vs a shell loop starting ``ssh`` in the
background, 10 at a time, then ``wait``. Informational.

All run against one sshd on 127.0.0.1 (same machine, so the figures show the
client-side costs, not a network's); the daemon is started by
``tests/remote/sshd_daemon.py``, and the case is skipped where OpenSSH is missing.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from _harness import Case, bench_catalogue, interleaved, skipped

from cuprum import Program, sh
from cuprum.remote import FleetConfig, SshHost, disconnect_all, run_fleet_sync

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from remote import sshd_daemon  # the test suite's loopback daemon

CATALOGUE = bench_catalogue("true", "head", "wc")
true = sh.make(Program("true"), catalogue=CATALOGUE)
head = sh.make(Program("head"), catalogue=CATALOGUE)
wc = sh.make(Program("wc"), catalogue=CATALOGUE)


def _host(daemon: sshd_daemon.Daemon, name: str | None = None) -> SshHost:
    return SshHost(
        "127.0.0.1",
        port=daemon.port,
        user=daemon.user,
        identity_file=daemon.identity,
        known_hosts=daemon.known_hosts,
        name=name,
    )


def _plain_ssh(daemon: sshd_daemon.Daemon) -> list[str]:
    return [
        "ssh",
        "-F",
        "none",
        "-T",
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        f"UserKnownHostsFile={daemon.known_hosts}",
        "-o",
        f"IdentityFile={daemon.identity}",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "ControlPath=none",
        "-p",
        str(daemon.port),
        "-l",
        daemon.user,
        "--",
        "127.0.0.1",
    ]


def _with_daemon(bench: Callable[[sshd_daemon.Daemon, bool], list[Case]], name: str):  # type: ignore[no-untyped-def]
    def run(quick: bool) -> list[Case]:
        reason = sshd_daemon.missing_reason()
        if reason is not None:
            return [skipped(name, 14, reason)]
        with tempfile.TemporaryDirectory() as tmp, sshd_daemon.start_sshd(Path(tmp)) as daemon:
            try:
                return bench(daemon, quick)
            finally:
                disconnect_all()

    return run


def bench_true(daemon: sshd_daemon.Daemon, quick: bool) -> list[Case]:
    host = _host(daemon)
    cmd = host(true())
    plain = [*_plain_ssh(daemon), "true"]

    def cuprum_call() -> None:
        assert cmd.run_sync().ok

    def baseline_call() -> None:
        subprocess.run(plain, check=True, stdin=subprocess.DEVNULL)

    samples = interleaved(
        {"cuprum": cuprum_call, "baseline": baseline_call}, reps=7 if quick else 15, warmup=2
    )
    return [
        Case.time_ratio(
            "remote.true",
            14,
            samples["cuprum"],
            samples["baseline"],
            goal=0.25,
            note="warm host(true()).run_sync() vs ssh -o ControlPath=none HOST true",
            baseline_label="plain ssh",
        )
    ]


def bench_stream(daemon: sshd_daemon.Daemon, quick: bool) -> list[Case]:
    size = (256 if quick else 1024) * 1024 * 1024
    host = _host(daemon)
    pipeline = host(head("-c", str(size), "/dev/zero")) | wc("-c")
    shell_line = " ".join([*_plain_ssh(daemon), f"head -c {size} /dev/zero", "| wc -c"])

    def cuprum_call() -> None:
        result = pipeline.run_sync()
        assert (result.stdout or "").strip() == str(size), result

    def baseline_call() -> None:
        out = subprocess.run(["sh", "-c", shell_line], capture_output=True, check=True)
        assert out.stdout.strip() == str(size).encode()

    samples = interleaved(
        {"cuprum": cuprum_call, "baseline": baseline_call}, reps=3 if quick else 5, warmup=1
    )
    return [
        Case.throughput_fraction(
            "remote.stream_1g" if not quick else "remote.stream_256m",
            14,
            samples["cuprum"],
            samples["baseline"],
            goal=0.8,
            note=f"{size >> 20} MiB: host(head -c) | local wc -c vs sh: ssh HOST head | wc",
            baseline_label="ssh | wc",
        )
    ]


def bench_fleet(daemon: sshd_daemon.Daemon, quick: bool) -> list[Case]:
    hosts = [_host(daemon, name=f"alias{i}") for i in range(10)]
    commands = [hosts[i % 10](true()) for i in range(50)]
    config = FleetConfig(concurrency=10, per_host=5)
    ssh_line = " ".join(_plain_ssh(daemon))
    loop = (
        "for batch in 1 2 3 4 5; do "
        "for host in 0 1 2 3 4 5 6 7 8 9; do " + ssh_line + " true & done; wait; done"
    )

    def cuprum_call() -> None:
        assert run_fleet_sync(*commands, config=config).ok

    def baseline_call() -> None:
        subprocess.run(["bash", "-c", loop], check=True, stdin=subprocess.DEVNULL)

    samples = interleaved(
        {"cuprum": cuprum_call, "baseline": baseline_call}, reps=3 if quick else 7, warmup=1
    )
    return [
        Case.time_ratio(
            "remote.fleet",
            14,
            samples["cuprum"],
            samples["baseline"],
            goal=None,
            note="50 x true over 10 aliases, concurrency 10 vs a shell loop of ssh &",
            baseline_label="ssh & loop",
        )
    ]


BENCHMARKS: dict[str, Callable[[bool], list[Case]]] = {
    "remote.true": _with_daemon(bench_true, "remote.true"),
    "remote.stream_1g": _with_daemon(bench_stream, "remote.stream_1g"),
    "remote.fleet": _with_daemon(bench_fleet, "remote.fleet"),
}


def cases(quick: bool) -> list[Case]:
    return [case for bench in BENCHMARKS.values() for case in bench(quick)]


if __name__ == "__main__":
    from _harness import format_table

    print(format_table(cases("--quick" in sys.argv)))
