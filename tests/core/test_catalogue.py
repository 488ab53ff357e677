"""The program catalogue: curated programs, lookups, project metadata, validation."""

from __future__ import annotations

import dataclasses

import pytest

from cuprum import (
    DEFAULT_CATALOGUE,
    ECHO,
    GIT,
    LS,
    TAR,
    InvalidArgumentError,
    Program,
    ProgramCatalogue,
    ProjectSettings,
    UnknownProgramError,
    sh,
)


def test_default_catalogue_lists_the_curated_programs() -> None:
    for program in (ECHO, LS, GIT, TAR):
        assert DEFAULT_CATALOGUE.is_known(program)
        assert program in DEFAULT_CATALOGUE.allowlist
        assert DEFAULT_CATALOGUE.lookup(program).program == program


def test_default_catalogue_has_no_shells() -> None:
    for shell in ("sh", "bash", "zsh", "dash", "python", "python3"):
        assert not DEFAULT_CATALOGUE.is_known(Program(shell))


def test_lookup_carries_project_metadata() -> None:
    entry = DEFAULT_CATALOGUE.lookup(GIT)
    assert entry.project.name == "vcs"
    assert entry.project.noise_rules
    assert entry.project.documentation_locations


def test_unknown_program_is_rejected_naming_it() -> None:
    with pytest.raises(UnknownProgramError, match="no-such-tool"):
        DEFAULT_CATALOGUE.lookup(Program("no-such-tool"))
    with pytest.raises(UnknownProgramError, match="bash"):
        sh.make(Program("bash"))
    assert issubclass(UnknownProgramError, LookupError)


def test_custom_catalogue_replaces_the_default() -> None:
    python = Program("python")
    project = ProjectSettings(
        name="data-pipeline",
        programs=(python,),
        documentation_locations=("docs/pipelines.md",),
        noise_rules=(r"^progress:",),
    )
    catalogue = ProgramCatalogue(projects=(project,))
    assert catalogue.allowlist == frozenset({python})
    assert catalogue.projects == (project,)
    assert sh.make(python, catalogue=catalogue)("-V").project is project
    with pytest.raises(UnknownProgramError):
        sh.make(ECHO, catalogue=catalogue)


def test_visible_settings_is_read_only_and_complete() -> None:
    settings = DEFAULT_CATALOGUE.visible_settings()
    assert set(settings) == {project.name for project in DEFAULT_CATALOGUE.projects}
    with pytest.raises(TypeError):
        settings["evil"] = ProjectSettings(name="evil", programs=())  # type: ignore[index]


def test_duplicate_project_names_and_programs_are_refused() -> None:
    a = ProjectSettings(name="a", programs=(ECHO,))
    with pytest.raises(ValueError, match="duplicate project name"):
        ProgramCatalogue(projects=(a, ProjectSettings(name="a", programs=(LS,))))
    with pytest.raises(ValueError, match=r"'a'.*'b'"):
        ProgramCatalogue(projects=(a, ProjectSettings(name="b", programs=(ECHO,))))


def test_project_settings_are_immutable() -> None:
    project = DEFAULT_CATALOGUE.lookup(ECHO).project
    with pytest.raises(dataclasses.FrozenInstanceError):
        project.name = "changed"  # type: ignore[misc]


def test_a_catalogue_for_a_few_programs_in_one_line() -> None:
    tool, other = Program("cuprum-tool"), Program("cuprum-other")
    catalogue = ProgramCatalogue.of(tool, other)
    assert catalogue.allowlist == {tool, other}
    (project,) = catalogue.projects
    assert project.name == "local" and project.programs == (tool, other)
    assert sh.make(tool, catalogue=catalogue)("x").project is project
    named = ProgramCatalogue.of(tool, project="tools", noise_rules=("^progress",))
    assert named.lookup(tool).project == ProjectSettings(
        name="tools", programs=(tool,), noise_rules=("^progress",)
    )


def test_unknown_program_error_says_how_to_add_the_program() -> None:
    with pytest.raises(UnknownProgramError) as caught:
        sh.make(Program("python3"))
    message = str(caught.value)
    assert message.startswith("python3: not in the program catalogue (known: ")
    assert "catalogue=ProgramCatalogue.of(prog)" in message
    assert "prog = Program('python3')" in message
    assert "programs of one of your catalogue's ProjectSettings" in message


def test_a_program_carries_a_display_name_that_changes_nothing_else() -> None:
    import pickle
    import sys

    python = Program(sys.executable, display_name="python")
    assert python == sys.executable and hash(python) == hash(sys.executable)
    assert python.display_name == "python"
    assert Program("echo").display_name == "echo" == ECHO.display_name
    assert pickle.loads(pickle.dumps(python)).display_name == "python"
    catalogue = ProgramCatalogue.of(python)
    # Looked up by its string, the catalogue's entry keeps the label.
    assert sh.make(Program(sys.executable), catalogue=catalogue).program.display_name == "python"
    with pytest.raises(TypeError, match="display_name"):
        Program("x", display_name="")
    with pytest.raises(TypeError, match="takes a str"):
        Program(3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("programs", "echo"),  # would be the programs 'e', 'c', 'h', 'o'
        ("programs", b"echo"),
        ("programs", ECHO),
        ("programs", 3),
        ("programs", ("echo", 3)),
        ("documentation_locations", "docs/tools.md"),
        ("noise_rules", "^progress"),
        ("noise_rules", (b"^progress",)),
    ],
)
def test_a_field_that_is_not_a_tuple_of_str_is_refused_naming_it(field: str, value: object) -> None:
    with pytest.raises(InvalidArgumentError, match=rf"^ProjectSettings 'tools': {field}"):
        ProjectSettings(**{"name": "tools", "programs": (ECHO,), field: value})  # type: ignore[arg-type]


def test_a_noise_rule_that_is_no_regular_expression_is_refused_when_the_project_is_made() -> None:
    with pytest.raises(InvalidArgumentError, match=r"noise rule '\(' is not a regular expression"):
        ProjectSettings(name="tools", programs=(ECHO,), noise_rules=("^ok", "("))


def test_lists_are_kept_as_tuples_so_projects_and_commands_stay_hashable() -> None:
    project = ProjectSettings(
        name="tools",
        programs=["cuprum-tool"],  # type: ignore[arg-type]
        documentation_locations=["docs/tools.md"],  # type: ignore[arg-type]
        noise_rules=["^progress"],  # type: ignore[arg-type]
    )
    assert project.programs == ("cuprum-tool",)
    assert isinstance(project.programs[0], Program)
    assert project.documentation_locations == ("docs/tools.md",)
    assert project.noise_rules == ("^progress",)
    cmd = sh.make(Program("cuprum-tool"), catalogue=ProgramCatalogue(projects=(project,)))("x")
    assert hash(cmd) == hash(dataclasses.replace(cmd))
    labelled = Program("cuprum-tool", display_name="tool")
    assert ProjectSettings(name="t", programs=(labelled,)).programs[0].display_name == "tool"


def test_a_program_listed_twice_by_one_project_is_refused_saying_so() -> None:
    with pytest.raises(ValueError, match="'echo' is listed twice by project 'a'"):
        ProgramCatalogue(projects=(ProjectSettings(name="a", programs=(ECHO, ECHO)),))


def test_make_refuses_what_is_not_a_program_or_a_catalogue() -> None:
    with pytest.raises(TypeError, match=r"sh.make\(\) takes a Program, got None"):
        sh.make(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^echo: sh.make\(catalogue=...\) takes a Program"):
        sh.make(ECHO, catalogue=None)  # type: ignore[arg-type]
