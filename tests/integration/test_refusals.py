"""What the node does with a database it cannot trust or cannot write, or a broadcaster it
cannot build: it says so precisely.

A corrupt file, a schema from a newer node or a missing RPC credential stops
`scripts/start` before any actor starts; a full database (a
`storage.max_size_mb` quota, which SQLite enforces like a full disk) refuses
new peg-outs with the reason and keeps what was committed.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import yaml

from actors.messages import PegoutAccepted, PegoutRejected
from actors.storage.schema import LATEST
from harness.launcher import launch
from tests.support.pegouts import initiate, pegout, pegout_node, status, wait_pegout

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]


def database_path(config_path: Path) -> Path:
    return Path(yaml.safe_load(config_path.read_text())["storage"]["path"])


def start_fails(config_path: Path, tmp_path: Path) -> str:
    launched = launch(config_path, tmp_path / "start.out")
    code = launched.process.wait(timeout=60)
    assert code == 1, launched.text()
    text = launched.text()
    assert "ready:" not in text
    assert "Traceback" not in text, text  # one line for the operator, not a stack
    return text


def test_a_corrupt_database_stops_the_start_with_its_path(config_path: Path,
                                                          tmp_path: Path) -> None:
    path = database_path(config_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"definitely not an SQLite file " * 100)
    text = start_fails(config_path, tmp_path)
    assert f"storage {path}: not a usable SQLite database: file is not a database" in text


def test_a_database_from_a_newer_node_stops_the_start(config_path: Path,
                                                       tmp_path: Path) -> None:
    path = database_path(config_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version={LATEST + 7}")
    text = start_fails(config_path, tmp_path)
    assert f"storage {path}: schema version {LATEST + 7} is newer than this node's {LATEST}" \
        in text


def test_a_missing_rpc_credential_variable_stops_the_start(config_path: Path,
                                                           tmp_path: Path) -> None:
    document = yaml.safe_load(config_path.read_text())
    document["bridge"] = {"broadcaster": {
        "kind": "bitcoin_rpc", "rpc_url": "http://127.0.0.1:1",
        "rpc_user_env": "ALYS_UNSET_RPC_USER", "rpc_password_env": "ALYS_UNSET_RPC_PASSWORD"}}
    config_path.write_text(yaml.safe_dump(document))
    text = start_fails(config_path, tmp_path)
    assert "bridge.broadcaster: " in text and "ALYS_UNSET_RPC_USER" in text


def test_a_full_database_refuses_new_pegouts_and_keeps_the_committed_ones(
        tmp_path: Path) -> None:
    storage = {"path": str(tmp_path / "full.sqlite3"), "max_size_mb": 0.25}
    with pegout_node(tmp_path, storage=storage) as (node, mock):
        first = pegout("first", seed=70)
        assert initiate(node, [first]) == [PegoutAccepted("first")]
        wait_pegout(node, "first", "broadcast")
        mock.behave(hold_signatures=True)  # the rest stays awaiting: only inserts now
        refused = None
        for i in range(400):
            [reply] = initiate(node, [pegout(f"fill-{i}", seed=100 + i, n_inputs=40)])
            if isinstance(reply, PegoutRejected):
                refused = reply
                break
        assert refused is not None, "the quota was never reached"
        assert refused.reason.startswith("not stored: storage ")
        assert "database or disk is full; nothing was written" in refused.reason
        assert status(node, refused.request_id).state == "unknown"
        assert status(node, "first").state == "broadcast"
    with sqlite3.connect(storage["path"]) as db:
        stored = {row[0] for row in db.execute("SELECT request_id FROM pegouts")}
    assert "first" in stored and refused.request_id not in stored
