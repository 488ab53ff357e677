"""nox sessions: tests on both wheel flavours, wheel verification, lint, docs, demo, bench.

The matrix uses whichever CPython 3.11+ interpreters exist on this machine
(``PATH`` and pyenv installs); a missing one is never an error.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
from pathlib import Path

import nox

ROOT = Path(__file__).parent
DIST = ROOT / "dist"
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_existing_virtualenvs = False
nox.options.sessions = ["lint", "wheels", "docs", "tests"]
nox.options.error_on_missing_interpreters = False


def _interpreters() -> list[str]:
    """CPython 3.11+ versions available here; pyenv installs are put on PATH for nox."""
    found: list[str] = []
    extra_dirs: list[str] = []
    for minor in (11, 12, 13, 14):
        version = f"3.{minor}"
        if shutil.which(f"python{version}") and _runs(f"python{version}"):
            found.append(version)
            continue
        pyenv = sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}.*/bin")))
        if pyenv and Path(pyenv[-1], f"python{version}").exists():
            extra_dirs.append(pyenv[-1])
            found.append(version)
    if extra_dirs:
        os.environ["PATH"] = os.pathsep.join([*extra_dirs, os.environ.get("PATH", "")])
    return found or ["3.11"]


def _runs(executable: str) -> bool:
    import subprocess

    try:
        return (
            subprocess.run([executable, "-c", "pass"], capture_output=True, check=False).returncode
            == 0
        )
    except OSError:
        return False


PYTHONS = _interpreters()
TEST_DEPS = [
    "pytest>=8",
    "hypothesis>=6.100",
    "trio>=0.31",
    "prometheus-client>=0.20",
    "opentelemetry-sdk>=1.25",
    # tests/test_docs.py and tests/test_typing.py type-check user code with mypy --strict
    "mypy>=1.11",
]
# basedpyright: pyright (strict) on user code and --verifytypes; its wheel brings Node.js
# (docs/architecture.md, "Typing"), so only this session installs it.
LINT_DEPS = ["ruff>=0.6", "mypy>=1.11", "import-linter>=2.1", "basedpyright>=1.40"]


def _build_pure(session: nox.Session) -> Path:
    """The pure-Python wheel, built by uv_build (no Rust toolchain involved)."""
    out = DIST / "pure"
    shutil.rmtree(out, ignore_errors=True)
    session.install("uv")
    session.run("uv", "build", "--wheel", "--out-dir", str(out), external=False)
    return _one_wheel(out)


def _build_native(session: nox.Session) -> Path:
    """The native wheel (abi3), built by maturin from the same pyproject."""
    out = DIST / "native"
    shutil.rmtree(out, ignore_errors=True)
    session.install("maturin>=1.9,<2")
    session.run("maturin", "build", "--release", "--out", str(out))
    return _one_wheel(out)


def _one_wheel(folder: Path) -> Path:
    wheels = sorted(folder.glob("cuprum-*.whl"))
    if len(wheels) != 1:
        raise RuntimeError(f"expected one wheel in {folder}, found {wheels}")
    return wheels[0]


# Suites that depend on the machine, other tools or other libraries, not the interpreter.
_FIRST_ONLY = [
    f"--ignore=tests/{suite}"
    for suite in (
        "remote",  # a real sshd on loopback
        "containment",  # cgroups
        "test_docs.py",  # the docs' examples
        "adapters",  # logging, prometheus-client, opentelemetry-sdk
        "builders",  # git, rsync and tar argv, checked against the real tools
        "cli",  # python -m cuprum
        "testing",  # the pytest plugin
    )
]


@nox.session(python=PYTHONS)
@nox.parametrize("flavour", ["pure", "native"])
def tests(session: nox.Session, flavour: str) -> None:
    """Build one wheel flavour, install it, and run the whole suite on asyncio and trio.

    Both flavours on the first interpreter; the later ones test the native wheel
    only (the Python code is the same in both, and the pure one's only difference,
    the missing extension, is what the first interpreter's pure run covers), and
    leave out the suites that depend on the machine, other tools or libraries, not
    the interpreter (:data:`_FIRST_ONLY`: run on the first interpreter in both
    flavours), which keeps CI within its time budget.
    """
    if flavour == "pure" and session.python != PYTHONS[0]:
        session.skip(f"the pure wheel is tested on Python {PYTHONS[0]}")
    wheel = _build_pure(session) if flavour == "pure" else _build_native(session)
    session.install(str(wheel), *TEST_DEPS)
    # PYTHONSAFEPATH: child interpreters the tests start (`python -c ...`) must not
    # put the working directory, the source tree, ahead of the installed wheel.
    env = {"CUPRUM_EXPECT_INSTALLED": "1", "PYTHONSAFEPATH": "1"}
    if flavour == "native":
        # The native session must never pass by skipping the native tests.
        env["CUPRUM_REQUIRE_NATIVE"] = "1"
        if session.python == PYTHONS[0]:
            session.run("cargo", "test", "--workspace", "--quiet", external=True)
    # The `pytest` script (not `python -m pytest`) keeps the source tree off
    # sys.path, so the installed wheel is what gets tested.
    later = [] if session.python == PYTHONS[0] or session.posargs else _FIRST_ONLY
    session.run("pytest", "-q", "-p", "no:cacheprovider", *later, *session.posargs, env=env)


@nox.session(python=PYTHONS[0])
def wheels(session: nox.Session) -> None:
    """The verification procedure: probe False on pure, True on native, same metadata."""
    pure = _build_pure(session)
    native = _build_native(session)
    probe = "import cuprum; print(cuprum.is_rust_available())"
    meta = (
        "import json, importlib.metadata as m; d = m.metadata('cuprum'); "
        "print(json.dumps({k: sorted(d.get_all(k) or []) for k in "
        "('Name', 'Version', 'Requires-Python', 'Requires-Dist', 'Classifier')}))"
    )
    # Probe from an empty folder, so `import cuprum` cannot find the source tree.
    session.chdir(session.create_tmp())
    session.install(str(pure))
    seen = session.run("python", "-c", probe, silent=True)
    pure_meta = session.run("python", "-c", meta, silent=True)
    session.install("--reinstall", str(native))
    seen_native = session.run("python", "-c", probe, silent=True)
    native_meta = session.run("python", "-c", meta, silent=True)
    assert isinstance(seen, str) and isinstance(seen_native, str)
    assert isinstance(pure_meta, str) and isinstance(native_meta, str)
    if seen.strip() != "False" or seen_native.strip() != "True":
        session.error(f"probe: pure={seen.strip()} native={seen_native.strip()}")
    a, b = json.loads(pure_meta), json.loads(native_meta)
    if a != b:
        session.error(f"wheel metadata differs:\npure:   {a}\nnative: {b}")
    session.log(f"probe pure=False native=True; metadata identical: {a}")


@nox.session(python=PYTHONS[0])
def lint(session: nox.Session) -> None:
    """ruff, mypy --strict, pyright strict on user code and --verifytypes, the layer
    contracts (lint-imports), cargo fmt and clippy."""
    session.install("-e", ".", *LINT_DEPS, *TEST_DEPS, "matplotlib>=3.8", "nox")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")
    session.run(
        "pytest", "-q", "-p", "no:cacheprovider", "tests/test_pyright.py",
        env={"CUPRUM_REQUIRE_PYRIGHT": "1"},
    )  # fmt: skip
    # The layers of docs/architecture.md, declared in pyproject.toml [tool.importlinter].
    session.run("lint-imports")
    # An extra cycle report from the workspace's shared tools, when they are beside the
    # clone; lint-imports above is the check that always runs.
    tools = ROOT.parent / "shared" / "tools" / "import_cycles.py"
    if tools.exists():
        session.run("python", str(tools), "cuprum")
    session.run("cargo", "fmt", "--all", "--check", external=True)
    session.run(
        "cargo", "clippy", "--workspace", "--all-targets", "--", "-D", "warnings", external=True
    )


DOCS_DEPS = [
    "mkdocs==1.6.1",
    "mkdocstrings[python]==1.0.8",
    "mkdocstrings-python==2.0.11",
    "ruff>=0.6",  # formats the signatures in the API reference
]
# Appended to a copy of the docs, each must fail the strict build (see `docs`).
BROKEN_REFERENCES = {
    "a cross-reference to nothing": "[nothing][cuprum.NoSuchName]",
    "an anchor that no heading has": "[nowhere](../users-guide.md#no-such-heading)",
}


@nox.session(python=PYTHONS[0])
def docs(session: nox.Session) -> None:
    """The guides and the API reference as a site (mkdocs, strict), in dist/site.

    Then proves the strictness: a copy of docs/ with a broken cross-reference, and
    one with a broken anchor, must each fail to build.
    """
    session.install(*DOCS_DEPS)
    session.run("mkdocs", "build", "--strict", "--clean", *session.posargs)
    for what, markdown in BROKEN_REFERENCES.items():
        broken = Path(session.create_tmp()) / "broken"
        shutil.rmtree(broken, ignore_errors=True)
        shutil.copytree(ROOT / "docs", broken / "docs")
        with open(broken / "docs" / "reference" / "index.md", "a", encoding="utf-8") as page:
            page.write(f"\n{markdown}\n")
        session.run(
            "mkdocs", "build", "--strict", "--site-dir", str(broken / "site"),
            env={"CUPRUM_DOCS_DIR": str(broken / "docs")},
            success_codes=[1],
            silent=True,
        )  # fmt: skip
        session.log(f"as it must, the strict build refused {what}")


@nox.session(python=PYTHONS[0])
def demo(session: nox.Session) -> None:
    """Run real programs through cuprum on asyncio and trio, and print what happened."""
    session.install(".[trio]")
    session.run("python", "-m", "cuprum", "demo", *session.posargs)


@nox.session(python=PYTHONS[0])
def bench(session: nox.Session) -> None:
    """Benchmarks against the plain baselines; prints ratios, writes JSON and a PNG chart."""
    native = _build_native(session)
    session.install(str(native), "trio>=0.31", "matplotlib>=3.8", "prometheus-client>=0.20")
    session.install("opentelemetry-sdk>=1.25")
    # The peers compared in benchmarks/bench_peers*.py.
    session.install("sh>=2.0", "plumbum>=1.8", "shellous>=0.30")
    session.run("python", "benchmarks/run_all.py", *session.posargs)
    # Per-line cost of each telemetry hook (its own table).
    session.run("python", "benchmarks/bench_hooks.py")


@nox.session(python=PYTHONS[0], venv_backend="none")
def dev(session: nox.Session) -> None:
    """Build the native extension in place into the active environment (editable work)."""
    session.run("maturin", "develop", "--release", external=True)
