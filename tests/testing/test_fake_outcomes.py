"""``Outcome`` and ``expect`` refuse what the stand-in could not replay faithfully, and the
stand-in dies as a real program would: of any signal that ends one, and of SIGPIPE."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from cuprum import HEAD, ExecutionContext, Program, ProgramCatalogue, ProjectSettings, sh
from cuprum.testing import FakePrograms, Outcome, Prefix

TOOL = Program("tool-that-is-not-installed")
CATALOGUE = ProgramCatalogue(projects=(ProjectSettings("demo", (TOOL, HEAD)),))
tool = sh.make(TOOL, catalogue=CATALOGUE)
head = sh.make(HEAD, catalogue=CATALOGUE)


@pytest.mark.parametrize("code", [-9, -11, -6, -15])
@pytest.mark.anyio
async def test_killed_by_any_signal_that_ends_a_process(tmp_path: Path, code: int) -> None:
    # -9 was exit 1 and a traceback: SIGKILL's action cannot be set. -11 and -6 leave no core.
    with FakePrograms(tmp_path) as fake:
        fake.expect(Prefix(TOOL), exit_code=code)
        result = await tool("x").run(context=ExecutionContext(cwd=tmp_path))
    assert (result.exit_code, result.stderr) == (code, "")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["call-1.json", "call-1.stdin"]


@pytest.mark.anyio
async def test_a_fake_writing_to_a_closed_pipe_dies_of_sigpipe(tmp_path: Path) -> None:
    # A real producer piped into `head -1` ends by SIGPIPE, not with exit 1 and a traceback.
    with FakePrograms(tmp_path) as fake:
        fake.expect(Prefix(TOOL), stdout="line\n" * 1_000_000)
        fake.passthrough(Prefix(HEAD))
        result = await (tool("produce") | head("-n", "1")).run()
    assert result.stdout == "line\n"
    producer = result.stages[0]
    assert (producer.exit_code, producer.stderr) == (-13, "")


@pytest.mark.parametrize(
    ("keywords", "message"),
    [
        ({"exit_code": -19}, "exit_code must be 0..255, or -N for a signal N that ends"),
        ({"exit_code": -17}, "exit_code must be 0..255"),
        ({"exit_code": 256}, "exit_code must be 0..255"),
        ({"exit_code": -9999}, "exit_code must be 0..255"),
        ({"exit_code": True}, "exit_code must be int, not bool"),
        ({"exit_code": "1"}, "exit_code must be int, not str"),
        ({"stdout": 5}, "stdout must be str or bytes, not int"),
        ({"stderr": None}, "stderr must be str or bytes, not NoneType"),
        ({"delay": "1"}, "delay must be a number of seconds, not str"),
        ({"delay": float("nan")}, "delay must be >= 0"),
        ({"delay": -1}, "delay must be >= 0"),
    ],
)
def test_an_outcome_it_could_not_replay_is_refused_when_made(
    keywords: dict[str, Any], message: str
) -> None:
    with pytest.raises((TypeError, ValueError), match=re.escape(message)):
        Outcome(**keywords)


def test_expect_refuses_an_empty_command_line_and_a_times_that_is_not_an_int(
    tmp_path: Path,
) -> None:
    fake = FakePrograms(tmp_path)
    with pytest.raises(ValueError, match="holds no argv words"):
        fake.expect("  ")
    for times in (True, 1.5, "2"):
        with pytest.raises(TypeError, match="times must be an int or None"):
            fake.expect(f"{TOOL} x", times=times)  # type: ignore[arg-type]
    assert fake.expectations == []


def test_an_outcome_function_returning_something_else_is_named(tmp_path: Path) -> None:
    with FakePrograms(tmp_path) as fake:
        fake.expect(Prefix(TOOL), lambda argv: argv[-1])
        with pytest.raises(TypeError, match=r"returned str, not an Outcome \(for '.* x'\)"):
            tool("x").run_sync()


def test_prefix_words_must_be_str() -> None:
    with pytest.raises(TypeError, match="Prefix words must be str"):
        Prefix(str(TOOL), 5)  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_without_a_workdir_its_own_directory_is_removed_and_stdin_kept() -> None:
    # FakePrograms() outside pytest left a cuprum-fake-* directory in /tmp at each use.
    with FakePrograms() as fake:
        expectation = fake.expect(Prefix(TOOL), stdout="out\n")
        result = await tool("x").run(stdin="fed\n")
        workdir = expectation.calls[0].stdin_path.parent
        assert workdir.is_dir()
    assert result.stdout == "out\n"
    assert not workdir.exists()
    assert expectation.calls[0].stdin == b"fed\n"
    with fake:  # entered again: a new directory of its own
        await tool("y").run()
        again = expectation.calls[1].stdin_path.parent
        assert again.is_dir() and again != workdir
    assert not again.exists()


def test_a_workdir_given_is_left_as_it_is(tmp_path: Path) -> None:
    with FakePrograms(tmp_path) as fake:
        fake.expect(Prefix(TOOL))
        tool("x").run_sync(stdin="fed")
    assert (tmp_path / "call-1.stdin").read_bytes() == b"fed"
    assert fake.calls[0].stdin == b"fed"


def test_a_workdir_that_is_no_directory_is_refused_when_made(tmp_path: Path) -> None:
    # It failed at the first spawn, with a bare FileNotFoundError for call-1.json.
    missing, a_file = tmp_path / "missing", tmp_path / "file"
    a_file.write_text("")
    with pytest.raises(
        ValueError, match=re.escape(f"cuprum.testing: workdir '{missing}' does not exist")
    ):
        FakePrograms(missing)
    with pytest.raises(
        ValueError, match=re.escape(f"cuprum.testing: workdir '{a_file}' is not a dir")
    ):
        FakePrograms(str(a_file))
    with pytest.raises(TypeError, match=r"^cuprum\.testing: workdir must be a str or os\.PathLike"):
        FakePrograms(3)  # type: ignore[arg-type]
    assert not missing.exists()  # nothing made


@pytest.mark.anyio
async def test_a_workdir_given_as_a_str_is_used(tmp_path: Path) -> None:
    with FakePrograms(str(tmp_path)) as fake:
        fake.expect(Prefix(TOOL), stdout="out\n")
        assert (await tool("x").run()).stdout == "out\n"
    assert (tmp_path / "call-1.json").is_file()
