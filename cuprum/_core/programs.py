"""The ``Program`` type and the curated program constants (no other imports: cheap)."""

from __future__ import annotations

from typing import NewType

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
]

Program = NewType("Program", str)
"""The name (or path) of an executable; a plain ``str`` at run time."""

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
