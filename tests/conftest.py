"""Test-wide setup that must happen before any project module is imported.

prometheus-client picks its multiprocess value class at import, from
`PROMETHEUS_MULTIPROC_DIR`: point it at a session directory now; each node a
test starts then moves its actors to a fresh directory of their own. The session
directory is removed when the run ends (one per run would pile up in /tmp).
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile

if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
    _metrics_dir = tempfile.mkdtemp(prefix="alys-test-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir
    atexit.register(shutil.rmtree, _metrics_dir, ignore_errors=True)


# Imported after the metrics directory is set (see above).
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import yaml

from harness.nodes import descendants, write_config
from harness.waiting import wait_until
from runtime.processes import listening_pid, session_members


@pytest.fixture
def config_path(tmp_path: Path) -> Iterator[Path]:
    """A config on free ports for `scripts/start`; afterwards, proof that nothing is left."""
    before = descendants()
    path = write_config(tmp_path)
    yield path
    admin_port = yaml.safe_load(path.read_text())["actor_system"]["admin_port"]
    pid = listening_pid(admin_port)
    if pid is not None:  # a failed test left a node: end its session, then fail below
        for member in session_members(os.getsid(pid)):
            psutil.Process(member).kill()
    wait_until(lambda: not (descendants() - before), timeout=20,
               message="the start script left processes behind")
    assert pid is None, f"a node was still running on admin port {admin_port}"


@pytest.fixture
def foreign() -> Iterator[subprocess.Popen[bytes]]:
    """An unrelated process, leader of its own session, as a pid reused after a crash."""
    process = subprocess.Popen(["sleep", "600"], start_new_session=True,
                               stdin=subprocess.DEVNULL)
    try:
        yield process
    finally:
        process.kill()
        process.wait(timeout=10)
