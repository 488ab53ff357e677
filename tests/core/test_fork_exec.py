"""``fork_exec``: cuprum's spawn without ``Popen`` raises what ``Popen`` raises, and starts
the same child.

Differential against ``subprocess.Popen`` given the same arguments (the same
exception type, errno, message and file blamed, for every refusal a spawn meets);
real children for argv, the environment and the standard streams; host processes
for what changes a whole process (closed fds 0-2, SIGCHLD ignored, an audit hook).
"""

from __future__ import annotations

import functools
import json
import os
import select
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest
from core_support import DEADLINE, py
from hypothesis import given, settings
from hypothesis import strategies as st
from processes import fd_targets
from signal_points import MODELLED, codes_of, interrupt_each_point
from unkillable import needs_setpriv, start_without_cap_kill

from cuprum import SpawnError
from cuprum._runtime import child as child_module
from cuprum._runtime import fork_exec as forking
from cuprum._runtime import owned
from cuprum._runtime.reap import reap

pytestmark = pytest.mark.skipif(not forking.AVAILABLE, reason="fork_exec is not used here")

Env = Mapping[str, str] | None
# The child prints its argv (after argv[0]) and its environment, NUL-separated, as JSON of
# the raw bytes' latin-1 text.
_ECHO = (
    "import json, os, sys\n"
    "args = [os.fsencode(a).decode('latin-1') for a in sys.argv[1:]]\n"
    "env = {k.decode('latin-1'): v.decode('latin-1') for k, v in os.environb.items()}\n"
    "print(json.dumps([args, env]))\n"
)


def _start(
    popen: bool,
    executable: str,
    args: Sequence[str | bytes],
    *,
    cwd: str | None = None,
    env: Env = None,
    stdout: int = -1,
) -> int:
    """A child started by ``fork_exec``, or by ``Popen`` given what cuprum's spawn asks."""
    if not popen:
        return forking.fork_exec(
            executable, args, cwd=cwd, env=env, stdin=-1, stdout=stdout, stderr=-1
        )
    proc = subprocess.Popen(
        args,
        executable=executable,
        cwd=cwd,
        env=env,
        stdout=None if stdout < 0 else stdout,
        close_fds=True,
        restore_signals=True,
        process_group=0,
    )
    proc.returncode = 0  # reaped below, by pid, as ours is: no ResourceWarning
    return proc.pid


_ours = functools.partial(_start, False)
_popen = functools.partial(_start, True)


def _refusal(spawn: Callable[..., int], executable: str, **kwargs: object) -> BaseException:
    try:
        pid = spawn(executable, [Path(executable).name or "x"], **kwargs)
    except (OSError, ValueError, subprocess.SubprocessError) as exc:
        return exc
    reap(pid)
    pytest.fail(f"{executable} started")


def _shape(exc: BaseException) -> tuple[object, ...]:
    if isinstance(exc, OSError):
        return (type(exc), exc.errno, exc.strerror, exc.filename, str(exc))
    return (type(exc), str(exc))


def _file(path: Path, text: str, mode: int) -> str:
    path.write_text(text)
    path.chmod(mode)
    return str(path)


@pytest.fixture
def refusals(tmp_path: Path) -> dict[str, tuple[str, dict[str, object]]]:
    """Each way a spawn is refused: (executable, keyword arguments)."""
    return {
        "missing file": (str(tmp_path / "nope"), {}),
        "missing directory": (str(tmp_path / "no" / "such"), {}),
        "not executable": (_file(tmp_path / "plain", "#!/bin/sh\n", 0o644), {}),
        "a directory": (str(tmp_path), {}),
        "neither binary nor script": (_file(tmp_path / "junk", "\x7fjunk\n", 0o755), {}),
        "missing interpreter": (_file(tmp_path / "s", "#!/no/such/sh\n", 0o755), {}),
        "through a file": (str(tmp_path / "plain" / "x"), {}),
        "missing cwd": ("/bin/true", {"cwd": str(tmp_path / "gone")}),
        "cwd is a file": ("/bin/true", {"cwd": str(tmp_path / "plain")}),
        "env name with =": ("/bin/true", {"env": {"A=B": "1"}}),
        "env value with NUL": ("/bin/true", {"env": {"A": "x\0y"}}),
        "env name with NUL": ("/bin/true", {"env": {"A\0": "x"}}),
        "bare name not on PATH": ("cuprum-no-such-7f3a", {"env": {"PATH": str(tmp_path)}}),
        "bare name, empty PATH": ("cuprum-no-such-7f3a", {"env": {"PATH": ""}}),
    }


