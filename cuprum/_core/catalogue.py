"""Programs, projects and the allowlisted catalogue that maps one to the other."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from cuprum._core import programs as p
from cuprum._core.errors import UnknownProgramError
from cuprum._core.programs import Program

__all__ = ["DEFAULT_CATALOGUE", "ProgramCatalogue", "ProgramEntry", "ProjectSettings"]


@dataclass(frozen=True, slots=True)
class ProjectSettings:
    """A named group of programs with metadata that travels with their commands."""

    name: str
    programs: tuple[Program, ...]
    documentation_locations: tuple[str, ...] = ()
    noise_rules: tuple[str, ...] = ()


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
                owner = self._entries.get(program)
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

    def __repr__(self) -> str:
        return f"ProgramCatalogue(projects={self.projects!r})"


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
