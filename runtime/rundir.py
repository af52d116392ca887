"""Where one run of the node keeps its working files, derived from the config.

Everything lives in `<directory of storage.path>/run/`, named by admin port so
that two nodes on one machine never share files:

- `node-<port>.json`: the run file (launcher pid, admin pid, session id, mock
  pid), used by the next start to find processes an earlier run left behind;
- `metrics-<port>/`: prometheus-client's multiprocess directory, emptied at
  every start;
- `mock-governance-<port>.out`: the local mock server's stdout.

This module imports nothing from prometheus_client on purpose: the launcher
must point `PROMETHEUS_MULTIPROC_DIR` at the fresh directory before the
client is first imported.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from nodeconfig import NodeConfig

METRICS_ENV = "PROMETHEUS_MULTIPROC_DIR"


@dataclass(frozen=True)
class RunPaths:
    directory: Path
    run_file: Path
    metrics_dir: Path
    mock_output: Path


def run_paths(config: NodeConfig) -> RunPaths:
    directory = Path(config.storage.path).parent / "run"
    port = config.actor_system.admin_port
    return RunPaths(
        directory=directory,
        run_file=directory / f"node-{port}.json",
        metrics_dir=directory / f"metrics-{port}",
        mock_output=directory / f"mock-governance-{port}.out",
    )


def prepare_metrics_dir(path: str | os.PathLike[str]) -> Path:
    """Empty (or create) `path` and make it this process tree's metrics directory."""
    directory = Path(path)
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ[METRICS_ENV] = str(directory)
    return directory
