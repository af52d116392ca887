"""The repository's documentation points only into the repository, and never at a dead anchor.

Every relative markdown link in every `*.md` file must name a file or directory
that exists inside the repository and, with `#anchor`, a heading of that file.
Every `*.md` file a document or a Python file names in plain text must exist too:
the docs once pointed readers to files a clone does not contain. And Python files
cite docs/ pages, not sections of the top README, which keeps only the quick start,
the code's layout and the status (its sections moved to docs/ once already).

Anchors are GitHub's: the heading's text in lower case, markup dropped,
punctuation other than `-` and `_` removed, spaces made hyphens, and `-1`,
`-2`, … added to repeats.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# Not the repository's documents: environments, caches, what a run writes.
SKIPPED_DIRS = {".git", ".venv", "node_modules", "build", "data", "logs", "__pycache__"}

_FENCE = re.compile(r"^\s*(```|~~~)")
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)*?\1")
# [text](target "title"), the text may hold one level of brackets; an image is a link too.
_INLINE_LINK = re.compile(
    r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$")
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_EXTERNAL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")  # http:, https:, mailto:
# A path ending in .md, not inside a longer token: in a URL it follows a "/" and is skipped.
# "README, convention 8", "the README's conventions", "(README)": the top README, not configs/.
_README_SECTION = re.compile(r"(?<![\w./-])README(?:,|'s|\))")
_MD_MENTION = re.compile(r"(?<![\w./-])((?:[\w.-]+/)*[\w.-]+\.md)\b")


def markdown_files(root: Path) -> list[Path]:
    found: list[Path] = []

    def walk(directory: Path) -> None:
        for entry in sorted(directory.iterdir()):
            if entry.is_dir() and not entry.is_symlink():
                if entry.name not in SKIPPED_DIRS and not entry.name.startswith("."):
                    walk(entry)
            elif entry.suffix == ".md" and entry.is_file():
                found.append(entry)

    walk(root)
    return found


def prose_lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number, line) of what is not inside a fenced code block."""
    fenced = False
    for number, line in enumerate(text.splitlines(), 1):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield number, line


