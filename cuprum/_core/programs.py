"""The ``Program`` type and the curated program constants (no other imports: cheap)."""

from __future__ import annotations

__all__ = [
    "CAT",
    "CP",
    "ECHO",
    "FALSE",
    "FIND",
    "GIT",
    "GREP",
    "HEAD",
    "LS",
    "MKDIR",
    "MV",
    "RM",
    "RSYNC",
    "SLEEP",
    "SORT",
    "TAIL",
    "TAR",
    "TRUE",
    "WC",
    "Program",
    "display_name",
    "name_problem",
]


class Program(str):
    """The name (or path) of an executable: a ``str`` with a type of its own.

    ``display_name`` is how telemetry (events, logs, metrics, spans) labels it:
    ``Program(sys.executable, display_name="python")`` runs the interpreter's path
    but is reported as ``python``, not as a virtualenv path. It defaults to the
    program itself. It is only a label: equality, hashing and the allowlist use
    the program string, so a catalogue lists a program once whatever its label.
    """

    __slots__ = ("_display_name",)
    _display_name: str | None

    def __new__(cls, program: str, display_name: str | None = None) -> Program:
        if not isinstance(program, str):
            raise TypeError(f"Program() takes a str, got {type(program).__name__}: {program!r}")
        if display_name is not None and (not isinstance(display_name, str) or not display_name):
            raise TypeError(f"{program}: display_name must be a non-empty str or None")
        self = super().__new__(cls, program)
        self._display_name = display_name
        return self

    @property
    def display_name(self) -> str:
        """The label telemetry uses: the ``display_name`` given, else the program."""
        return self._display_name or str(self)

    def __reduce__(self) -> tuple[type[Program], tuple[str, str | None]]:
        return (Program, (str(self), self._display_name))


def display_name(program: str) -> str:
    """``program``'s label for telemetry: its ``display_name`` if it is a :class:`Program`."""
    return program.display_name if isinstance(program, Program) else program


def name_problem(program: str) -> str | None:
    """Why ``program`` cannot name an executable file, or ``None`` when it can."""
    if not program:
        return "it is empty"
    if "\x00" in program:
        return "it holds a NUL byte, which no file name can"
    return None


ECHO = Program("echo")
LS = Program("ls")
CAT = Program("cat")
CP = Program("cp")
MV = Program("mv")
RM = Program("rm")
MKDIR = Program("mkdir")
FIND = Program("find")
GREP = Program("grep")
HEAD = Program("head")
TAIL = Program("tail")
SORT = Program("sort")
WC = Program("wc")
SLEEP = Program("sleep")
TRUE = Program("true")
FALSE = Program("false")
GIT = Program("git")
TAR = Program("tar")
RSYNC = Program("rsync")
