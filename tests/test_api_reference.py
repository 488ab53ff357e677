"""The API reference (docs/reference/, built by ``nox -s docs``) covers the public API.

Every name in ``cuprum.__all__`` and ``cuprum.testing.__all__``, ``cuprum.builders`` and
each adapter module has a ``::: name`` directive, every directive names something that
exists, and every page is in the site's navigation. The build itself (mkdocs, strict)
runs in ``nox -s docs``.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import cuprum
import cuprum.adapters
import cuprum.remote
import cuprum.testing

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "docs" / "reference"
DIRECTIVE = re.compile(r"^::: *(\S+)", re.MULTILINE)


def _directives() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for page in sorted(REFERENCE.glob("*.md")):
        for match in DIRECTIVE.finditer(page.read_text(encoding="utf-8")):
            found[match.group(1)] = page
    return found


DIRECTIVES = _directives()
ADAPTER_MODULES = sorted(
    f"cuprum.adapters.{m.name}"
    for m in pkgutil.iter_modules(cuprum.adapters.__path__)
    if not m.name.startswith("_")
)


@pytest.mark.parametrize("name", sorted(cuprum.__all__))
def test_every_public_name_is_in_the_reference(name: str) -> None:
    assert f"cuprum.{name}" in DIRECTIVES, f"add '::: cuprum.{name}' to a page in docs/reference/"


@pytest.mark.parametrize("name", sorted(cuprum.remote.__all__))
def test_every_remote_name_is_in_the_reference(name: str) -> None:
    documented = {f"cuprum.remote.{name}", f"cuprum.{name}"} & set(DIRECTIVES)
    assert documented, f"add '::: cuprum.remote.{name}' to a page"


@pytest.mark.parametrize(
    "module",
    ["cuprum.builders", "cuprum.adapters", "cuprum.remote", *ADAPTER_MODULES, "cuprum.testing"],
)
def test_every_public_package_is_in_the_reference(module: str) -> None:
    assert module in DIRECTIVES, f"add '::: {module}' to a page in docs/reference/"


@pytest.mark.parametrize("name", sorted(cuprum.testing.__all__))
def test_every_testing_name_is_in_the_reference(name: str) -> None:
    assert f"cuprum.testing.{name}" in DIRECTIVES, f"add '::: cuprum.testing.{name}'"


def _resolve(dotted: str) -> object:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:]:
            target = getattr(target, attribute)
        return target
    raise ImportError(dotted)


@pytest.mark.parametrize("dotted", sorted(DIRECTIVES))
def test_every_directive_names_something_that_exists(dotted: str) -> None:
    assert dotted.startswith("cuprum"), dotted
    _resolve(dotted)


def test_every_page_is_in_the_site_navigation() -> None:
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    pages = sorted((ROOT / "docs").rglob("*.md"))
    assert len(pages) >= 10
    missing = [
        str(page.relative_to(ROOT / "docs"))
        for page in pages
        if f" {page.relative_to(ROOT / 'docs').as_posix()}\n" not in config
    ]
    assert not missing, f"pages missing from the nav in mkdocs.yml: {missing}"
