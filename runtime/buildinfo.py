"""What build of the node is running: its version, git commit, Python and Thespian.

Read once per process (`build_facts`), for `alys_build_info`. The commit is
known only when the node runs from a git checkout with `git` on PATH; an
installed package has none rather than a guess.
"""

from __future__ import annotations

import functools
import importlib.metadata
import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path

UNKNOWN = "unknown"
DISTRIBUTION = "alys-node"
CHECKOUT = Path(__file__).resolve().parents[1]
GIT_TIMEOUT_S = 2.0
# A full SHA-1 or SHA-256 object name; anything else git prints is not a commit.
_COMMIT_LENGTHS = (40, 64)


@dataclass(frozen=True)
class BuildFacts:
    version: str
    commit: str  # UNKNOWN outside a git checkout
    python: str
    thespian: str


def distribution_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return UNKNOWN


def package_version() -> str:
    return distribution_version(DISTRIBUTION)


def git_commit(checkout: Path = CHECKOUT) -> str | None:
    """The commit the code runs from, if it runs from a git checkout; None otherwise."""
    try:
        result = subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"],
                                capture_output=True, text=True, timeout=GIT_TIMEOUT_S,
                                stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return full_object_name(result.stdout) if result.returncode == 0 else None


def full_object_name(text: str) -> str | None:
    """`text` if it is one full hexadecimal object name (surrounding blanks aside)."""
    commit = text.strip().lower()
    if len(commit) in _COMMIT_LENGTHS and all(c in "0123456789abcdef" for c in commit):
        return commit
    return None


@functools.cache
def build_facts() -> BuildFacts:
    return BuildFacts(version=package_version(), commit=git_commit() or UNKNOWN,
                      python=platform.python_version(),
                      thespian=distribution_version("thespian"))