CASES = [
    "missing file",
    "missing directory",
    "not executable",
    "a directory",
    "neither binary nor script",
    "missing interpreter",
    "through a file",
    "missing cwd",
    "cwd is a file",
    "env name with =",
    "env value with NUL",
    "env name with NUL",
    "bare name not on PATH",
    "bare name, empty PATH",
]


@pytest.mark.parametrize("case", CASES)
def test_each_refusal_is_what_popen_raises(
    case: str, refusals: dict[str, tuple[str, dict[str, object]]]
) -> None:
    executable, kwargs = refusals[case]
    ours = _refusal(_ours, executable, **kwargs)
    theirs = _refusal(_popen, executable, **kwargs)
    assert _shape(ours) == _shape(theirs)


def test_a_failed_exec_leaves_no_zombie(tmp_path: Path) -> None:
    before = _zombies()
    for _ in range(20):
        with pytest.raises(FileNotFoundError):
            _ours(str(tmp_path / "nope"), ["nope"])
    assert _zombies() <= before


def _zombies() -> int:
    count = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] == "Z" and int(fields[1]) == os.getpid():
            count += 1
    return count


def _output(spawn: Callable[..., int], args: Sequence[str | bytes], env: Env) -> object:
    read, write = os.pipe()
    try:
        pid = spawn(sys.executable, [sys.executable, "-c", _ECHO, *args], env=env, stdout=write)
    finally:
        os.close(write)
    with os.fdopen(read, "rb") as out:
        data = out.read()
    reaped = reap(pid)
    assert reaped is not None
    assert reaped.returncode == 0
    return json.loads(data)


_ARG = st.one_of(
    st.text(st.characters(blacklist_characters="\0", blacklist_categories=["Cs"]), max_size=20),
    st.binary(max_size=12).filter(lambda b: b"\0" not in b),
)


@settings(max_examples=25, deadline=None)
@given(
    args=st.lists(_ARG, max_size=5),
    env=st.one_of(
        st.none(),
        st.dictionaries(
            st.text("ABCXYZ_", min_size=1, max_size=6),
            st.text(st.characters(blacklist_characters="\0", blacklist_categories=["Cs"])),
            max_size=4,
        ),
    ),
)
def test_the_child_gets_the_same_argv_and_environment(
    args: list[str | bytes], env: dict[str, str] | None
) -> None:
    assert _output(_ours, args, env) == _output(_popen, args, env)


def test_the_child_is_the_leader_of_its_own_group() -> None:
    pid = _ours("/bin/sleep", ["sleep", "30"])
    try:
        assert os.getpgid(pid) == pid
        assert os.getpgid(pid) != os.getpgrp()
    finally:
        os.kill(pid, 9)
        reap(pid)


def test_the_child_has_only_its_standard_streams(tmp_path: Path) -> None:
    leak = os.open(tmp_path / "leak", os.O_WRONLY | os.O_CREAT)  # inheritable on purpose
    os.set_inheritable(leak, True)
    try:
        read, write = os.pipe()
        code = "import os; print(sorted(int(f) for f in os.listdir('/proc/self/fd')))"
        pid = _ours(sys.executable, [sys.executable, "-c", code], stdout=write)
        os.close(write)
        with os.fdopen(read) as out:
            fds = json.loads(out.read())
        reap(pid)
    finally:
        os.close(leak)
    assert [fd for fd in fds if fd > 2] == [3]  # only the listing's own directory fd


