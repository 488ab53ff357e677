"""A directory tree with awkward names, and a way to compare trees."""

from __future__ import annotations

import os
from pathlib import Path

ODD_FILES = {
    "plain.txt": b"plain\n",
    "with space.txt": b"space\n",
    "za\u017c\u00f3\u0142\u0107 g\u0119\u015bl\u0105.txt": "unicode \u00fc\n".encode(),
    "\u6f22\u5b57/\u30d5\u30a1\u30a4\u30eb.txt": b"cjk\n",
    "-rf": b"leading dash\n",
    "--help": b"double dash\n",
    "--to-command=touch pwned": b"looks like a tar option\n",
    "-e touch pwned": b"looks like an rsync option\n",
    "host:name": b"colon\n",
    "nested/deeper/still/-leading dash": b"deep\n",
    "new\nline": b"newline in the name\n",
    "tab\tname": b"tab\n",
    "quote'\"": b"quotes\n",
    "*glob?[x]": b"glob characters\n",
    ".hidden": b"hidden\n",
    "binary.bin": bytes(range(256)) * 4,
}
EMPTY_DIRS = ("empty dir", "nested/empty")


def make_tree(root: Path) -> Path:
    """Create the odd tree under ``root`` and return ``root``."""
    for name, data in ODD_FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    for name in EMPTY_DIRS:
        (root / name).mkdir(parents=True, exist_ok=True)
    return root


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every entry under ``root``: relative name -> file bytes (``None`` for directories)."""
    entries: dict[str, bytes | None] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        base = Path(dirpath)
        for name in dirnames:
            entries[str((base / name).relative_to(root))] = None
        for name in filenames:
            path = base / name
            entries[str(path.relative_to(root))] = path.read_bytes()
    return entries
