"""Every relative link in README.md and docs/ points at a file that exists, and at a
heading that exists there (as GitHub names heading anchors); the docs name nothing a
reader cannot see (issue numbers, a development machine's paths)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"^(```|~~~).*?^\1", re.DOTALL | re.MULTILINE)
CODE_SPAN = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)", re.DOTALL)
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$", re.MULTILINE)


def _prose(text: str) -> str:
    """The text without fenced blocks and inline code, where links are not links."""
    return CODE_SPAN.sub("", FENCE.sub("", text))


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"`([^`]*)`", r"\1", heading)  # code spans keep their text
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links keep their text
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(doc: Path) -> set[str]:
    """Every heading anchor of ``doc``, with GitHub's -1, -2 suffixes for repeats."""
    seen: dict[str, int] = {}
    found: set[str] = set()
    for match in HEADING.finditer(FENCE.sub("", doc.read_text(encoding="utf-8"))):
        slug = github_anchor(match.group(2))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def _links() -> list[tuple[str, Path, str]]:
    found: list[tuple[str, Path, str]] = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for match in LINK.finditer(_prose(text)):
            target = match.group(1)
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ...
                continue
            found.append((f"{doc.relative_to(ROOT)} -> {target}", doc, target))
    return found


LINKS = _links()


def test_links_were_found() -> None:
    assert len(LINKS) >= 30, [where for where, _, _ in LINKS]


@pytest.mark.parametrize(("where", "doc", "target"), LINKS, ids=[w for w, _, _ in LINKS])
def test_relative_link_resolves(where: str, doc: Path, target: str) -> None:
    path, _, anchor = target.partition("#")
    dest = (doc.parent / path).resolve() if path else doc
    assert dest.exists(), f"{where}: no such file {dest}"
    assert dest.is_relative_to(ROOT), f"{where}: points outside the repository"
    if anchor:
        assert dest.suffix == ".md", f"{where}: an anchor into a file that is not Markdown"
        known = anchors(dest)
        assert anchor in known, f"{where}: no heading with anchor #{anchor} in {dest.name}"


def test_github_anchor_rules() -> None:
    assert github_anchor("Live streaming: `cmd.stream()`") == "live-streaming-cmdstream"
    assert github_anchor("Input (`stdin`)") == "input-stdin"
    assert github_anchor("Running many commands: `run_concurrent`") == (
        "running-many-commands-run_concurrent"
    )


UNSEEABLE = [
    (re.compile(r"(?<![\w&/])#\d+\b"), "an issue number"),
    (re.compile(r"\bissues? \d+\b", re.IGNORECASE), "an issue number"),
    (re.compile(r"/work/|/root/|/home/\w+"), "a development machine's path"),
    (re.compile(r"reference guide|original sketch", re.IGNORECASE), "a document readers lack"),
]


@pytest.mark.parametrize("doc", DOCS, ids=[str(d.relative_to(ROOT)) for d in DOCS])
def test_docs_name_nothing_a_reader_cannot_see(doc: Path) -> None:
    problems = [
        f"line {doc.read_text(encoding='utf-8').count(chr(10), 0, m.start()) + 1}: "
        f"{m.group(0)!r} ({why})"
        for pattern, why in UNSEEABLE
        for m in pattern.finditer(doc.read_text(encoding="utf-8"))
    ]
    assert not problems, problems