def slug(heading: str) -> str:
    """GitHub's anchor for a heading's text (before repeats are numbered)."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = text.replace("`", "").replace("*", "").lower()
    text = "".join(char for char in text if char.isalnum() or char in " -_")
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    seen: dict[str, int] = {}
    found: set[str] = set()
    for _, line in prose_lines(text):
        match = _HEADING.match(line)
        if match is None:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(text: str) -> Iterator[tuple[int, str]]:
    """(line number, target) of every link outside code."""
    for number, line in prose_lines(text):
        match = _REFERENCE_LINK.match(line)
        if match is not None:
            yield number, match.group(1)
            continue
        for link in _INLINE_LINK.finditer(_CODE_SPAN.sub("", line)):
            yield number, link.group(1)


def link_problems(document: Path, root: Path) -> list[str]:
    """What is wrong with each link of `document`: a target outside `root`, missing, or
    a `#anchor` its file has no heading for."""
    problems: list[str] = []
    where = document.relative_to(root)
    for number, target in links(document.read_text(encoding="utf-8")):
        if not target or _EXTERNAL.match(target):
            continue
        path_part, _, anchor = target.partition("#")
        if path_part.startswith("/"):
            problems.append(f"{where}:{number}: {target} is an absolute path; link within "
                            "the repository, relative to the document")
            continue
        resolved = (document.parent / path_part).resolve() if path_part else document
        if not resolved.is_relative_to(root):
            problems.append(f"{where}:{number}: {target} points outside the repository")
            continue
        if not resolved.exists():
            problems.append(f"{where}:{number}: {target}: no such file in the repository")
            continue
        if anchor and resolved.suffix == ".md":
            if anchor not in anchors(resolved.read_text(encoding="utf-8")):
                problems.append(f"{where}:{number}: {target}: "
                                f"{resolved.relative_to(root)} has no heading #{anchor}")
        elif anchor and not resolved.is_file():
            problems.append(f"{where}:{number}: {target}: an anchor into a directory")
    return problems


def mention_problems(source: Path, root: Path) -> list[str]:
    """`*.md` names in plain text (docstrings, comments, prose) that name no file of the
    repository, whether read from the repository's root or from the file's directory."""
    problems: list[str] = []
    text = source.read_text(encoding="utf-8")
    for number, line in enumerate(text.splitlines(), 1):
        named: set[str] = set()
        for mention in _MD_MENTION.finditer(line):
            name = mention.group(1)
            if name in named:
                continue
            named.add(name)
            candidates = ((root / name).resolve(), (source.parent / name).resolve())
            if not any(c.is_relative_to(root) and c.exists() for c in candidates):
                problems.append(f"{source.relative_to(root)}:{number}: names {name}, "
                                "which is not in the repository")
    return problems


def readme_citations(source: Path, root: Path) -> list[str]:
    """Lines of a Python file that cite a section of the top README."""
    text = source.read_text(encoding="utf-8")
    return [f"{source.relative_to(root)}:{number}: cites the README; cite the docs/ page"
            for number, line in enumerate(text.splitlines(), 1)
            if _README_SECTION.search(line)]


def python_files(root: Path) -> list[Path]:
    """Every Python file but this one, whose checks of the checker name files on purpose."""
    return [path for path in root.rglob("*.py")
            if not SKIPPED_DIRS.intersection(path.relative_to(root).parts)
            and not any(part.startswith(".") for part in path.relative_to(root).parts)
            and path.resolve() != Path(__file__).resolve()]


# -- the repository ------------------------------------------------------------------------


def test_every_markdown_link_resolves_inside_the_repository() -> None:
    documents = markdown_files(REPO)
    assert REPO / "README.md" in documents and REPO / "docs" / "README.md" in documents
    problems = [problem for document in documents for problem in link_problems(document, REPO)]
    assert problems == [], "\n".join(problems)


def test_every_markdown_file_named_in_docs_and_code_exists() -> None:
    sources = [*markdown_files(REPO), *python_files(REPO)]
    problems = [problem for source in sources for problem in mention_problems(source, REPO)]
    assert problems == [], "\n".join(problems)


def test_python_files_cite_docs_pages_not_readme_sections() -> None:
    problems = [problem for source in python_files(REPO)
                for problem in readme_citations(source, REPO)]
    assert problems == [], "\n".join(problems)


# -- the checker itself, on a repository of its own ----------------------------------------


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "guide.md").write_text(
        "# Guide\n\n## The root (`alys.root`)\n\n### 1. Session\n\n## Notes\n\n## Notes\n\n"
        "```\n## Not a heading\n```\n", encoding="utf-8")
    (tmp_path / "outside.md").write_text("# Outside\n", encoding="utf-8")
    return root


def _write(root: Path, text: str) -> Path:
    document = root / "README.md"
    document.write_text(text, encoding="utf-8")
    return document


@pytest.mark.parametrize("target", [
    "docs/guide.md", "docs/guide.md#guide", "docs/guide.md#the-root-alysroot",
    "docs/guide.md#1-session", "docs/guide.md#notes", "docs/guide.md#notes-1", "docs",
    "#readme", "https://thespianpy.com", "mailto:someone@example.org",
])
def test_links_that_resolve_pass(repo: Path, target: str) -> None:
    document = _write(repo, f"# Readme\n\nSee [there]({target}).\n")
    assert link_problems(document, repo) == []


@pytest.mark.parametrize(("target", "problem"), [
    ("docs/missing.md", "no such file"),
    ("docs/guide.md#not-a-heading", "has no heading #not-a-heading"),
    ("docs/guide.md#notes-2", "has no heading #notes-2"),
    ("#nowhere", "has no heading #nowhere"),
    ("../outside.md", "points outside the repository"),
    ("/work/shared/DESIGN.md", "is an absolute path"),
])
def test_links_that_do_not_resolve_are_named(repo: Path, target: str, problem: str) -> None:
    document = _write(repo, f"# Readme\n\nSee [there]({target}) and [ok](docs/guide.md).\n")
    problems = link_problems(document, repo)
    assert len(problems) == 1 and problem in problems[0] and "README.md:3:" in problems[0]


def test_links_in_code_are_not_links(repo: Path) -> None:
    document = _write(repo, "# Readme\n\n`[x](missing.md)`\n\n```\n[y](gone.md)\n```\n")
    assert link_problems(document, repo) == []


def test_reference_links_are_checked(repo: Path) -> None:
    document = _write(repo, "# Readme\n\nSee [guide][g].\n\n[g]: docs/gone.md\n")
    assert link_problems(document, repo) == [
        "README.md:5: docs/gone.md: no such file in the repository"]


def test_mentions_of_markdown_files_must_name_files_of_the_repository(repo: Path) -> None:
    source = repo / "module.py"
    source.write_text('"""See docs/guide.md and README.md."""\n# As CONTRACTS.md says.\n'
                      "# https://example.org/NOTES.md is not ours to check.\n",
                      encoding="utf-8")
    _write(repo, "# Readme\n")
    assert mention_problems(source, repo) == [
        "module.py:2: names CONTRACTS.md, which is not in the repository"]


def test_citations_of_readme_sections_are_found(repo: Path) -> None:
    source = repo / "module.py"
    source.write_text('"""Acks (README, convention 8)."""\n'
                      "# the README's conventions\n"
                      "# configs/README.md and docs/README.md are files; (docs/protocol.md)\n"
                      "# as the README) says\n", encoding="utf-8")
    assert readme_citations(source, repo) == [
        f"module.py:{line}: cites the README; cite the docs/ page" for line in (1, 2, 4)]
