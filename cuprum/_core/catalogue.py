"""Programs, projects and the allowlisted catalogue that maps one to the other.

The catalogue also holds the way to its programs' pins (:mod:`.pinning`):
:meth:`ProgramCatalogue.resolve`, :meth:`~ProgramCatalogue.refresh` and
:meth:`~ProgramCatalogue.pins`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from cuprum._core import pinning
from cuprum._core import programs as p
from cuprum._core.errors import InvalidArgumentError, SpawnError, UnknownProgramError
from cuprum._core.pinning import OnChange, Pin
from cuprum._core.programs import Program

__all__ = ["DEFAULT_CATALOGUE", "ProgramCatalogue", "ProgramEntry", "ProjectSettings"]


_NO_DIGESTS: Mapping[Program, str] = MappingProxyType({})
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class ProjectSettings:
    """A named group of programs with metadata that travels with their commands.

    How the project's programs are pinned (see ``docs/security.md``):
    ``search_path``: absolute directories to look bare program names up in, instead
    of the ``PATH`` in force when a program is first pinned (untrusted directories
    are still skipped). ``sha256``: program -> hex digest its file must match, checked
    when it is pinned and whenever the file changes. ``on_change``: what a run does
    when a pinned file changed: ``"reverify"`` (check it again and adopt it) or
    ``"refuse"``.
    """

    name: str
    programs: tuple[Program, ...]
    documentation_locations: tuple[str, ...] = ()
    noise_rules: tuple[str, ...] = ()
    search_path: tuple[str, ...] | None = None
    sha256: Mapping[Program, str] = field(default_factory=lambda: _NO_DIGESTS, hash=False)
    on_change: OnChange = "reverify"

    def __post_init__(self) -> None:
        who = f"ProjectSettings {self.name!r}"
        if not isinstance(self.name, str) or not self.name:
            raise InvalidArgumentError(f"{who}: name must be a non-empty str")
        programs = _strings(who, "programs", self.programs)
        object.__setattr__(
            self, "programs", tuple(n if isinstance(n, Program) else Program(n) for n in programs)
        )
        for label in ("documentation_locations", "noise_rules"):
            object.__setattr__(self, label, _strings(who, label, getattr(self, label)))
        for rule in self.noise_rules:
            try:
                re.compile(rule)
            except re.error as exc:
                raise InvalidArgumentError(
                    f"{who}: noise rule {rule!r} is not a regular expression: {exc}"
                ) from exc
        if self.search_path is not None:
            if isinstance(self.search_path, str) or not all(
                isinstance(d, str) for d in self.search_path
            ):
                raise InvalidArgumentError(
                    f"{who}: search_path must be a tuple of directories, got {self.search_path!r}"
                )
            for directory in self.search_path:
                if not os.path.isabs(directory):
                    raise InvalidArgumentError(
                        f"{who}: search_path entry {directory!r} is not an absolute directory"
                    )
            object.__setattr__(self, "search_path", tuple(self.search_path))
        if self.on_change not in ("reverify", "refuse"):
            raise InvalidArgumentError(
                f"{who}: on_change must be 'reverify' or 'refuse', got {self.on_change!r}"
            )
        if self.sha256 is not _NO_DIGESTS:
            object.__setattr__(self, "sha256", MappingProxyType(self._digests()))

    def __reduce__(self) -> tuple[Any, ...]:
        # A read-only mapping does not pickle: rebuild from a plain dict (commands
        # carry their project, and commands are values that pickle).
        return (
            type(self),
            (
                self.name,
                self.programs,
                self.documentation_locations,
                self.noise_rules,
                self.search_path,
                dict(self.sha256),
                self.on_change,
            ),
        )

    def _digests(self) -> dict[Program, str]:
        digests: dict[Program, str] = {}
        for program, digest in dict(self.sha256).items():
            if program not in self.programs:
                raise InvalidArgumentError(
                    f"ProjectSettings {self.name!r}: sha256 names {program!r}, "
                    "which is not one of its programs"
                )
            text = digest.lower() if isinstance(digest, str) else ""
            if not _SHA256.fullmatch(text):
                raise InvalidArgumentError(
                    f"{program}: ProjectSettings {self.name!r}: sha256 must be 64 hex "
                    f"digits, got {digest!r}"
                )
            digests[program] = text
        return digests


@dataclass(frozen=True, slots=True)
class ProgramEntry:
    """The result of a catalogue lookup: the program and the project that owns it."""

    program: Program
    project: ProjectSettings


class ProgramCatalogue:
    """An allowlist of programs, each owned by exactly one project."""

    __slots__ = ("_entries", "_projects")

    def __init__(self, projects: Iterable[ProjectSettings]) -> None:
        self._projects: dict[str, ProjectSettings] = {}
        self._entries: dict[Program, ProgramEntry] = {}
        for project in projects:
            if project.name in self._projects:
                raise ValueError(f"duplicate project name {project.name!r} in catalogue")
            self._projects[project.name] = project
            for program in project.programs:
                why = p.name_problem(program)
                if why is not None:
                    raise InvalidArgumentError(
                        f"invalid program name {program!r} in ProjectSettings "
                        f"{project.name!r}: {why}"
                    )
                if "/" in program and not os.path.isabs(program):
                    raise InvalidArgumentError(pinning.relative_message(program))
                owner = self._entries.get(program)
                if owner is not None and owner.project is project:
                    raise ValueError(
                        f"program {program!r} is listed twice by project {project.name!r}"
                    )
                if owner is not None:
                    raise ValueError(
                        f"program {program!r} is listed by both {owner.project.name!r} "
                        f"and {project.name!r}"
                    )
                self._entries[program] = ProgramEntry(program, project)

    @property
    def allowlist(self) -> frozenset[Program]:
        """Every program the catalogue knows."""
        return frozenset(self._entries)

    @property
    def projects(self) -> tuple[ProjectSettings, ...]:
        """The catalogue's projects, in the order given."""
        return tuple(self._projects.values())

    @classmethod
    def of(
        cls,
        *programs: Program,
        project: str = "local",
        documentation_locations: tuple[str, ...] = (),
        noise_rules: tuple[str, ...] = (),
    ) -> ProgramCatalogue:
        """A catalogue of one project holding ``programs``, in one line.

        ``ProgramCatalogue.of(PY, SH)`` is ``ProgramCatalogue(projects=(
        ProjectSettings(name="local", programs=(PY, SH)),))``.
        """
        settings = ProjectSettings(
            name=project,
            programs=programs,
            documentation_locations=documentation_locations,
            noise_rules=noise_rules,
        )
        return cls(projects=(settings,))

    def is_known(self, program: Program) -> bool:
        """Whether the catalogue lists ``program``."""
        return program in self._entries

    def lookup(self, program: Program) -> ProgramEntry:
        """Return the entry for ``program`` or raise :class:`UnknownProgramError`."""
        try:
            return self._entries[program]
        except KeyError:
            raise UnknownProgramError(_unknown(program, self._entries)) from None

    def visible_settings(self) -> Mapping[str, ProjectSettings]:
        """Project metadata by name, read-only, for services that propagate it."""
        return MappingProxyType(dict(self._projects))

    def resolve(self, *programs: Program) -> dict[Program, Pin]:
        """Pin each program now (default: all of the catalogue's) and return the pins.

        A program already pinned keeps its pin. Every program that can be pinned is;
        then the first failure (a ``SpawnError`` naming the program and path) is
        raised, with a note for each other one. Call it at start-up to fail early.
        """
        pins: dict[Program, Pin] = {}
        failures: list[Exception] = []
        for program in programs or tuple(self._entries):
            project = self.lookup(program).project
            try:
                pins[program] = pinning.pin(program, project)
            except (SpawnError, InvalidArgumentError) as exc:
                failures.append(exc)
        if failures:
            first = failures[0]
            for other in failures[1:]:
                first.add_note(str(other))
            raise first
        return pins

    def refresh(self, *programs: Program) -> dict[Program, Pin]:
        """Forget the pins of these programs (default: all), then :meth:`resolve` them:
        the way to pick up a program installed, moved or replaced since it was pinned."""
        chosen = programs or tuple(self._entries)
        for program in chosen:
            pinning.forget(program, self.lookup(program).project)
        return self.resolve(*chosen)

    def pins(self) -> dict[Program, Pin]:
        """The pins made so far for the catalogue's programs; nothing is looked up."""
        found = {
            program: pinning.current_pin(program, entry.project)
            for program, entry in self._entries.items()
        }
        return {program: pin for program, pin in found.items() if pin is not None}

    def __repr__(self) -> str:
        return f"ProgramCatalogue(projects={self.projects!r})"


