"""Federation updates end to end: pushed by the mock, validated, scheduled, persisted, in force.

Outcomes are read from the ChainActor (`GetChainStatus`), the BridgeActor
(peg-outs signed against the new federation) and the node's log.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from actors.messages import (
    ChainStatus,
    PegoutAccepted,
    PegoutRejected,
)
from harness.nodes import LocalNode, log_text
from harness.waiting import wait_until
from mock_governance.federation import federation_keys, governance_public_key
from tests.support.pegouts import (
    SEED,
    chain_status,
    initiate,
    local_script,
    pegout,
    pegout_node,
    verify_signed,
    wait_pegout,
)

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]

# The clock height source barely moves during a test: heights are set with AdvanceHeight.
SLOW_CLOCK = {"height_source": {"kind": "clock", "slot_s": 3600}}


def wait_version(node: LocalNode, version: int) -> ChainStatus:
    return wait_until(lambda: (s := chain_status(node)).federation_version == version and s,
                      timeout=30, message=lambda: f"version {version} never in force: "
                      f"{chain_status(node)}")


def wait_log(node: LocalNode, text: str) -> None:
    wait_until(lambda: text in log_text(node.config), timeout=30,
               message=f"no log line with {text!r}")


def test_an_update_due_now_is_applied_and_pegouts_are_signed_by_the_new_federation(
        tmp_path: Path) -> None:
    with pegout_node(tmp_path, chain=SLOW_CLOCK) as (node, mock):
        pushed = mock.push_federation_update(version=1, indices=list(range(6)), threshold=4,
                                             request_id="fed-1")
        status = wait_version(node, 1)
        keys = federation_keys(SEED, 6)
        assert status.members == tuple(k.hex() for k in keys)
        assert (status.threshold, status.federation_address) == (4, pushed["p2wsh_address"])

        mock.set_federation(list(range(6)), 4)
        request = pegout("after-update", seed=30, script=local_script(6, 4))
        assert initiate(node, [request]) == [PegoutAccepted("after-update")]
        final = wait_pegout(node, "after-update", "broadcast")
        assert final.signatures_required == 2 * 4
        verify_signed(final.signed_tx_hex, request, keys, 4)


def test_an_update_ahead_of_the_height_waits_for_it(tmp_path: Path) -> None:
    with pegout_node(tmp_path, chain=SLOW_CLOCK) as (node, mock):
        mock.push_federation_update(version=3, indices=[0, 1, 2, 3], threshold=2,
                                    effective_height=500, request_id="fed-later")
        wait_until(lambda: chain_status(node).scheduled == ((3, 500),), timeout=30)
        below = node.client.advance_height(499)
        assert (below.height, below.federation_version) == (499, 0)
        at = node.client.advance_height(500)
        assert at.height == 500
        status = wait_version(node, 3)
        assert status.scheduled == ()
        assert status.threshold == 2


def raw_update(request_id: str, keys: list[bytes], threshold: int,
               version: int = 1) -> dict[str, Any]:
    """A FederationUpdate as protobuf JSON, for what the mock's builder will not make."""
    return {
        "metadata": {"request_id": request_id, "status": "STATUS_CODE_SUCCESS"},
        "federation_update": {
            "update_type": "FEDERATION_UPDATE_TYPE_MEMBER_ADD",
            "members": [{"member_id": f"m{i}", "public_key": base64.b64encode(k).decode(),
                         "weight": 1, "active": True} for i, k in enumerate(keys)],
            "config": {"signature_threshold": threshold, "member_count": len(keys),
                       "parameters": {"version": str(version)}},
        },
    }


KEYS = federation_keys(SEED, 3)
OFF_CURVE = b"\x02" + b"\xff" * 32  # x is not below the field prime: no such point


@pytest.mark.parametrize("update, reason", [
    ({"version": 0}, "version 0 is not greater than the latest known version 0"),
    ({"threshold": 6, "with_address": False}, "threshold 6"),
    (raw_update("bad-update", [KEYS[0], KEYS[1], KEYS[0]], 2), "have the same public key"),
    (raw_update("bad-update", [KEYS[0], OFF_CURVE], 1), "not a valid compressed secp256k1"),
    ({"address_override": "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"}, "p2wsh_address"),
], ids=["version-not-newer", "threshold-above-members", "duplicate-key", "off-curve-key",
        "wrong-address"])
