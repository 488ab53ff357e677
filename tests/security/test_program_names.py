"""A program name no file can have (empty, or holding a NUL) is refused where the name
is taken, with the ``InvalidArgumentError`` a run of it gives, never a bare ValueError."""

from __future__ import annotations

import re

import pytest

from cuprum import InvalidArgumentError, Program, ProgramCatalogue, ProjectSettings
from cuprum._core import pinning


@pytest.mark.parametrize(
    ("name", "why"),
    [("ec\x00ho", "it holds a NUL byte, which no file name can"), ("", "it is empty")],
)
def test_a_catalogue_refuses_a_name_no_file_can_have(name: str, why: str) -> None:
    project = ProjectSettings("p", (Program(name),))
    with pytest.raises(InvalidArgumentError) as excinfo:
        ProgramCatalogue(projects=(project,))
    assert str(excinfo.value) == f"invalid program name {name!r} in ProjectSettings 'p': {why}"


@pytest.mark.parametrize("name", ["ec\x00ho", "/usr/bin/ec\x00ho", ""])
def test_pinning_refuses_a_name_no_file_can_have(name: str) -> None:
    with pytest.raises(InvalidArgumentError, match=re.escape(f"invalid program name {name!r}")):
        pinning.pin(Program(name), None)
    assert pinning.current_pin(Program(name), None) is None
