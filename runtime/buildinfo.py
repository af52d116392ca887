"""What build of the node is running: its version, git commit, Python and Thespian.

Read once per process (`build_facts`), for `alys_build_info`. The commit is
known only when the node runs from a git checkout with `git` on PATH; an
installed package says `unknown` rather than guessing.
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
GIT_TIMEOUT_S = 2.0
# A full SHA-1 or SHA-256 object name; anything else git prints is not a commit.
_COMMIT_LENGTHS = (40, 64)


@dataclass(frozen=True)
class BuildFacts:
    version: str
    commit: str
    python: str
    thespian: str


def _distribution_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return UNKNOWN


def _git_commit(checkout: Path) -> str:
    try:
        result = subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"],
                                capture_output=True, text=True, timeout=GIT_TIMEOUT_S,
                                stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return UNKNOWN
    return commit_or_unknown(result.stdout if result.returncode == 0 else "")


def commit_or_unknown(text: str) -> str:
    """`text` if it is one full hexadecimal object name (surrounding blanks aside)."""
    commit = text.strip().lower()
    if len(commit) in _COMMIT_LENGTHS and all(c in "0123456789abcdef" for c in commit):
        return commit
    return UNKNOWN


@functools.cache
def build_facts() -> BuildFacts:
    checkout = Path(__file__).resolve().parents[1]
    return BuildFacts(version=_distribution_version(DISTRIBUTION),
                      commit=_git_commit(checkout),
                      python=platform.python_version(),
                      thespian=_distribution_version("thespian"))