def test_an_invalid_update_is_rejected_and_changes_nothing(tmp_path: Path,
                                                            update: dict[str, Any],
                                                            reason: str) -> None:
    with pegout_node(tmp_path, chain=SLOW_CLOCK) as (node, mock):
        before = chain_status(node)
        if "federation_update" in update:
            mock.post("/push", {"message": update})
        else:
            mock.push_federation_update(**{"version": 1, "indices": [0, 1, 2, 3, 4],
                                           "threshold": 3, "request_id": "bad-update",
                                           **update})
        wait_log(node, "federation update bad-update")
        line = next(line for line in log_text(node.config).splitlines()
                    if "federation update bad-update" in line)
        assert "rejected" in line and reason in line, line
        assert chain_status(node) == before


def test_with_a_governance_key_only_updates_it_signed_are_accepted(tmp_path: Path) -> None:
    key = governance_public_key(SEED).hex()
    chain = {**SLOW_CLOCK, "governance_pubkey": key}
    with pegout_node(tmp_path, chain=chain) as (node, mock):
        mock.push_federation_update(version=1, indices=[0, 1, 2], threshold=2, sign=False,
                                    request_id="unsigned")
        mock.push_federation_update(version=1, indices=[0, 1, 2], threshold=2,
                                    bad_signature=True, request_id="forged")
        wait_log(node, "federation update forged")
        wait_log(node, "federation update unsigned")
        assert chain_status(node).federation_version == 0
        mock.push_federation_update(version=1, indices=[0, 1, 2], threshold=2,
                                    request_id="signed")
        assert wait_version(node, 1).threshold == 2


def test_an_emergency_halt_stops_signing_until_a_later_version_lifts_it(
        tmp_path: Path) -> None:
    with pegout_node(tmp_path, chain=SLOW_CLOCK) as (node, mock):
        mock.behave(hold_signatures=True)
        waiting = pegout("before-halt", seed=40)
        assert initiate(node, [waiting]) == [PegoutAccepted("before-halt")]
        mock.push_federation_update(version=1, indices=list(range(5)), threshold=3,
                                    update_type="emergency_halt", request_id="halt")
        wait_until(lambda: chain_status(node).halted, timeout=30)
        wait_log(node, "EMERGENCY HALT")
        [refused] = initiate(node, [pegout("during-halt", seed=41)])
        assert isinstance(refused, PegoutRejected) and "emergency halt" in refused.reason
        mock.behave(hold_signatures=False)
        mock.release()  # governance answers, but nothing is signed during the halt
        wait_log(node, "set aside: emergency halt")
        assert wait_pegout(node, "before-halt", "awaiting_signatures").txid is not None

        mock.push_federation_update(version=2, indices=list(range(5)), threshold=3,
                                    update_type="config_change", request_id="lift")
        wait_until(lambda: not chain_status(node).halted, timeout=30)
        final = wait_pegout(node, "before-halt", "broadcast")
        assert final.signed_tx_hex


def test_proposals_are_stored_once_and_listed(tmp_path: Path) -> None:
    proposal = {
        "metadata": {"request_id": "prop-1", "status": "STATUS_CODE_SUCCESS"},
        "proposal_notification": {
            "proposal_id": "prop-1", "proposal_type": "PROPOSAL_TYPE_UPGRADE",
            "proposal_data": base64.b64encode(b"v2 please").decode(),
            "voting_deadline": "1900000000", "required_votes": 3},
    }
    with pegout_node(tmp_path, chain=SLOW_CLOCK) as (node, mock):
        mock.post("/push", {"message": proposal})
        mock.post("/push", {"message": proposal})  # governance sends it again

        def listed() -> tuple[Any, ...]:
            return node.client.proposals()

        [stored] = wait_until(listed, timeout=30)
        assert (stored.proposal_id, stored.proposal_type, stored.data, stored.voting_deadline,
                stored.required_votes) == ("prop-1", "upgrade", b"v2 please", 1900000000, 3)
        wait_until(lambda: "proposal prop-1" in log_text(node.config), timeout=30)
        assert len(listed()) == 1


def test_many_updates_pushed_at_once_are_applied_in_version_order(tmp_path: Path) -> None:
    with pegout_node(tmp_path, chain=SLOW_CLOCK) as (node, mock):
        first = mock.push_federation_update(version=1, indices=[0, 1, 2, 3], threshold=2,
                                            request_id="burst-first")
        wait_version(node, 1)
        pushed = mock.post("/push_many", {"message": first["message"], "count": 200,
                                          "id_prefix": "burst-", "version_from": 2})
        assert pushed.status == 200, pushed.body
        assert wait_version(node, 201).threshold == 2
        assert "rejected" not in log_text(node.config)
