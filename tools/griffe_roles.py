"""A griffe extension for the API reference: Sphinx roles in docstrings become code.

cuprum's docstrings say ``:class:`SafeCmd``` in places; Markdown would print the
role verbatim. This turns ``:role:`~pkg.Name``` into ``Name`` and
``:role:`target``` into ``target`` as inline code (the ``~`` and a leading
``.`` keep their Sphinx meaning: last component, relative name).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:class|mod|func|meth|attr|data|exc|obj|const):`([^`]+)`")


def _code(match: re.Match[str]) -> str:
    target = match.group(1).strip()
    if target.startswith("~"):
        target = target[1:].rsplit(".", 1)[-1]
    return f"`{target.lstrip('.')}`"


def plain_roles(text: str) -> str:
    """The docstring text with every Sphinx cross-reference role written as inline code."""
    return ROLE.sub(_code, text)


class SphinxRolesAsCode(griffe.Extension):
    """Rewrites each docstring as it is loaded, before mkdocstrings renders it."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = plain_roles(obj.docstring.value)
