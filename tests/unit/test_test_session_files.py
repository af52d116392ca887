"""A test run leaves nothing in the temporary directory but pytest's own: the metrics
directory tests/conftest.py makes for the session is gone once the run ends."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_a_run_removes_its_metrics_directory(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env["TMPDIR"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         f"--basetemp={tmp_path / 'basetemp'}",
         "tests/unit/test_scripts_venv.py::test_with_venv_support_it_just_makes_the_venv"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=90,
        stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["basetemp"]