def _spawn_refusal(argv: list[str], cwd: str | None) -> tuple[type, str, int | None]:
    with pytest.raises(SpawnError) as excinfo:
        child_module.spawn(argv, cwd=cwd, env=None, stdin=None, stdout=None, stderr=None).reap()
    return type(excinfo.value), str(excinfo.value), excinfo.value.errno


@pytest.mark.parametrize(
    ("argv", "cwd"),
    [
        (["/no/such/program-7f3a"], None),
        ([sys.executable, "-c", "pass"], "/no/such/dir/7f3a"),
        ([sys.executable, "-c", "pass"], "/etc/hostname"),
    ],
)
def test_spawn_falls_back_to_popen_where_fork_exec_is_not_checked(
    monkeypatch: pytest.MonkeyPatch, argv: list[str], cwd: str | None
) -> None:
    ours = _spawn_refusal(argv, cwd)
    monkeypatch.setattr(forking, "AVAILABLE", False)
    assert _spawn_refusal(argv, cwd) == ours
    result = py("import sys; print(sys.argv[1])", "fallback").run_sync()
    assert (result.exit_code, result.stdout) == (0, "fallback\n")


_HOST = textwrap.dedent(
    """
    import json, os, signal, sys
    {setup}
    from cuprum._runtime import fork_exec as forking
    from cuprum._runtime.reap import reap
    report = {{}}
    try:
        forking.fork_exec("/no/such/7f3a", ["x"], cwd=None, env=None,
                          stdin=-1, stdout=-1, stderr=-1)
    except FileNotFoundError as exc:
        report["refused"] = exc.filename
    read, write = os.pipe()
    pid = forking.fork_exec("/bin/sh", ["sh", "-c", "echo ok"], cwd=None, env=None,
                            stdin=-1, stdout=write, stderr=-1)
    os.close(write)
    report["out"] = os.read(read, 100).decode()
    got = reap(pid)
    report["code"] = got.returncode
    {finish}
    os.write(report_fd, json.dumps(report).encode())
    """
)


def _host(setup: str, finish: str = "") -> dict[str, object]:
    read, write = os.pipe()
    prelude = f"report_fd = {write}\n"
    code = prelude + _HOST.format(setup=textwrap.indent(setup, ""), finish=finish)
    proc = subprocess.run(
        [sys.executable, "-c", code],
        pass_fds=(write,),
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        check=False,
    )
    os.close(write)
    with os.fdopen(read) as f:
        data = f.read()
    assert proc.returncode == 0, proc.stderr
    found: dict[str, object] = json.loads(data)
    return found


class _Interrupted(Exception):
    pass


def _children() -> set[int]:
    """This process's children, zombies included, from /proc."""
    found = set()
    me = str(os.getpid())
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[1] == me:
                found.add(int(entry))
    return found


@pytest.mark.skipif(not forking.AVAILABLE, reason="fork_exec is not used here")
def test_a_signal_handler_raising_during_the_spawn_leaves_no_child() -> None:
    # A host handler that raises runs as fork_exec returns, before the pid would be
    # stored: the child was started, and must still be killed and reaped.
    armed = threading.Event()

    def handler(signum: int, frame: object) -> None:
        if armed.is_set():
            armed.clear()
            raise _Interrupted

    before = _children()
    previous = signal.signal(signal.SIGUSR1, handler)
    stop = threading.Event()

    def pester() -> None:
        while not stop.wait(0.0005):
            os.kill(os.getpid(), signal.SIGUSR1)

    thread = threading.Thread(target=pester)
    thread.start()
    interrupted = 0
    big = ["x" * 100] * 1000  # a longer exec: more signals land in the spawn
    try:
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline and interrupted < 200:
            started: list[int] = []
            armed.set()
            try:
                started.append(forking.fork_exec(
                    "/bin/true", ["true", *big], cwd=None, env=None, stdin=-1, stdout=-1, stderr=-1
                ))  # fmt: skip
            except _Interrupted:
                interrupted += 1
            armed.clear()
            for pid in started:
                reap(pid)
    finally:
        stop.set()
        thread.join()
        signal.signal(signal.SIGUSR1, previous)
    assert interrupted
    assert _children() - before == set()


