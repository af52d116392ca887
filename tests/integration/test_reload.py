"""Reloading the config of a node run by `scripts/start`: SIGHUP and `scripts/ctl reload`
apply the log level and the peg-out limits at once, refuse all of a reload that changes a
key needing a restart, refuse an invalid file, and `/info` shows the effective config
without a secret in it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.launcher import REPO, http_get, launch, run_status, status_json, stop, wait_ready
from harness.mock import start_mock_governance
from harness.nodes import log_text
from harness.pegouts import Federation, unsigned_pegout
from harness.stream import stream_node, wait_state
from harness.waiting import wait_until

pytestmark = pytest.mark.timeout(180)
CTL = REPO / "scripts" / "ctl"
LOCAL_MODE = Federation("local-dev")  # what the launcher's own mock signs as
UNREACHABLE_PORT = 1  # nothing listens there: the height source keeps failing, and logs it
USER, PASSWORD, API_KEY = "canary-user-8Kq", "canary-pass-2Wz", "canary-apikey-5Yt"


def ctl(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CTL), "--config", str(config), *args], capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)


def edit(config: Path, change: dict[str, Any]) -> None:
    """Merge `change` into the file, section by section."""
    document = yaml.safe_load(config.read_text())
    for section, values in change.items():
        if isinstance(values, dict):
            merged = document.setdefault(section, {})
            for key, value in values.items():
                if isinstance(value, dict):
                    merged.setdefault(key, {}).update(value)
                else:
                    merged[key] = value
        else:
            document[section] = values
    config.write_text(yaml.safe_dump(document, sort_keys=False))


def info(config: Path) -> dict[str, Any]:
    port = yaml.safe_load(config.read_text())["metrics"]["port"]
    code, body = http_get(f"http://127.0.0.1:{port}/info")
    assert code == 200, body
    document: dict[str, Any] = json.loads(body)
    return document


def submit(config: Path, directory: Path, request_id: str, seed: int
           ) -> subprocess.CompletedProcess[str]:
    request = unsigned_pegout(request_id, LOCAL_MODE.script, seed)
    path = directory / f"{request_id}.json"
    path.write_text(json.dumps({"request_id": request_id, "tx_hex": request.tx_hex,
                                "input_indices": list(request.input_indices),
                                "amounts": list(request.amounts)}))
    return ctl(config, "pegouts", "submit", str(path))


def test_reload_applies_at_once_all_or_nothing_and_info_shows_no_secret(
        config_path: Path, tmp_path: Path) -> None:
    edit(config_path, {"chain": {"height_source": {
        "kind": "evm_rpc",
        "rpc_url": f"http://{USER}:{PASSWORD}@127.0.0.1:{UNREACHABLE_PORT}/?apikey={API_KEY}"}}})
    launched = launch(config_path, tmp_path / "start.out")
    log = Path(launched.config["logging"]["file"])
    try:
        wait_ready(launched)
        first = info(config_path)
        assert first["node_id"] == "alys-test" and first["version"]
        assert first["config"]["logging"]["level"] == "INFO"
        assert first["uptime_s"] >= 0 and "federation_version" in first and "height" in first
        assert first["build"]["commit"] is None or len(first["build"]["commit"]) in (40, 64)
        shown = json.dumps(first)
        assert [c for c in (USER, PASSWORD, API_KEY) if c in shown] == []
        assert "http://***@127.0.0.1:1/?apikey=***" in shown
        assert submit(config_path, tmp_path, "before", seed=601).returncode == 0

        # The log level and a peg-out limit, through scripts/ctl: in force at once.
        edit(config_path, {"logging": {"level": "DEBUG"},
                           "bridge": {"policy": {"max_payout_sat": 1}}})
        reloaded = ctl(config_path, "--json", "reload")
        assert reloaded.returncode == 0, reloaded.stderr
        assert json.loads(reloaded.stdout)["applied"] == ["bridge.policy.max_payout_sat",
                                                          "logging.level"]
        over = submit(config_path, tmp_path, "after", seed=602)
        assert over.returncode == 1 and over.stderr.startswith("error code: payout_high")
        wait_until(lambda: info(config_path)["config"]["logging"]["level"] == "DEBUG",
                   timeout=15, message="/info never showed the reloaded level")
        wait_until(lambda: "reloaded config in force: bridge.policy.max_payout_sat, "
                   "logging.level" in log.read_text(), timeout=15,
                   message="the reload was not logged")

        # A key that needs a restart beside one that would not: nothing applied.
        in_force = config_path.read_text()
        metrics_port = launched.config["metrics"]["port"]
        edit(config_path, {"logging": {"level": "INFO"}, "metrics": {"port": metrics_port + 1},
                           "storage": {"max_size_mb": 4096}})
        refusal = ctl(config_path, "reload")
        assert refusal.returncode == 1
        assert refusal.stderr == ("error code: restart_needed\nerror message:\nnot applied: "
                                  "these keys changed and need a restart: metrics.port, "
                                  "storage.max_size_mb\n")
        config_path.write_text(in_force)
        assert info(config_path)["config"]["logging"]["level"] == "DEBUG"

        # An invalid file: scripts/ctl cannot use it either (a usage error: the node is not
        # asked); SIGHUP has the root refuse it with the loader's error, nothing changed.
        edit(config_path, {"logging": {"level": "LOUD"}})
        invalid = ctl(config_path, "reload")
        assert invalid.returncode == 2 and "logging.level: unknown value 'LOUD'" in invalid.stderr
        os.kill(launched.process.pid, signal.SIGHUP)
        wait_until(lambda: "config reload refused: the file is invalid, nothing changed: " in
                   log.read_text(), timeout=30, message="the invalid file was not refused")
        assert "logging.level: unknown value 'LOUD'" in log.read_text()
        assert info(config_path)["config"]["logging"]["level"] == "DEBUG"

        # SIGHUP to the launcher does the same as scripts/ctl reload.
        edit(config_path, {"logging": {"level": "WARNING"}})
        os.kill(launched.process.pid, signal.SIGHUP)
        wait_until(lambda: info(config_path)["config"]["logging"]["level"] == "WARNING",
                   timeout=30, message="SIGHUP did not reload the level")
        assert info(config_path)["config_reloaded_at"] is not None
        assert launched.process.poll() is None
    finally:
        assert stop(launched) == 0
    text = log.read_text() + (tmp_path / "start.out").read_text()
    assert [c for c in (USER, PASSWORD, API_KEY) if c in text] == []
    assert "config reload refused" in text


def test_a_reload_by_ctl_outlives_a_root_killed_before_the_launcher_heard_of_it(
        config_path: Path, tmp_path: Path) -> None:
    # The launcher asks the root every 5 s: the root is killed long before it asks next,
    # so what tells the launcher of the reload is only read once the root is gone.
    edit(config_path, {"supervision": {"health": {"ping_interval_s": 5}}})
    launched = launch(config_path, tmp_path / "start.out")
    try:
        wait_ready(launched)
        root = next(a["pid"] for a in status_json(config_path)["actors"] if a["name"] == "root")
        edit(config_path, {"logging": {"level": "DEBUG"}})
        assert ctl(config_path, "reload").returncode == 0
        os.kill(root, signal.SIGKILL)

        def replaced() -> bool:
            result = run_status(config_path, "--json")
            actors = json.loads(result.stdout)["actors"] if result.returncode == 0 else []
            return len(actors) == 7 and all(a["state"] == "running" for a in actors) and \
                next(a["pid"] for a in actors if a["name"] == "root") != root

        wait_until(replaced, timeout=60, message="the root was not replaced")
        # The new tree was started with the reloaded config: the file, read again, changes
        # nothing; and the launcher's own view (/info) has it.
        again = ctl(config_path, "--json", "reload")
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout)["applied"] == []
        assert info(config_path)["config"]["logging"]["level"] == "DEBUG"
    finally:
        assert stop(launched) == 0


def test_reloaded_governance_endpoints_take_over_at_once(tmp_path: Path) -> None:
    mock = start_mock_governance(tmp_path / "mock")
    try:
        with stream_node(tmp_path / "node", [f"127.0.0.1:{UNREACHABLE_PORT}"]) as node:
            config = Path(node.config.source)
            wait_until(lambda: node.client.connection_status().last_error, timeout=30,
                       message="the stream never failed to reach port 1")
            document = yaml.safe_load(config.read_text())
            document["governance"]["endpoints"] = [{"url": mock.target, "priority": 5}]
            config.write_text(yaml.safe_dump(document, sort_keys=False))
            reply = node.client.reload_config()
            assert (reply.applied, reply.refused) == (("governance.endpoints",), None)
            connected = wait_state(node.client, "connected")
            assert connected.endpoint == mock.target
            # A restarted stream starts from the reloaded endpoints too (its supervisor's).
            stream = node.client.pids()["stream"]
            assert stream is not None
            os.kill(stream, signal.SIGKILL)
            assert node.client.wait_replaced("stream", stream, timeout_s=30) is not None
            assert wait_state(node.client, "connected").endpoint == mock.target
            assert "reloaded config in force: governance.endpoints" in log_text(node.config)
    finally:
        mock.stop()
