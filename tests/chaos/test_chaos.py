"""Chaos on a node started by `scripts/start`: kill anything, under peg-out load; nothing is lost.

Outcome-based and bounded: every peg-out `scripts/chaos` sends is accepted and
reaches the spool file once (judged from the spool, not from the node's
counters); recovery bounds here are generous (the figures are measured by
`scripts/chaos` and `scripts/bench`, not asserted), and every test ends with
the launcher's SIGTERM and proof that no process is left.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import psutil
import pytest
import yaml

from harness.launcher import (
    REPO,
    Launched,
    launch,
    run_status,
    status_json,
    stop,
    wait_ready,
)
from harness.waiting import wait_until
from runtime.processes import listening_pid, session_members

pytestmark = pytest.mark.timeout(300)

CHAOS = REPO / "scripts" / "chaos"


def run_chaos(config_path: Path, tmp_path: Path, *args: str) -> tuple[int, dict]:
    report = tmp_path / "chaos.json"
    with (tmp_path / "chaos.out").open("wb") as sink:
        code = subprocess.run([str(CHAOS), "--config", str(config_path), "--json", str(report),
                               "--max-recovery-s", "30", *args], stdout=sink,
                              stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                              timeout=240).returncode
    return code, json.loads(report.read_text()) if report.exists() else {}


def assert_pegouts_complete(report: dict) -> None:
    """Each peg-out answered and accepted, each accepted one in the spool, no txid twice."""
    pegouts = report["requests"]
    assert pegouts["sent"] > 0
    assert pegouts["rejected"] == 0, pegouts["rejections"]
    assert pegouts["unanswered"] == 0 and pegouts["accepted"] == pegouts["sent"], pegouts
    assert pegouts["lost"] == 0 and pegouts["duplicated"] == 0, pegouts
    assert pegouts["broadcast"] == pegouts["accepted"], pegouts


def stream_processes(launched: Launched) -> list[int]:
    """The StreamActor processes of this node (its admin's session): there must be one."""
    admin = listening_pid(launched.config["actor_system"]["admin_port"])
    found = []
    for pid in session_members(os.getsid(admin)):
        title = " ".join(psutil.Process(pid).cmdline())
        if " stream (actors.stream" in title:
            found.append(pid)
    return found


def edit_config(path: Path, **sections: dict) -> None:
    document = yaml.safe_load(path.read_text())
    for key, value in sections.items():
        document.setdefault(key, {}).update(value)
    path.write_text(yaml.safe_dump(document))


@pytest.mark.parametrize("targets", ["storage,chain,bridge,stream",
                                     "storage_supervisor,system_supervisor,root"])
def test_random_kills_under_load_lose_nothing(
    config_path: Path, tmp_path: Path, targets: str
) -> None:
    wide = {"strategy": "one_for_one", "intensity": 100, "period_s": 60}
    edit_config(config_path, supervision={"supervisors": {
        name: wide for name in ("root", "storage_supervisor", "system_supervisor")}})
    launched = launch(config_path, tmp_path / "start.out")
    wait_ready(launched)
    code, report = run_chaos(config_path, tmp_path, "--faults", "8", "--seed", "11",
                             "--rate", "50", "--targets", targets)
    assert code == 0, (tmp_path / "chaos.out").read_text()
    assert report["faults"] == 8 and report["recovered"] == 8
    assert_pegouts_complete(report)
    assert len(stream_processes(launched)) == 1
    assert stop(launched) == 0


def test_a_hang_is_detected_and_the_actor_replaced(config_path: Path, tmp_path: Path) -> None:
    edit_config(config_path, supervision={"health": {"ping_interval_s": 0.2,
                                                     "ping_timeout_s": 1.0}})
    launched = launch(config_path, tmp_path / "start.out")
    wait_ready(launched)
    # Seed 3 hangs the bridge, then the chain: the peg-outs meet a frozen BridgeActor.
    code, report = run_chaos(config_path, tmp_path, "--faults", "2", "--seed", "3",
                             "--hang-ratio", "1", "--targets", "chain,bridge")
    assert code == 0, (tmp_path / "chaos.out").read_text()
    assert report["hangs"] == 2 and report["recovered"] == 2
    assert "hang bridge" in (tmp_path / "chaos.out").read_text()
    assert_pegouts_complete(report)
    assert "event=child_hung" in Path(launched.config["logging"]["file"]).read_text()
    assert stop(launched) == 0


def test_repeated_kills_escalate_to_the_root_and_the_launcher_restarts_the_tree(
    config_path: Path, tmp_path: Path
) -> None:
    edit_config(config_path, supervision={"supervisors": {
        "system_supervisor": {"strategy": "one_for_one", "intensity": 1, "period_s": 60},
        "root": {"strategy": "one_for_one", "intensity": 1, "period_s": 60}}})
    launched = launch(config_path, tmp_path / "start.out")
    wait_ready(launched)
    first_root = {a["name"]: a["pid"] for a in status_json(config_path)["actors"]}["root"]

    def actors_now() -> dict | None:
        # While the launcher replaces the root, status may say "try again".
        result = run_status(config_path, "--json")
        return ({a["name"]: a for a in json.loads(result.stdout)["actors"]}
                if result.returncode == 0 else None)

    def kill_stream_until_the_root_is_new() -> bool:
        actors = actors_now()
        if actors is None:
            return False
        if actors["root"]["pid"] != first_root and actors["root"]["restarts"] == 1:
            return True
        stream = actors.get("stream")  # not listed until its new supervisor reports it
        if stream is not None and stream["state"] == "running":
            os.kill(stream["pid"], signal.SIGKILL)
        return False

    wait_until(kill_stream_until_the_root_is_new, timeout=120, interval=0.3,
               message="the escalation never reached the launcher")
    wait_until(lambda: (actors := actors_now()) and all(
        a["state"] == "running" for a in actors.values()), timeout=60,
        message="the new tree did not start")
    log = Path(launched.config["logging"]["file"]).read_text()
    assert "event=intensity_exceeded supervisor=system_supervisor" in log
    assert "event=intensity_exceeded supervisor=root" in log
    assert "supervisor=launcher child=root reason=escalated decision=restart" in log
    assert len(stream_processes(launched)) == 1
    assert stop(launched) == 0


def test_a_killed_mock_governance_server_is_restarted_and_the_stream_reconnects(
    config_path: Path, tmp_path: Path
) -> None:
    launched = launch(config_path, tmp_path / "start.out")
    wait_ready(launched)
    control_port = launched.config["governance"]["mock"]["control_port"]
    wait_until(lambda: status_json(config_path)["stream"]["state"] == "connected", timeout=60,
               message="the stream never connected")
    mock_pid = listening_pid(control_port)
    os.kill(mock_pid, signal.SIGKILL)
    wait_until(lambda: listening_pid(control_port) not in (None, mock_pid), timeout=60,
               message="the mock governance server was not restarted")

    def reconnected() -> bool:
        stream = status_json(config_path)["stream"]
        return stream["state"] == "connected" and stream["reconnects"] >= 1

    wait_until(reconnected, timeout=120, message="the stream did not reconnect")
    session = os.getsid(listening_pid(launched.config["actor_system"]["admin_port"]))
    assert stop(launched) == 0
    wait_until(lambda: not session_members(session), timeout=20, message="processes left")