def test_a_host_with_its_standard_fds_closed() -> None:
    # The report pipe is moved above fd 2: a child dup'ing onto 0-2 cannot clobber it.
    setup = "os.close(0); os.close(1); os.close(2)"
    assert _host(setup) == {"refused": "/no/such/7f3a", "out": "ok\n", "code": 0}


def test_a_host_that_ignores_sigchld() -> None:
    setup = "signal.signal(signal.SIGCHLD, signal.SIG_IGN)"
    report = _host(setup)
    assert report["refused"] == "/no/such/7f3a"
    assert report["out"] == "ok\n"
    assert report["code"] is None  # the kernel reaped it: the status is lost


def test_an_audit_hook_sees_each_spawn_as_popen_reports_it() -> None:
    setup = (
        "seen = []\n"
        "sys.addaudithook(lambda e, a: seen.append([a[0], list(a[1])])"
        " if e == 'subprocess.Popen' else None)"
    )
    report = _host(setup, finish='report["seen"] = seen')
    assert report["seen"] == [["/no/such/7f3a", ["x"]], ["/bin/sh", ["sh", "-c", "echo ok"]]]


def test_vfork_can_be_turned_off_as_for_popen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(subprocess, "_USE_VFORK", False, raising=False)
    result = py("print('forked')").run_sync()
    assert result.stdout == "forked\n"


def _left_after(check_fds: bool = True) -> Callable[[str], None]:
    """A check that an interrupted ``fork_exec`` left no child and (if asked) no fd."""
    before, fds = _children(), fd_targets()

    def check(where: str) -> None:
        assert _children() - before == set(), f"a child left, {where}"
        if check_fds:
            left = {fd: target for fd, target in fd_targets().items() if fd not in fds}
            assert not left, f"an fd left, {where}: {left}"

    return check


def test_a_handler_raising_anywhere_in_a_spawn_leaves_nothing() -> None:
    def start() -> int:
        return forking.fork_exec(
            "/bin/sleep", ["sleep", "30"], cwd=None, env=None, stdin=-1, stdout=-1, stderr=-1
        )

    check = _left_after()
    pid, points = interrupt_each_point(start, codes_of(forking, owned), check)
    forking.kill(pid)
    check("after the spawn that got through")
    assert points > 10


def test_a_handler_raising_anywhere_in_a_refused_spawn_leaves_nothing(tmp_path: Path) -> None:
    # The child reports its failed exec: it is reaped before the refusal is raised.
    def refused() -> None:
        with pytest.raises(FileNotFoundError):
            forking.fork_exec(
                str(tmp_path / "nope"), ["nope"], cwd=None, env=None, stdin=-1, stdout=-1, stderr=-1
            )

    check = _left_after()
    _, points = interrupt_each_point(refused, codes_of(forking, owned), check)
    check("after the refusal that got through")
    assert points > 10


# The same, in a host whose fds 0-2 are closed: the report pipe's write end is moved.
_LOW_FDS_HOST = textwrap.dedent(
    """
    import os, sys
    report = os.fdopen(int(sys.argv[1]), "w")
    os.close(0); os.close(1); os.close(2)
    from signal_points import codes_of, interrupt_each_point
    from cuprum._runtime import fork_exec as forking, owned
    from processes import fd_targets
    fds = fd_targets()
    def check(where):
        left = {fd: t for fd, t in fd_targets().items() if fd not in fds}
        assert not left, f"an fd left, {where}: {left}"
    def start():
        return forking.fork_exec("/bin/true", ["true"], cwd=None, env=None,
                                 stdin=-1, stdout=-1, stderr=-1)
    pid, points = interrupt_each_point(start, codes_of(forking, owned), check)
    forking.kill(pid)
    check("after the spawn that got through")
    report.write(str(points))
    report.close()
    """
)


