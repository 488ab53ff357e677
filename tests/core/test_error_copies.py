"""Every public error survives copy, deepcopy and pickle (so a process pool), and a
pickled one holds the run's secrets as ``***`` only."""

from __future__ import annotations

import copy
import errno
import multiprocessing
import pickle
import re
import uuid
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import pytest
from core_support import PY, TEST_CATALOGUE

import cuprum
from cuprum import (
    CaptureLimitExceeded,
    CommandFailedError,
    CuprumError,
    ExpectEOF,
    ExpectError,
    ExpectTimeout,
    ForbiddenProgramError,
    HostKeyError,
    InterpreterNotFoundError,
    InvalidArgumentError,
    NativeUnavailableError,
    ProgramNotExecutableError,
    ProgramNotFoundError,
    RemoteAuthError,
    RemoteConnectError,
    RemoteError,
    RemoteTimeoutError,
    Secret,
    SpawnArgumentError,
    SpawnError,
    StdinEncodeError,
    StreamBackendError,
    StreamClosedError,
    TimeoutExpired,
    UnknownProgramError,
    UntrustedProgramError,
    WorkingDirectoryAccessError,
    WorkingDirectoryError,
    sh,
)

VALUE = "s3cr3t-" + "d41d8cd98f00b204"  # the same in a pool's worker


def _samples() -> list[BaseException]:
    """One or more of each public error, built as cuprum builds them."""
    secret = Secret(VALUE)
    return [
        CuprumError("x: something"),
        UnknownProgramError("nope: not in the catalogue"),
        ForbiddenProgramError("rm", "not permitted"),
        ForbiddenProgramError("rm: not permitted"),  # the earlier one-argument form
        InvalidArgumentError("echo: timeout must be a number"),
        StdinEncodeError("sh: stdin: cannot encode", ("latin-1", "a\u20ac", 1, 2, "no")),
        SpawnError(errno.E2BIG, "sh: cannot start: argument list too long"),
        SpawnError("sh: cannot start"),
        ProgramNotFoundError(errno.ENOENT, "nope: program not found", "/bin/nope"),
        InterpreterNotFoundError(errno.ENOENT, "./x.sh: interpreter /no/sh not found"),
        ProgramNotExecutableError(errno.EACCES, "/x: not executable (permission denied)"),
        UntrustedProgramError("ls", "/tmp/ls", "writable by others", "ls: /tmp/ls is untrusted"),
        WorkingDirectoryError(errno.ENOENT, "sh: working directory '/no' does not exist"),
        WorkingDirectoryAccessError(errno.EACCES, "sh: working directory '/r' cannot be entered"),
        SpawnArgumentError(errno.EINVAL, "sh: cannot start: embedded null byte"),
        CommandFailedError(2, ["ls", "/nope"], "", "ls: no such file\n"),
        CommandFailedError(1, ["a", "|", "b"], b"out", b"b: bad\xff\n", program="b", stage_index=1),
        CommandFailedError(
            1, ["py", "***"], f"out {VALUE}", f"token {VALUE} refused\n", secrets=(secret,)
        ),
        TimeoutExpired(["sleep", "9"], 0.5, "o", "e"),
        TimeoutExpired(
            ["a", "|", "b"], 1.0, b"x", None, program="a", stage_index=0, running=(0, 1)
        ),
        TimeoutExpired(["py"], 1.0, f"so far {VALUE}", None, secrets=(secret,)),
        CaptureLimitExceeded("cat", "stdout", 4, "abcd"),
        CaptureLimitExceeded("py", "stderr", 60, f"token={VALUE}\n" * 2, secrets=(secret,)),
        CaptureLimitExceeded("py", "stdout", 60, f"{VALUE}\xff".encode(), secrets=(secret,)),
        StreamBackendError("rust strategy unavailable"),
        StreamClosedError("py", "write(): stdin is closed (by close_stdin())"),
        NativeUnavailableError("cuprum._streams_rs cannot be imported"),
        ExpectError("py", ["login:"], "before", "no match"),
        ExpectTimeout("py", ["login:", re.compile("pass(word)?:")], "Welcome\n", 2.5),
        ExpectTimeout("py", (), "", 1.0, waited_for="echo not turned off"),
        ExpectTimeout("py", ["$ "], f"password {VALUE}\n" * 8, 1.0, secrets=(secret,)),
        ExpectEOF("py", [b"> "], b"bye\n"),
        ExpectEOF("py", ["$ "], f"{VALUE} bye", secrets=(secret,)),
        RemoteError("web1", "ssh failed", "kex error"),
        RemoteConnectError("web1", "connection refused", "Connection refused"),
        RemoteTimeoutError("web1", "no connection within 5 seconds"),
        RemoteAuthError("deploy@web1", "the server refused every key", "Permission denied"),
        HostKeyError("web1", "host key changed", "REMOTE HOST IDENTIFICATION HAS CHANGED"),
    ]


