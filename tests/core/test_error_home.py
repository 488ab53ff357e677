"""One home for errors, and hooks typed with the values below the policy layer."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import subprocess
import sys
import typing
from types import ModuleType

import pytest

import cuprum
from cuprum._core import context, errors
from cuprum._core.results import CommandResult
from cuprum._core.spec import CommandSpec

# Old paths of exceptions and values that moved; they must keep working.
OLD_PATHS = (
    ("cuprum._model.results", "CommandFailedError", errors.CommandFailedError),
    ("cuprum._runtime.streams", "CaptureLimitExceeded", errors.CaptureLimitExceeded),
    ("cuprum._transport.dispatch", "StreamBackendError", errors.StreamBackendError),
    ("cuprum._model.results", "CommandResult", CommandResult),
    ("cuprum._model.spec", "CommandSpec", CommandSpec),
)


def _all_modules() -> list[ModuleType]:
    found = [cuprum]
    for info in pkgutil.walk_packages(cuprum.__path__, "cuprum."):
        if info.name in {"cuprum.__main__", "cuprum._streams_rs"}:
            continue  # __main__ runs the CLI; the extension is optional and has no classes
        found.append(importlib.import_module(info.name))
    return found


# errors.py and the modules it re-exports from (the base, the remote and expect errors).
ERROR_MODULES = {
    "cuprum._core.errors",
    "cuprum._core.error_base",
    "cuprum._core.expect_errors",
    "cuprum._core.remote_errors",
}


def test_every_exception_class_is_defined_in_core_errors() -> None:
    strays = {
        f"{module.__name__}.{name}"
        for module in _all_modules()
        for name, value in vars(module).items()
        if inspect.isclass(value)
        and issubclass(value, BaseException)
        and value.__module__.startswith("cuprum")
        and value.__module__ not in ERROR_MODULES
        # A private control-flow signal that never leaves its module is not an error
        # cuprum raises; it must not be importable under a public name either.
        and not name.startswith("_")
        # cuprum.testing's UnexpectedCommandError is a test failure (an AssertionError)
        # raised into the user's tests, deliberately not a CuprumError: code under
        # test that catches CuprumError must not swallow it.
        and not module.__name__.startswith("cuprum.testing")
    }
    assert strays == set()


def test_every_error_is_a_cuprum_error_exported_by_cuprum_and_drawn_in_the_tree() -> None:
    doc = errors.__doc__ or ""
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, errors.CuprumError), name
        assert getattr(cuprum, name) is cls, name
        assert name in cuprum.__all__, name
        assert f"── {name}" in doc or name == "CuprumError", name


@pytest.mark.parametrize(("module", "name", "expected"), OLD_PATHS)
def test_old_import_paths_still_work(module: str, name: str, expected: object) -> None:
    assert getattr(importlib.import_module(module), name) is expected


def test_standard_bases_are_kept() -> None:
    assert issubclass(errors.NativeUnavailableError, ImportError)
    assert issubclass(errors.StreamBackendError, RuntimeError)
    assert issubclass(errors.CommandFailedError, subprocess.CalledProcessError)
    assert issubclass(errors.TimeoutExpired, subprocess.TimeoutExpired)
    failed = errors.CommandFailedError(3, ["grep", "x"], "out", "bad pattern\n")
    assert (failed.returncode, failed.cmd, failed.stdout, failed.stderr) == (
        3,
        ["grep", "x"],
        "out",
        "bad pattern\n",
    )
    assert str(failed).startswith("grep: Command '['grep', 'x']' returned non-zero exit status 3")
    assert str(failed).endswith("(stderr: bad pattern)")
    native = errors.NativeUnavailableError("the native extension is missing")
    assert isinstance(native, errors.CuprumError)
    assert str(native) == "the native extension is missing"


def test_native_unavailable_error_is_what_the_probe_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    """Wherever the probe lives, a missing extension raises the CuprumError from errors."""
    probe = next(m for m in _all_modules() if hasattr(m, "pump") and hasattr(m, "is_available"))
    monkeypatch.setattr(probe, "_load", lambda: ImportError("no such module"))
    with pytest.raises(cuprum.NativeUnavailableError, match="not available") as caught:
        probe.pump()
    assert isinstance(caught.value, cuprum.CuprumError)
    assert isinstance(caught.value, ImportError)


def test_hooks_are_typed_with_the_command_protocol_and_the_result() -> None:
    hints = typing.get_type_hints(context.CuprumContext)
    before_args, before_return = typing.get_args(typing.get_args(hints["before_hooks"])[0])
    after_args, _ = typing.get_args(typing.get_args(hints["after_hooks"])[0])
    assert before_args == [CommandSpec]
    assert before_return is None
    assert after_args == [CommandSpec, CommandResult]  # any shape of result


def test_a_command_satisfies_the_protocol_hooks_receive() -> None:
    cmd = cuprum.sh.make(cuprum.ECHO)("hi")
    spec: CommandSpec = cmd
    assert spec.argv == ("hi",)
    assert spec.argv_with_program == ("echo", "hi")
    assert spec.project.name == "core-ops"


def test_import_cuprum_loads_the_errors_but_no_runtime() -> None:
    probe = (
        "import sys, cuprum\n"
        "assert cuprum.CaptureLimitExceeded.__module__ == 'cuprum._core.errors'\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(('anyio', 'cuprum._runtime',"
        " 'cuprum._transport', 'cuprum._api')))\n"
        "assert not loaded, loaded\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