@pytest.mark.skipif(not MODELLED, reason="the check points are modelled on CPython 3.11")
def test_a_handler_raising_anywhere_in_a_spawn_from_a_host_without_fds_0_to_2() -> None:
    read, write = os.pipe()
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _LOW_FDS_HOST, str(write)],
            pass_fds=(write,),
            capture_output=True,
            text=True,
            timeout=DEADLINE,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
            check=False,
        )
    finally:
        os.close(write)
    with os.fdopen(read) as f:
        points = f.read()
    assert proc.returncode == 0, proc.stderr
    assert int(points) > 10


# A host without CAP_KILL (root, its bounding set cut by setpriv) and a child that
# became another user: the child may not be signalled. kill() must neither loop
# nor wait for ever: it raises, naming the child, or reaps it if it has exited.
_UNKILLABLE_HOST = textwrap.dedent(
    """
    import json, os, sys
    from cuprum._runtime import fork_exec as forking
    from processes import process_state
    from unkillable import AS_NOBODY as as_nobody, wait_for_nobody
    report = os.fdopen(int(sys.argv[1]), "w")
    go_on = os.fdopen(int(sys.argv[2]))
    found = {}
    pid = forking.fork_exec("/usr/bin/setpriv", [*as_nobody, "sleep", "300"], cwd=None,
                            env=None, stdin=-1, stdout=-1, stderr=-1)
    wait_for_nobody(pid)
    try:
        forking.kill(pid, "sleep")
    except PermissionError as exc:
        found["raised"] = str(exc)
    found["state"] = process_state(pid)
    report.write(json.dumps({"pid": pid, **found}) + "\\n")
    report.flush()
    go_on.read()  # the test, which may, has killed it
    os.waitpid(pid, 0)
    exited = forking.fork_exec("/usr/bin/setpriv", [*as_nobody, "true"], cwd=None,
                               env=None, stdin=-1, stdout=-1, stderr=-1)
    while process_state(exited) != "Z":
        pass  # until it has exited (it is not reaped: nobody waits for it)
    forking.kill(exited, "true")  # may not be signalled, but it has exited: reaped
    found = {"exited": process_state(exited)}
    report.write(json.dumps(found) + "\\n")
    """
)


@needs_setpriv
def test_a_child_that_may_not_be_signalled_is_reported_not_waited_for() -> None:
    report_read, report_write = os.pipe()
    go_read, go_write = os.pipe()
    host = start_without_cap_kill(
        _UNKILLABLE_HOST, str(report_write), str(go_read), pass_fds=(report_write, go_read)
    )
    os.close(report_write)
    os.close(go_read)
    try:
        with os.fdopen(report_read) as report:
            # A hang here (kill() looping on EPERM) ends at the deadline below.
            ready, _, _ = select.select([report], [], [], DEADLINE)
            assert ready, "kill() did not return"
            first = json.loads(report.readline())
            assert first["raised"] == (
                f"[Errno 1] sleep (pid {first['pid']}) cannot be killed: not permitted to "
                "signal it (it changed its user ID?); it is left running, unreaped"
            )
            assert first["state"] not in (None, "Z")  # left running, as it said
            os.kill(first["pid"], signal.SIGKILL)  # the test may
            os.close(go_write)
            go_write = -1
            second = json.loads(report.readline())
        assert second == {"exited": None}  # reaped, not left a zombie
        assert host.wait(DEADLINE) == 0, host.stderr.read() if host.stderr else ""
    finally:
        if go_write >= 0:
            os.close(go_write)
        if host.poll() is None:
            host.kill()
            host.wait()
        if host.stderr is not None:
            host.stderr.close()