def _strings(who: str, label: str, value: object) -> tuple[str, ...]:
    """``value`` as a tuple of ``str``; a lone string (which would be one item per
    character) or anything else is refused naming the project and the field."""
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidArgumentError(
            f"{who}: {label} must be a tuple of str, got {value!r} ({type(value).__name__})"
            + (f"; for one item write ({value!r},)" if isinstance(value, str) else "")
        )
    items = tuple(value)
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise InvalidArgumentError(
                f"{who}: {label}[{index}] must be a str, got {item!r} ({type(item).__name__})"
            )
    return items


def _unknown(program: str, known: Iterable[str]) -> str:
    """Why ``program`` cannot be built, and the two ways to make it known."""
    listed = ", ".join(sorted(known)) or "none"
    return (
        f"{program}: not in the program catalogue (known: {listed}). To run it, list it "
        f"in a catalogue and pass that to sh.make: "
        f"sh.make(prog, catalogue=ProgramCatalogue.of(prog)) with prog = Program({program!r}), "
        f"or add it to the programs of one of your catalogue's ProjectSettings"
    )


_CORE_OPS: tuple[Program, ...] = (
    p.ECHO,
    p.LS,
    p.CAT,
    p.CP,
    p.MV,
    p.RM,
    p.MKDIR,
    p.FIND,
    p.GREP,
    p.HEAD,
    p.TAIL,
)
_CORE_OPS += (p.SORT, p.WC, p.SLEEP, p.TRUE, p.FALSE)

DEFAULT_CATALOGUE = ProgramCatalogue(
    projects=(
        ProjectSettings(
            name="core-ops",
            programs=_CORE_OPS,
            documentation_locations=("https://www.gnu.org/software/coreutils/manual/",),
            noise_rules=(),
        ),
        ProjectSettings(
            name="vcs",
            programs=(p.GIT,),
            documentation_locations=("https://git-scm.com/docs",),
            noise_rules=(r"^remote: (Counting|Compressing|Enumerating) objects",),
        ),
        ProjectSettings(
            name="archive-sync",
            programs=(p.TAR, p.RSYNC),
            documentation_locations=(
                "https://www.gnu.org/software/tar/manual/",
                "https://download.samba.org/pub/rsync/rsync.1",
            ),
            noise_rules=(r"^sending incremental file list$",),
        ),
    )
)
"""The curated catalogue: coreutils-style tools, git, tar and rsync. No shells."""
