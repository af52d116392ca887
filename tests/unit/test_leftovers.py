"""The leftovers check of `scripts/start` against run files that point at someone else's
processes: a stale run file must never make the launcher end a foreign session.

The foreign processes are real (`sleep` in a session of its own); each test ends
the ones it started, by pid."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from runtime.processes import is_alive, session_members
from supervision import runfile
from supervision.runfile import RunRecord


def write(path: Path, **fields: object) -> Path:
    runfile.write(path, RunRecord(**{"launcher_pid": 999_999_999, "admin_port": 19500,
                                     **fields}))  # type: ignore[arg-type]
    return path


def test_a_run_file_pointing_at_a_foreign_session_leaves_it_alone(
        tmp_path: Path, foreign: subprocess.Popen[bytes]) -> None:
    pid = foreign.pid
    started = runfile.started_at(pid)
    assert started is not None
    # Everything of the record points at the sleep, even the admin's start time: its
    # command line still does not carry the node's marker.
    path = write(tmp_path / "node-19500.json", session_id=pid, admin_pid=pid, mock_pid=pid,
                 node_id="alys-test", launcher_started=started, admin_started=started,
                 mock_started=started)

    result = runfile.clear_leftovers(path, config_source="node.yaml")

    assert result.ended == []
    assert is_alive(pid) and session_members(pid) == [pid]
    assert any(f"session {pid} is not the recorded node's" in note
               for note in result.left_alone)
    assert any(f"pid {pid} is not the recorded mock" in note for note in result.left_alone)
    assert not path.exists()  # stale: the new run writes its own


def test_a_session_whose_leader_started_after_the_recorded_admin_is_foreign(
        tmp_path: Path, foreign: subprocess.Popen[bytes]) -> None:
    # The pid was reused: same number, a later start. Even a process titled as the node's
    # would not pass; this one is not titled so either.
    earlier = (runfile.started_at(foreign.pid) or time.time()) - 3600
    path = write(tmp_path / "run.json", session_id=foreign.pid, admin_pid=foreign.pid,
                 node_id="alys-test", admin_started=earlier)

    result = runfile.clear_leftovers(path, config_source="node.yaml")

    assert result.ended == [] and is_alive(foreign.pid)
    assert result.left_alone


def test_a_foreign_process_under_a_recorded_launcher_pid_is_no_running_node(
        tmp_path: Path, foreign: subprocess.Popen[bytes]) -> None:
    path = write(tmp_path / "run.json", launcher_pid=foreign.pid,
                 launcher_started=runfile.started_at(foreign.pid))

    result = runfile.clear_leftovers(path, config_source="node.yaml")  # no RunConflictError

    assert is_alive(foreign.pid) and result.ended == []


def test_a_run_file_without_start_times_is_not_acted_on(
        tmp_path: Path, foreign: subprocess.Popen[bytes]) -> None:
    path = write(tmp_path / "run.json", session_id=foreign.pid, admin_pid=foreign.pid)

    result = runfile.clear_leftovers(path, config_source="node.yaml")

    assert result.ended == [] and is_alive(foreign.pid)
    assert "no start times" in result.left_alone[0]


def test_the_node_process_check_wants_the_marker_and_a_start_after_the_admin(
        foreign: subprocess.Popen[bytes]) -> None:
    started = runfile.started_at(foreign.pid)
    assert started is not None
    assert not runfile.is_node_process(foreign.pid, "alys-node[alys-test]", started)
    assert not runfile.is_node_process(foreign.pid, "sleep", started + 60)  # started before
    assert runfile.is_node_process(foreign.pid, "sleep", started)
