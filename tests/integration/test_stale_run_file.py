"""`scripts/start` with a stale run file whose pids now belong to someone else: the
foreign session is left alone, said on stderr and in the log, and the node starts; what
it writes is 0600 in 0700 directories."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from harness.launcher import launch, stop, wait_ready
from runtime.processes import is_alive, session_members
from supervision import runfile

pytestmark = pytest.mark.timeout(180)


def test_a_stale_run_file_pointing_at_a_foreign_session_leaves_it_alone(
        config_path: Path, tmp_path: Path, foreign: subprocess.Popen[bytes]) -> None:
    document = yaml.safe_load(config_path.read_text())
    port = document["actor_system"]["admin_port"]
    run_dir = Path(document["storage"]["path"]).parent / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    started = runfile.started_at(foreign.pid)
    # As if the node's admin had been pid `foreign.pid`, in session `foreign.pid`, and the
    # machine had since given that pid to an unrelated program (with a start time of its own).
    runfile.write(run_dir / f"node-{port}.json", runfile.RunRecord(
        launcher_pid=foreign.pid, admin_port=port, session_id=foreign.pid,
        admin_pid=foreign.pid, node_id=document["node"]["id"],
        launcher_started=(started or 0) - 100, admin_started=(started or 0) - 100))

    launched = launch(config_path, tmp_path / "start.out")
    wait_ready(launched)

    assert is_alive(foreign.pid) and session_members(foreign.pid) == [foreign.pid]
    assert f"left alone: session {foreign.pid} is not the recorded node's" in launched.text()
    log = Path(document["logging"]["file"]).read_text()
    assert f"left alone: session {foreign.pid}" in log
    assert stop(launched) == 0
    assert is_alive(foreign.pid)
    # And what this run wrote (database, spool, logs, run files, the mock's output) is
    # its user's alone.
    written = [path for top in (run_dir.parent, Path(document["logging"]["file"]).parent)
               for path in (top, *top.rglob("*"))]
    assert any(path.name.startswith("mock-governance-") for path in written)
    wrong = {str(path): oct(stat.S_IMODE(path.stat().st_mode)) for path in written
             if stat.S_IMODE(path.stat().st_mode) != (0o700 if path.is_dir() else 0o600)}
    assert wrong == {}
