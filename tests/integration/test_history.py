"""What the chain has handled is kept for its retention and then pruned, in SQLite and in
memory; what the bridge has finished is found in SQLite, never held in memory."""

from __future__ import annotations

import base64
import sqlite3
from pathlib import Path

import pytest

from harness.nodes import LocalNode, log_text
from harness.waiting import wait_until
from tests.support.pegouts import chain_status, pegout_node

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]

# Seconds instead of days, so that a test sees ids pass their retention.
SHORT_RETENTION = {"height_source": {"kind": "clock", "slot_s": 3600},
                   "retention": {"handled_ids_s": 2, "proposals_s": 2, "prune_interval_s": 0.5}}


def stored_ids(node: LocalNode, sql: str) -> list[str]:
    # A reader beside the StorageActor: WAL lets it read while the node writes.
    with sqlite3.connect(f"file:{node.config.storage.path}?mode=ro", uri=True) as db:
        return [row[0] for row in db.execute(sql)]


def test_handled_ids_and_proposals_past_retention_are_pruned(tmp_path: Path) -> None:
    proposal = {
        "metadata": {"request_id": "prop-1", "status": "STATUS_CODE_SUCCESS"},
        "proposal_notification": {
            "proposal_id": "prop-1", "proposal_type": "PROPOSAL_TYPE_UPGRADE",
            "proposal_data": base64.b64encode(b"v2").decode(),
            "voting_deadline": "1900000000", "required_votes": 3},
    }
    with pegout_node(tmp_path, chain=SHORT_RETENTION) as (node, mock):
        mock.push_federation_update(version=1, indices=list(range(5)), threshold=3,
                                    request_id="fed-1")
        wait_until(lambda: chain_status(node).federation_version == 1, timeout=30)
        mock.post("/push", {"message": proposal})
        wait_until(lambda: node.client.proposals(), timeout=30)

        # Past retention: gone from SQLite, and the listing (read from SQLite) is empty.
        wait_until(lambda: stored_ids(
            node, "SELECT request_id FROM inbound_handled WHERE request_id = 'fed-1'") == []
            and stored_ids(node, "SELECT proposal_id FROM proposals") == [], timeout=30,
            message="the handled id and the proposal pruned")
        assert node.client.proposals() == ()
        wait_until(lambda: "retention: forgot" in log_text(node.config), timeout=30)
        # The federation itself stays: retention prunes what was handled, not what is.
        assert chain_status(node).federation_version == 1
