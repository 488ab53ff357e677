"""The native spawn from Python: wiring, errors naming the program, cgroups and rlimits."""

from __future__ import annotations

import os
import resource
import stat
import subprocess
import threading
import time

import pytest

from cuprum._core.errors import (
    InvalidArgumentError,
    ProgramNotFoundError,
    SpawnArgumentError,
    SpawnError,
    WorkingDirectoryError,
)
from cuprum._runtime import native_spawn, reap
from cuprum._runtime.cgroup import CgroupHost, CgroupSupport
from cuprum._runtime.limits import ResourceLimits, which_limit

from .containment_support import PY, session_of

pytestmark = [pytest.mark.native]


@pytest.fixture(autouse=True)
def _needs_spawn_process() -> None:
    if not native_spawn.native_spawn_available():
        pytest.skip("the native extension with spawn_process is not installed")


def run(argv: list[str], **kwargs: object) -> tuple[bytes, reap.Reaped]:
    """Spawn natively with stdout captured; (output, reaped)."""
    r, w = os.pipe()
    try:
        child = native_spawn.spawn_native(argv, stdout=w, **kwargs)  # type: ignore[arg-type]
    finally:
        os.close(w)
    with os.fdopen(r, "rb") as f:
        out = f.read()
    if child.pidfd is not None:
        os.close(child.pidfd)
    reaped = reap.reap(child.pid)
    assert reaped is not None
    return out, reaped


def test_output_cwd_and_a_program_found_on_path(tmp_path: os.PathLike[str]) -> None:
    out, reaped = run(["sh", "-c", "echo hi; pwd"], cwd=tmp_path)
    assert out == f"hi\n{os.fspath(tmp_path)}\n".encode()
    assert reaped.returncode == 0


def test_the_environment_is_exactly_the_one_given() -> None:
    out, _ = run(["/usr/bin/env"], env={"A": "1", "LANG": "C"})
    assert out == b"A=1\nLANG=C\n"


def test_no_env_is_the_process_own_as_it_is_now(monkeypatch: pytest.MonkeyPatch) -> None:
    # None: the extension passes libc's environ, which os.environ keeps in step (putenv,
    # unsetenv): the child sees what Popen's child would, changes made at run time too.
    monkeypatch.setenv("CUPRUM_TEST_ADDED", "yes \u00e9")
    monkeypatch.delenv("HOME", raising=False)
    out, _ = run(["/usr/bin/env"])
    expected = subprocess.run(["/usr/bin/env"], capture_output=True, check=True).stdout
    assert sorted(out.splitlines()) == sorted(expected.splitlines())
    assert "CUPRUM_TEST_ADDED=yes \u00e9".encode() in out.splitlines()
    assert not any(line.startswith(b"HOME=") for line in out.splitlines())


def test_no_env_is_read_safely_while_another_thread_changes_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # setenv may move libc's environ array (and free the old one) while the GIL is
    # released for the spawn: a child sharing our memory must not exec with it.
    monkeypatch.setenv("CUPRUM_TEST_STABLE", "kept")
    names = [f"CUPRUM_TEST_CHURN_{i}" for i in range(64)]
    stop = threading.Event()

    def churn() -> None:
        while not stop.is_set():
            for name in names:
                os.environ[name] = "v"
            for name in names:
                del os.environ[name]

    thread = threading.Thread(target=churn)
    thread.start()
    outputs: list[bytes] = []
    try:
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline and len(outputs) < 300:
            outputs.append(run(["/usr/bin/env"])[0])
    finally:
        stop.set()
        thread.join()
    assert all(b"CUPRUM_TEST_STABLE=kept" in out.splitlines() for out in outputs)


def test_an_env_the_os_refuses_names_the_program() -> None:
    # The same error Popen's refusal maps to (spawn_errors), naming the program.
    with pytest.raises(SpawnArgumentError, match=r"/usr/bin/env: cannot start: illegal env"):
        run(["/usr/bin/env"], env={"A=B": "1"})
    with pytest.raises(SpawnArgumentError, match="env"):
        run(["/usr/bin/env"], env={"A": "x\0y"})


