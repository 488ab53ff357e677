"""``SafeCmd`` and ``Pipeline``: immutable commands that run themselves via the runtime.

Both run through :class:`~cuprum._api.runnable.Runnable` (typed ``run``/``run_sync``/
``stream``) and may carry bound run options (:meth:`SafeCmd.with_options`).
``SafeCmdBuilder`` (from :func:`make`) turns Python values into argv, refusing the
ones it would silently mangle (:mod:`cuprum._api.arguments`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn, Self, Unpack

from cuprum._api.arguments import Arg, check_argv, shown, to_argv
from cuprum._api.runnable import Runnable
from cuprum._core.catalogue import DEFAULT_CATALOGUE, ProgramCatalogue, ProjectSettings
from cuprum._core.errors import InvalidArgumentError
from cuprum._core.programs import Program
from cuprum._model.results import CommandResult, PipelineResult
from cuprum._model.spec import CommandSpec

if TYPE_CHECKING:
    from cuprum._runtime.request import RunOptions

# The runtime's option helpers are imported where options are bound or piped:
# building commands never loads the runtime (`import cuprum` stays cheap).

__all__ = ["Pipeline", "SafeCmd", "SafeCmdBuilder", "make"]


class BoundOptions(Mapping[str, Any]):
    """The run options bound to a command, pipeline or builder: read-only, picklable."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, Any] | None = None) -> None:
        self._items: dict[str, Any] = dict(items) if items else {}

    def __getitem__(self, name: str) -> Any:
        return self._items[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:  # equal mappings have equal keys: a valid (coarse) hash
        return hash(frozenset(self._items))

    def __repr__(self) -> str:
        return f"BoundOptions({self._items!r})"

    def __reduce__(self) -> tuple[type[BoundOptions], tuple[dict[str, Any]]]:
        return (BoundOptions, (self._items,))


_NO_OPTIONS = BoundOptions()


def bind(who: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> Mapping[str, Any]:
    """``old`` with ``new`` bound over it, checked: only :class:`RunOptions` bind."""
    from cuprum._runtime.request import SHAPE_OPTIONS, check_option_names, check_switches
    from cuprum._runtime.validate import check_accept

    check_option_names(who, new)
    for name in new:
        if name in SHAPE_OPTIONS:
            raise TypeError(
                f"{who}: {name!r} cannot be bound: it decides the type of the result; "
                f"pass it to run(), run_sync() or stream()"
            )
    check_switches(who, new)  # as the run does, but when bound
    merged = {**old, **new}
    if merged.get("accept") is not None:
        merged["accept"] = check_accept(who, merged["accept"])
    return BoundOptions(merged)


@dataclass(frozen=True, slots=True)
class SafeCmd(
    Runnable[
        CommandResult[str, str],
        CommandResult[bytes, bytes],
        CommandResult[None, str],
        CommandResult[None, bytes],
        CommandResult[str, None],
        CommandResult[bytes, None],
        CommandResult[None, None],
        CommandResult[str | None, str | None],
        CommandResult[str | bytes | None, str | bytes | None],
    ]
):
    """An allowlisted program with its arguments and owning project. Immutable.

    ``cmd | other`` builds a :class:`Pipeline`. Running checks the active
    allowlist even for a directly constructed ``SafeCmd``, whose ``argv`` (a tuple;
    a list is copied into one) and ``project`` are checked when it is constructed,
    as a builder's are. ``options`` holds the run options bound with
    :meth:`with_options` (read-only).
    """

    program: Program
    argv: tuple[str, ...]
    project: ProjectSettings
    options: Mapping[str, Any] = field(default=_NO_OPTIONS, repr=False, hash=False, kw_only=True)

    def __post_init__(self) -> None:
        program, argv = self.program, self.argv
        if not isinstance(program, str) or not program or "\x00" in program:
            raise InvalidArgumentError(f"invalid program name {program!r}")
        if type(argv) is not tuple:
            argv = _argv_tuple(type(self).__name__, program, argv)
        checked = check_argv(program, argv)
        if checked is not self.argv:
            object.__setattr__(self, "argv", checked)
        if not isinstance(self.project, ProjectSettings):
            raise InvalidArgumentError(
                f"{type(self).__name__}({program}): project must be a ProjectSettings "
                f"(catalogue.lookup(program).project), got {_kind(self.project)}"
            )
        if self.options is not _NO_OPTIONS and self.options:
            object.__setattr__(self, "options", bind(self.program, _NO_OPTIONS, self.options))

    @property
    def argv_with_program(self) -> tuple[str, ...]:
        """``(program, *argv)``: what the operating system receives."""
        return (self.program, *self.argv)

    @property
    def accept(self) -> frozenset[int] | None:
        """The exit codes this command counts as success, if it declares them."""
        codes: frozenset[int] | None = self.options.get("accept")
        return codes

    def with_options(self, **options: Unpack[RunOptions]) -> Self:
        """This command with run options bound: every run uses them unless the call
        passes its own (``context`` is replaced as a whole, not merged).

        ``accept`` stays with this command inside a pipeline; the other options
        apply to the whole run of any pipeline it is part of. A subclass's own
        fields (a remote command's host) are kept.
        """
        bound = bind(self.program, self.options, options)
        if type(self) is SafeCmd:
            return SafeCmd(self.program, self.argv, self.project, options=bound)  # type: ignore[return-value]
        return dataclasses.replace(self, options=bound)

    def __or__(self, other: SafeCmd | Pipeline) -> Pipeline:
        if isinstance(other, SafeCmd):
            return Pipeline((self, other))  # what Pipeline((self,)) | other gives, at once
        if isinstance(other, Pipeline):
            return Pipeline((self,)) | other
        return NotImplemented  # `other` may know what `cmd | other` means

    def _stages(self) -> tuple[CommandSpec, ...]:
        return (self,)

    def _options(self) -> Mapping[str, Any]:
        return _NO_OPTIONS  # the runtime reads a stage's own options from the stage

    def _result(
        self, results: tuple[CommandResult[Any, Any], ...], failure: int | None
    ) -> CommandResult[Any, Any]:
        return results[0]


@dataclass(frozen=True, slots=True)
class Pipeline(
    Runnable[
        PipelineResult[str, str],
        PipelineResult[bytes, bytes],
        PipelineResult[None, str],
        PipelineResult[None, bytes],
        PipelineResult[str, None],
        PipelineResult[bytes, None],
        PipelineResult[None, None],
        PipelineResult[str | None, str | None],
        PipelineResult[str | bytes | None, str | bytes | None],
    ]
):
    """Commands whose stdout feeds the next one's stdin; build with ``a | b | c``.

    A pipeline runs with one set of options: those its stages bind (two stages
    binding different values of one option are refused when piped), then its own
    (:meth:`with_options`), then the call's.
    """

    parts: tuple[SafeCmd, ...]
    options: Mapping[str, Any] = field(default=_NO_OPTIONS, repr=False, hash=False, kw_only=True)

    def __post_init__(self) -> None:
        parts = self.parts
        if type(parts) is not tuple:
            parts = _parts_tuple(parts)
            object.__setattr__(self, "parts", parts)
        if not parts:
            raise InvalidArgumentError("Pipeline: parts must hold at least one command, got ()")
        for part in parts:
            if not isinstance(part, SafeCmd):
                _refuse_part(parts)
        if any(part.options for part in self.parts):
            from cuprum._runtime.request import merge_stage_options

            merge_stage_options(self.parts)  # conflicting options fail here, not at run
        if self.options is not _NO_OPTIONS and self.options:
            object.__setattr__(self, "options", bind(self._who, _NO_OPTIONS, self.options))

    @property
    def _who(self) -> str:
        return f"{self.parts[0].program} (first stage of a {len(self.parts)}-stage pipeline)"

    def with_options(self, **options: Unpack[RunOptions]) -> Pipeline:
        """This pipeline with run options bound (they win over its stages' own);
        ``accept`` here is for the stages that declare none."""
        return Pipeline(self.parts, options=bind(self._who, self.options, options))

    def __or__(self, other: SafeCmd | Pipeline) -> Pipeline:
        if isinstance(other, SafeCmd):
            return Pipeline((*self.parts, other), options=self.options)
        if isinstance(other, Pipeline):
            if self.options and other.options:
                clash = list(self.options.keys() & other.options.keys())
                if any(self.options[k] != other.options[k] for k in clash):
                    raise InvalidArgumentError(
                        f"{self._who}: both pipelines bind {', '.join(sorted(clash))}; "
                        "bind the options on the joined pipeline instead"
                    )
            return Pipeline(self.parts + other.parts, options={**other.options, **self.options})
        return NotImplemented

    def _stages(self) -> tuple[CommandSpec, ...]:
        return self.parts

    def _options(self) -> Mapping[str, Any]:
        return self.options

    def _result(
        self, results: tuple[CommandResult[Any, Any], ...], failure: int | None
    ) -> PipelineResult[Any, Any]:
        return PipelineResult(stages=results, failure_index=failure)


def _kind(value: object) -> str:
    """``'abc' (str)``: a short ``repr`` and the type, for a refusal's message."""
    return f"{shown(value)} ({type(value).__name__})"


def _argv_tuple(who: str, program: str, argv: object) -> tuple[str, ...]:
    """A list (or a tuple subclass) ``argv`` as a tuple: a command is immutable, and
    hashable; anything else (a ``str`` above all: one argument per character) refused."""
    if isinstance(argv, list | tuple):
        return tuple(argv)
    hint = f"; for one argument write ({shown(argv)},)" if isinstance(argv, str) else ""
    raise InvalidArgumentError(
        f"{who}({program}): argv must be a tuple of str, one item per argument, "
        f"got {_kind(argv)}{hint}"
    )


def _refuse_part(parts: tuple[object, ...]) -> NoReturn:
    """The first of ``parts`` that is not a command, named by its index."""
    index, part = next((i, p) for i, p in enumerate(parts) if not isinstance(p, SafeCmd))
    hint = "; join pipelines with a | b" if isinstance(part, Pipeline) else ""
    raise InvalidArgumentError(
        f"Pipeline: parts[{index}] must be a command (SafeCmd), got {_kind(part)}{hint}"
    )


def _parts_tuple(parts: object) -> tuple[SafeCmd, ...]:
    """A list of stages as a tuple, as for ``argv``; anything else refused."""
    if isinstance(parts, list | tuple):
        return tuple(parts)
    raise InvalidArgumentError(
        f"Pipeline: parts must be a tuple of commands (SafeCmd), got {_kind(parts)}; "
        "a | b builds one"
    )


class SafeCmdBuilder:
    """Builds :class:`SafeCmd` values for one catalogued program (from :func:`make`)."""

    __slots__ = ("options", "program", "project")

    def __init__(
        self,
        program: Program,
        project: ProjectSettings,
        options: Mapping[str, Any] = _NO_OPTIONS,
    ) -> None:
        self.program: Program = program
        self.project: ProjectSettings = project
        self.options: Mapping[str, Any] = (
            bind(program, _NO_OPTIONS, options) if options else _NO_OPTIONS
        )

    def __call__(self, *args: Arg, **flags: Arg) -> SafeCmd:
        """A command: positional args as given (paths via ``os.fspath``, numbers via
        ``str()``); ``flag_name=v`` becomes ``--flag-name=v``, after them.

        Raises :class:`InvalidArgumentError` naming the program and the argument for
        ``None``, a list, tuple, set, dict or other collection (it would be passed as
        its ``str()``), ``bytes``, a NUL byte, or text the OS cannot encode; and a
        keyword whose name is not ASCII letters, digits, ``_`` and ``-`` starting with
        a letter or digit (``a=b``, ``-x``, ``""``: not one flag and its value).
        """
        argv = to_argv(self.program, args, flags)
        return SafeCmd(self.program, argv, self.project, options=self.options)

    def with_options(self, **options: Unpack[RunOptions]) -> SafeCmdBuilder:
        """A builder whose commands carry these run options (see :meth:`SafeCmd.with_options`)."""
        return SafeCmdBuilder(self.program, self.project, bind(self.program, self.options, options))

    def __repr__(self) -> str:
        return f"<SafeCmdBuilder {self.program} ({self.project.name})>"


def make(
    program: Program,
    *,
    catalogue: ProgramCatalogue = DEFAULT_CATALOGUE,
    **options: Unpack[RunOptions],
) -> SafeCmdBuilder:
    """A builder for ``program``; raises :class:`UnknownProgramError` if not catalogued.

    ``options`` are bound to every command it builds, as with
    :meth:`SafeCmdBuilder.with_options`: ``sh.make(GREP, accept=(0, 1))``.
    """
    if not isinstance(program, str):
        raise TypeError(f"sh.make() takes a Program, got {program!r} ({type(program).__name__})")
    if not isinstance(catalogue, ProgramCatalogue):
        raise TypeError(
            f"{program}: sh.make(catalogue=...) takes a ProgramCatalogue, "
            f"got {catalogue!r} ({type(catalogue).__name__})"
        )
    entry = catalogue.lookup(program)
    return SafeCmdBuilder(entry.program, entry.project, options)
