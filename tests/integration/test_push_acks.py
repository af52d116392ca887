"""Pushes acknowledged end to end (docs/protocol.md, convention 8), on real processes.

The node acknowledges a federation update only once the chain has committed
it; with acknowledgements off (by config, or because governance does not
advertise them) it sends none; a push the mock sends again after a reconnect
is applied once and acknowledged again. Judged from the mock's record of
acknowledgements (`GET /acks`) and from the database rows, not from the
node's counters.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest

from harness.nodes import LocalNode, log_text
from harness.stream import NODE_ID, wait_state
from harness.waiting import wait_until
from tests.support.pegouts import chain_status, pegout_node, query, running_pid
from tests.support.stream import payload_kind

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]

SLOW_CLOCK = {"height_source": {"kind": "clock", "slot_s": 3600}}
MEMBERS = {"indices": [0, 1, 2, 3, 4], "threshold": 3}


def acks(mock: Any) -> dict[str, Any]:
    node: dict[str, Any] = mock.acks(NODE_ID)["nodes"][NODE_ID]
    return node


def registrations(mock: Any) -> list[dict[str, Any]]:
    return [r for r in mock.record(NODE_ID).get(NODE_ID, [])
            if payload_kind(r) == "node_registration"]


def metadata_only(mock: Any) -> list[str]:
    """Ids of the requests the node sent with no payload: its acknowledgements."""
    return [r["metadata"]["request_id"] for r in mock.record(NODE_ID).get(NODE_ID, [])
            if set(r) == {"metadata"}]


def heartbeats(mock: Any) -> int:
    return sum(1 for r in mock.record(NODE_ID).get(NODE_ID, [])
               if payload_kind(r) == "heartbeat")


def applied_versions(node: LocalNode) -> list[int]:
    return [row[0] for row in query(
        node, "SELECT version FROM federations WHERE state = 'applied' ORDER BY version")]


def outcomes(node: LocalNode) -> dict[str, str]:
    return dict(query(node, "SELECT request_id, outcome FROM inbound_handled "
                            "WHERE owner = 'chain'"))


def push(mock: Any, version: int) -> None:
    mock.push_federation_update(version=version, request_id=f"fed-{version}",
                                node_id=NODE_ID, **MEMBERS)


def test_an_update_is_acknowledged_only_after_its_commit(tmp_path: Path) -> None:
    with pegout_node(tmp_path, chain=SLOW_CLOCK) as (node, mock):
        wait_until(lambda: acks(mock)["acknowledges"], timeout=30,
                   message="the node never registered as acknowledging pushes")
        [registration] = registrations(mock)
        assert "push-ack" in registration["node_registration"]["capabilities"]
        push(mock, 1)
        wait_until(lambda: acks(mock)["acked"].get("fed-1"), timeout=30,
                   message=lambda: f"fed-1 never acknowledged: {acks(mock)}")
        # Seen acknowledged, so already committed: the rows are there now.
        assert applied_versions(node) == [0, 1]
        assert outcomes(node) == {"fed-1": "applied"}
        record = acks(mock)
        assert record["acked"] == {"fed-1": 1} and record["unacked"] == []
        assert metadata_only(mock) == ["fed-1"]


def test_a_malformed_push_is_acknowledged_as_refused(tmp_path: Path) -> None:
    """An update without its version is refused by the stream and never routed; it is
    acknowledged all the same, or governance would push it again forever."""
    update = {
        "metadata": {"request_id": "fed-broken", "status": "STATUS_CODE_SUCCESS"},
        "federation_update": {"update_type": "FEDERATION_UPDATE_TYPE_MEMBER_ADD",
                              "config": {"signature_threshold": 1, "member_count": 1}},
    }
    with pegout_node(tmp_path, chain=SLOW_CLOCK) as (node, mock):
        wait_until(lambda: acks(mock)["acknowledges"], timeout=30)
        assert mock.post("/push", {"message": update, "node_id": NODE_ID}).status == 200
        wait_until(lambda: acks(mock)["acked"].get("fed-broken"), timeout=30,
                   message=lambda: f"fed-broken never acknowledged: {acks(mock)}")
        assert outcomes(node) == {}
        assert chain_status(node).federation_version == 0


@pytest.mark.parametrize("node_mode, advertise", [("off", True), ("auto", False)],
                         ids=["off-by-config", "not-advertised"])
def test_without_acknowledgements_none_are_sent(tmp_path: Path, node_mode: str,
                                                advertise: bool) -> None:
    with pegout_node(tmp_path, chain=SLOW_CLOCK, mock_args=(),
                     governance={"push_acks": node_mode}) as (node, mock):
        mock.set_push_acks(advertise=advertise)
        # The setting counts from the next connect: make one.
        mock.behave(drop_streams=True)
        wait_until(lambda: len(registrations(mock)) >= 2, timeout=30)
        wait_state(node.client, "connected")
        [*_, registration] = registrations(mock)
        assert "push-ack" not in registration["node_registration"]["capabilities"]
        push(mock, 1)
        wait_until(lambda: applied_versions(node) == [0, 1], timeout=30)
        # Once the row is committed the chain's Handled is on its way: an acknowledgement
        # would be written before the next few heartbeats.
        seen = heartbeats(mock)
        wait_until(lambda: heartbeats(mock) >= seen + 3, timeout=30)
        assert metadata_only(mock) == []
        assert not acks(mock)["acknowledges"] and acks(mock)["acked"] == {}


def suspend(node: LocalNode, mock: Any) -> None:
    """Hold the node off with RATE_LIMITED: it keeps its session, queues what it would send."""
    error = {"code": "rate_limited", "retry_after_s": 120, "count": 1}
    assert mock.post("/behaviour", {"error_next": error}).status == 200
    wait_state(node.client, "suspended")


def test_an_acknowledgement_held_while_suspended_goes_after_the_reconnect_and_the_repeat_is_not_applied(  # noqa: E501
        tmp_path: Path) -> None:
    with pegout_node(tmp_path, chain=SLOW_CLOCK) as (node, mock):
        wait_until(lambda: acks(mock)["acknowledges"], timeout=30)
        suspend(node, mock)
        push(mock, 1)
        wait_until(lambda: applied_versions(node) == [0, 1], timeout=30)
        assert acks(mock)["unacked"] == ["fed-1"]
        before = len(registrations(mock))
        mock.behave(drop_streams=True)
        wait_until(lambda: acks(mock)["acked"].get("fed-1"), timeout=30,
                   message=lambda: f"fed-1 never acknowledged: {acks(mock)}")
        record = acks(mock)
        assert len(registrations(mock)) == before + 1
        assert record["sent"] == {"fed-1": 2} and record["resent"] == 1
        assert record["unacked"] == []
        assert applied_versions(node) == [0, 1]
        assert outcomes(node) == {"fed-1": "applied"}


def test_a_push_re_sent_to_a_restarted_stream_is_answered_from_the_chains_record(
        tmp_path: Path) -> None:
    """The stream dies with the acknowledgement still queued: the mock pushes the update
    again to its replacement, which routes it to the chain; the chain answers from its
    record of handled ids, without judging or applying it again."""
    with pegout_node(tmp_path, chain=SLOW_CLOCK) as (node, mock):
        wait_until(lambda: acks(mock)["acknowledges"], timeout=30)
        suspend(node, mock)
        push(mock, 1)
        wait_until(lambda: applied_versions(node) == [0, 1], timeout=30)
        pid = running_pid(node, "stream")
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: acks(mock)["acked"].get("fed-1"), timeout=60,
                   message=lambda: f"fed-1 never acknowledged: {acks(mock)}")
        record = acks(mock)
        assert record["sent"] == {"fed-1": 2} and record["unacked"] == []
        assert record["acked"] == {"fed-1": 1}
        assert applied_versions(node) == [0, 1]
        assert outcomes(node) == {"fed-1": "applied"}
        judged = [line for line in log_text(node.config).splitlines()
                  if "federation update fed-1:" in line]
        assert len(judged) == 1, judged