def test_a_missing_program_is_program_not_found() -> None:
    with pytest.raises(ProgramNotFoundError) as info:
        run(["cuprum-no-such-program"])
    assert isinstance(info.value, FileNotFoundError)
    assert "cuprum-no-such-program" in str(info.value)


def test_a_missing_directory_is_a_working_directory_error() -> None:
    with pytest.raises(WorkingDirectoryError) as info:
        run(["true"], cwd="/cuprum/no/such/dir")
    assert info.value.errno == 2


def test_a_file_without_exec_permission_fails_with_eacces(tmp_path: os.PathLike[str]) -> None:
    script = os.path.join(tmp_path, "script")
    with open(script, "w") as f:
        f.write("#!/bin/sh\ntrue\n")
    os.chmod(script, stat.S_IRUSR)  # even root needs one exec bit
    with pytest.raises(SpawnError) as info:
        run([script])
    assert info.value.errno == 13
    assert script in str(info.value)


def test_only_fds_0_to_2_reach_the_program() -> None:
    leak_r, leak_w = os.pipe()
    os.set_inheritable(leak_w, True)
    try:
        out, _ = run(["sh", "-c", "ls /proc/$$/fd"])
    finally:
        os.close(leak_r)
        os.close(leak_w)
    assert sorted(out.split()) == [b"0", b"1", b"2"]


def test_the_child_leads_its_group_or_its_session() -> None:
    out, _ = run([PY, "-c", "import os; print(os.getpgid(0) == os.getpid(), os.getsid(0))"])
    leader, session = out.split()
    assert leader == b"True" and int(session) == os.getsid(0)
    out, _ = run([PY, "-c", "import os; print(os.getsid(0) == os.getpid())"], new_session=True)
    assert out == b"True\n"


def test_the_child_starts_inside_the_run_cgroup(host: CgroupHost, support: CgroupSupport) -> None:
    run_cgroup = host.new_run()
    out, _ = run(["cat", "/proc/self/cgroup"], cgroup=run_cgroup)
    assert support.mount is not None
    assert f"0::{run_cgroup.path[len(support.mount) :]}" in out.decode().splitlines()
    run_cgroup.remove()


def test_a_closed_run_cgroup_is_refused(host: CgroupHost) -> None:
    run_cgroup = host.new_run()
    run_cgroup.close_fd()
    with pytest.raises(InvalidArgumentError, match="cgroup"):
        run(["true"], cgroup=run_cgroup)
    run_cgroup.remove()


def test_a_memory_hog_is_stopped_by_the_address_space_limit() -> None:
    hog = "b = bytearray(1 << 30)\nprint('allocated')"
    _, free = run([PY, "-c", "pass"], limits=ResourceLimits(address_space=512 << 20))
    assert free.returncode == 0  # the limit leaves room for the interpreter itself
    out, reaped = run([PY, "-c", hog], limits=ResourceLimits(address_space=512 << 20))
    assert out == b"" and reaped.returncode == 1  # MemoryError


def test_a_cpu_burner_is_stopped_by_sigxcpu_and_says_so() -> None:
    limits = ResourceLimits(cpu_seconds=1)
    _, reaped = run([PY, "-c", "while True: pass"], limits=limits)
    assert reaped.returncode == -24
    assert which_limit(reaped.returncode, limits=limits, usage=reaped.usage) == "cpu_seconds"


def test_a_file_size_limit_stops_the_writer_with_sigxfsz(tmp_path: os.PathLike[str]) -> None:
    limits = ResourceLimits(file_size=4096)
    target = os.open(os.path.join(tmp_path, "big"), os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        child = native_spawn.spawn_native(
            ["head", "-c", "100000", "/dev/zero"], stdout=target, limits=limits
        )
    finally:
        os.close(target)
    reaped = reap.reap(child.pid)
    assert reaped is not None and reaped.returncode == -25
    assert which_limit(reaped.returncode, limits=limits) == "file_size"


def test_open_files_limit_applies_before_exec() -> None:
    out, _ = run(["sh", "-c", "ulimit -n"], limits=ResourceLimits(open_files=37))
    assert out == b"37\n"
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] != 37  # ours is untouched


def test_the_session_check_helper_agrees_with_getsid() -> None:
    assert session_of(os.getpid()) == os.getsid(0)
