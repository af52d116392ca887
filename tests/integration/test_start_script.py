"""`scripts/start` and `scripts/status` as an operator runs them, in real subprocesses.

The launcher's stdout goes to a file, never a pipe: the daemonized Thespian
admin inherits it, and a captured pipe would never reach end-of-file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest
import yaml

from harness.launcher import (
    START,
    http_get,
    launch,
    run_status,
    status_json,
    stop,
    wait_ready,
)
from harness.waiting import wait_until
from runtime.processes import is_alive, listening_pid, session_members

pytestmark = pytest.mark.timeout(180)

def test_start_prints_ready_status_reports_and_sigterm_leaves_nothing(
    config_path: Path, tmp_path: Path
) -> None:
    launched = launch(config_path, tmp_path / "start.out")
    line = wait_ready(launched)
    cfg = launched.config
    metrics_url = f"http://127.0.0.1:{cfg['metrics']['port']}/metrics"
    assert line == (f"ready: admin_port={cfg['actor_system']['admin_port']} metrics={metrics_url} "
                    f"log={cfg['logging']['file']} pid={launched.process.pid}")

    report = status_json(config_path)
    assert report["node_id"] == "alys-test"
    assert [a["name"] for a in report["actors"]] == [
        "root", "storage_supervisor", "storage", "system_supervisor", "chain", "bridge", "stream"]
    assert {a["state"] for a in report["actors"]} == {"running"}
    assert set(report["actors"][0]) == {"name", "pid", "state", "restarts", "uptime_s",
                                        "supervisor"}
    # the launcher's own mock governance server is the stream's endpoint
    wait_until(lambda: status_json(config_path)["stream"]["state"] == "connected", timeout=30,
               message="the stream did not connect to the local mock governance server")
    assert set(report["stream"]) == {"state", "endpoint", "connected_since", "last_heartbeat_ack",
                                     "messages_sent", "messages_received", "buffered", "pending",
                                     "reconnects", "circuit", "unhandled", "reason", "last_error"}
    human = run_status(config_path)
    assert human.returncode == 0 and "stream" in human.stdout

    assert http_get(metrics_url.replace("/metrics", "/healthz"))[0] == 200
    wait_until(lambda: http_get(metrics_url.replace("/metrics", "/readyz"))[0] == 200,
               timeout=30, message="/readyz never answered 200")
    code, body = http_get(metrics_url)
    assert code == 200 and 'alys_actor_up{actor="stream"} 1.0' in body

    pids = {a["name"]: a["pid"] for a in report["actors"]}
    os.kill(pids["bridge"], signal.SIGKILL)

    def bridge_restarted() -> dict | None:
        bridge = {a["name"]: a for a in status_json(config_path)["actors"]}["bridge"]
        return bridge if bridge["pid"] != pids["bridge"] and bridge["restarts"] == 1 else None

    bridge = wait_until(bridge_restarted, timeout=30, message="bridge was not restarted")
    log = Path(cfg["logging"]["file"]).read_text()
    assert (f"child=bridge reason=killed decision=restart attempt=1 old_pid={pids['bridge']} "
            f"new_pid={bridge['pid']}") in log
    wait_until(lambda: 'alys_actor_restarts_total{actor="bridge"} 1.0' in http_get(metrics_url)[1],
               timeout=10, message="the restart was not counted in /metrics")

    mock_pid = listening_pid(cfg["governance"]["mock"]["control_port"])
    session = os.getsid(pids["root"])
    assert stop(launched) == 0
    wait_until(lambda: not session_members(session), timeout=20,
               message="actor processes outlived the launcher")
    assert mock_pid is not None and not is_alive(mock_pid)
    assert not (tmp_path / "data" / "run" / f"node-{cfg['actor_system']['admin_port']}.json"
                ).exists()


def test_status_without_a_node_says_so_and_starts_no_actor_system(config_path: Path) -> None:
    admin_port = yaml.safe_load(config_path.read_text())["actor_system"]["admin_port"]
    result = run_status(config_path, "--json")
    assert result.returncode == 1
    assert f"no alys node is running: nothing listens on admin port {admin_port}" in result.stderr
    assert "Traceback" not in result.stderr
    assert listening_pid(admin_port) is None


def test_start_with_a_bad_config_names_file_key_and_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("actor_system:\n  admin_prot: 19500\n")
    result = subprocess.run([str(START), "--config", str(bad)], capture_output=True, text=True,
                            timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 2
    assert str(bad) in result.stderr and "actor_system.admin_prot" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_second_start_of_a_running_node_is_refused(config_path: Path, tmp_path: Path) -> None:
    first = launch(config_path, tmp_path / "first.out")
    wait_ready(first)
    second = subprocess.run([str(START), "--config", str(config_path)], capture_output=True,
                            text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert second.returncode == 1
    assert f"launcher pid {first.process.pid}" in second.stderr
    assert status_json(config_path)["node_id"] == "alys-test"  # the first one is untouched
    assert stop(first) == 0


@pytest.mark.parametrize("victims", ["launcher", "launcher+admin"])
def test_start_after_a_crashed_run_ends_its_leftovers_and_runs(
    config_path: Path, tmp_path: Path, victims: str
) -> None:
    first = launch(config_path, tmp_path / "first.out")
    wait_ready(first)
    admin_pid = listening_pid(first.config["actor_system"]["admin_port"])
    session = os.getsid(admin_pid)
    os.kill(first.process.pid, signal.SIGKILL)  # the launcher dies without cleaning up
    first.process.wait(timeout=10)
    if victims == "launcher+admin":
        os.kill(admin_pid, signal.SIGKILL)  # Thespian then leaves its logger (and more) behind
    else:
        # the whole tree lives on, holding the admin port
        assert len(session_members(session)) >= 9  # admin, logger, seven actors

    second = launch(config_path, tmp_path / "second.out")
    wait_ready(second)
    assert not session_members(session), "processes of the first run survived the second start"
    if victims == "launcher":
        assert "left by an earlier run" in second.text()
    assert len(status_json(config_path)["actors"]) == 7
    assert stop(second) == 0


def test_the_launcher_replaces_a_killed_root_with_a_fresh_tree(
    config_path: Path, tmp_path: Path
) -> None:
    launched = launch(config_path, tmp_path / "start.out")
    wait_ready(launched)
    before = {a["name"]: a["pid"] for a in status_json(config_path)["actors"]}
    os.kill(before["root"], signal.SIGKILL)

    def replaced() -> dict | None:
        result = run_status(config_path, "--json")
        if result.returncode != 0:
            return None
        actors = {a["name"]: a for a in json.loads(result.stdout)["actors"]}
        fresh = (len(actors) == 7 and actors["root"]["restarts"] == 1
                 and all(a["state"] == "running" for a in actors.values()))
        return actors if fresh else None

    actors = wait_until(replaced, timeout=60, message="the root was not replaced")
    assert all(actors[name]["pid"] != pid for name, pid in before.items())
    assert all(not is_alive(pid) for pid in before.values())
    line = (f"supervision event=restart supervisor=launcher child=root reason=killed "
            f"decision=restart attempt=1 old_pid={before['root']} "
            f"new_pid={actors['root']['pid']}")
    log = Path(launched.config["logging"]["file"])
    wait_until(lambda: line in log.read_text(), timeout=30, message=f"no line: {line}")
    assert launched.process.poll() is None
    assert stop(launched) == 0


def test_the_launcher_ends_everything_and_fails_when_the_admin_dies(
    config_path: Path, tmp_path: Path
) -> None:
    launched = launch(config_path, tmp_path / "start.out")
    wait_ready(launched)
    admin_port = launched.config["actor_system"]["admin_port"]
    admin_pid = listening_pid(admin_port)
    session = os.getsid(admin_pid)
    os.kill(admin_pid, signal.SIGKILL)
    assert launched.process.wait(timeout=60) == 1
    assert "admin" in launched.text() and "died" in launched.text()
    wait_until(lambda: not session_members(session), timeout=20,
               message="processes of the node outlived the launcher")