SAMPLES = _samples()
PUBLIC = sorted(
    name
    for name in cuprum.__all__
    if isinstance(getattr(cuprum, name), type) and issubclass(getattr(cuprum, name), BaseException)
)
# The attributes of standard bases that live outside the instance dict.
_SLOTS = ("args", "errno", "strerror", "filename", "encoding", "object", "start", "end", "reason")


def _shown(error: BaseException, *, pickled: bool) -> dict[str, Any]:
    """What must survive: str, repr, the standard bases' fields, the own attributes."""
    fields = {name: getattr(error, name) for name in _SLOTS if hasattr(error, name)}
    fields.update({k: v for k, v in vars(error).items() if not k.startswith("_")})
    if pickled:  # a pickled secret is its redaction, a plain "***"
        fields["secrets"] = tuple(map(str, fields.get("secrets", ())))
    return {"type": type(error), "str": str(error), "repr": repr(error), **fields}


def _has_secret(error: BaseException) -> bool:
    return bool(getattr(error, "secrets", ()))


COPIES: dict[str, Callable[[BaseException], BaseException]] = {
    "copy": copy.copy,
    "deepcopy": copy.deepcopy,
    "pickle": lambda error: pickle.loads(pickle.dumps(error)),
}


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_error_class_has_a_sample(name: str) -> None:
    assert any(type(sample).__name__ == name for sample in SAMPLES)


@pytest.mark.parametrize("how", list(COPIES))
@pytest.mark.parametrize(
    "error", [s for s in SAMPLES if not _has_secret(s)], ids=lambda e: type(e).__name__
)
def test_an_error_survives_copies_and_pickles(error: BaseException, how: str) -> None:
    clone = COPIES[how](error)
    assert clone is not error
    assert _shown(clone, pickled=how == "pickle") == _shown(error, pickled=how == "pickle")


@pytest.mark.parametrize("how", ["copy", "deepcopy"])
@pytest.mark.parametrize(
    "error", [s for s in SAMPLES if _has_secret(s)], ids=lambda e: type(e).__name__
)
def test_a_copy_keeps_the_secrets_and_what_quotes_them(error: BaseException, how: str) -> None:
    clone = COPIES[how](error)
    assert _shown(clone, pickled=False) == _shown(error, pickled=False)
    assert VALUE not in str(clone)
    assert clone.secrets[0].reveal() == VALUE  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "error", [s for s in SAMPLES if _has_secret(s)], ids=lambda e: type(e).__name__
)
def test_a_pickle_holds_no_secret_and_keeps_the_message(error: BaseException) -> None:
    data = pickle.dumps(error)
    assert VALUE.encode() not in data
    clone = pickle.loads(data)
    assert (type(clone), str(clone), repr(clone)) == (type(error), str(error), repr(error))
    for name in ("output", "stderr", "before", "captured"):
        if hasattr(error, name):
            value = getattr(error, name)
            if isinstance(value, bytes):
                assert getattr(clone, name) == value.replace(VALUE.encode(), b"***")
                continue
            assert getattr(clone, name) == (value and value.replace(VALUE, "***"))


def test_a_pickle_keeps_the_notes_added_to_an_error() -> None:
    error = RemoteError("web1", "ssh failed")
    error.add_note("while deploying")
    assert pickle.loads(pickle.dumps(error)).__notes__ == ["while deploying"]


def test_a_real_failure_pickles_without_its_secret() -> None:
    code = "import sys; print('seen', sys.argv[1], file=sys.stderr); sys.exit(3)"
    value = f"pw-{uuid.uuid4().hex}"
    cmd = sh.make(PY, catalogue=TEST_CATALOGUE)("-c", code, Secret(value))
    for text in (True, False):
        with pytest.raises(CommandFailedError) as info:
            cmd.run_sync(check=True, text=text)
        error = info.value
        assert value not in str(error)
        data = pickle.dumps(error)
        assert value.encode() not in data
        clone = pickle.loads(data)
        assert (type(clone), str(clone), clone.returncode) == (type(error), str(error), 3)
        assert str(clone).endswith("(stderr: seen ***)")


def _raise(index: int) -> None:
    raise _samples()[index]


def test_an_error_raised_in_a_process_pool_worker_reaches_the_parent_as_itself() -> None:
    spawn = multiprocessing.get_context("spawn")  # no fork of a process with threads
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
        futures = [pool.submit(_raise, index) for index in range(len(SAMPLES))]
        for sample, future in zip(SAMPLES, futures, strict=True):
            error = future.exception(timeout=60)
            assert type(error) is type(sample)
            assert str(error) == str(sample)
            if _has_secret(sample):
                assert VALUE not in repr(vars(error))
