"""Run `scripts/bench` as a user would, for the tests that check its sections end to end."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from harness.mock import REPO_ROOT, project_env


def run_bench(tmp_path: Path, *args: str, timeout: float = 150) -> tuple[str, dict[str, Any]]:
    """`scripts/bench ARGS --json FILE`: its output and its JSON; fails the test if it fails."""
    result = tmp_path / "bench.json"
    output = tmp_path / "bench.out"
    # The node's admin daemonizes and inherits stdout: a pipe here would never close.
    with output.open("wb") as sink:
        completed = subprocess.run(
            [str(REPO_ROOT / "scripts" / "bench"), *args, "--json", str(result)],
            cwd=REPO_ROOT, env=project_env(), stdout=sink, stderr=subprocess.STDOUT,
            timeout=timeout, check=False)
    text = output.read_text(errors="replace")
    assert completed.returncode == 0, text
    document: dict[str, Any] = json.loads(result.read_text())
    return text, document
