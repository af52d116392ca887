"""Frames a hostile governance sends, through a real mock server, gRPC and the StreamActor.

The decoder's own tests (tests/unit/stream/test_wire_limits.py) cover every
bound; here only what needs gRPC and the actor: that a refused frame is
counted by its kind and the stream stays up, that a frame over
`governance.limits.max_frame_bytes` is refused unparsed and the stream stays up,
and that one past the receive ceiling, which gRPC itself refuses by ending the
call, is counted as `too_large` and followed by a reconnect, not a loop.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

from actors.stream.wire.checks import MIN_RECEIVE_CEILING
from harness.mock import MockGovernance, start_mock_governance
from harness.stream import stream_node, wait_state
from harness.waiting import wait_until
from protocol import governance_pb2 as pb
from tests.support.stream import sent_of_kind

pytestmark = pytest.mark.timeout(180)

FRAME_CAP = 4096
# Field 70 of StreamResponse, length-delimited and empty: a payload this node does not know.
UNKNOWN_PAYLOAD = b"\xb2\x04\x00"  # the tag 70 << 3 | 2 as a varint, then length 0


@pytest.fixture
def mock(tmp_path: Path) -> Iterator[MockGovernance]:
    server = start_mock_governance(tmp_path / "mock")
    yield server
    server.stop()


def push_raw(mock: MockGovernance, data: bytes) -> None:
    body = mock.post("/push_raw", {"base64": base64.b64encode(data).decode()}).body
    assert body["delivered"] == 1


def pushed(request_id: str, **payload: object) -> bytes:
    return pb.StreamResponse(
        metadata=pb.ResponseMetadata(request_id=request_id, status=pb.STATUS_CODE_SUCCESS),
        **payload).SerializeToString()  # type: ignore[arg-type]


def unexpected(kind: str) -> float:
    from runtime import metrics  # after the node set the metrics directory

    prefix = f'alys_stream_unexpected_frames_total{{kind="{kind}"}} '
    for line in metrics.exposition().decode().splitlines():
        if line.startswith(prefix):
            return float(line.removeprefix(prefix))
    return 0.0


def test_refused_frames_are_counted_by_kind_and_only_one_past_the_ceiling_reconnects(
    tmp_path: Path, mock: MockGovernance
) -> None:
    limits = {"max_frame_bytes": FRAME_CAP, "max_proposal_data_bytes": FRAME_CAP // 2}
    with stream_node(tmp_path, [mock.target], limits=limits) as node:
        wait_state(node.client, "connected")

        # A payload from a newer governance (field 70), an id that would forge a log
        # line, a height past int64: each skipped and counted, the stream stays up.
        push_raw(mock, pushed("pegin-x") + UNKNOWN_PAYLOAD)
        push_raw(mock, pushed("hb/1\nINFO forged", heartbeat_ack=pb.HeartbeatAck(sequence=1)))
        push_raw(mock, pushed("fed-x", federation_update=pb.FederationUpdate(
            update_type=pb.FEDERATION_UPDATE_TYPE_MEMBER_ADD, effective_height=2**64 - 1,
            config=pb.FederationConfig(signature_threshold=1, parameters={"version": "9"}))))
        wait_until(lambda: all(unexpected(kind) >= 1
                               for kind in ("unknown_payload", "bad_id", "out_of_range")),
                   timeout=30, message="the refused frames were not counted by kind")
        status = node.client.connection_status()
        assert (status.state, status.reconnects) == ("connected", 0)

        # Over the cap: refused unparsed, by its head (a push is acknowledged by its id),
        # and the stream stays up.
        push_raw(mock, pushed("big", proposal_notification=pb.ProposalNotification(
            proposal_id="p", proposal_type=pb.PROPOSAL_TYPE_UPGRADE,
            proposal_data=b"x" * (2 * FRAME_CAP))))
        wait_until(lambda: unexpected("too_large") >= 1, timeout=30,
                   message="the oversized frame was not counted as too_large")
        status = node.client.connection_status()
        assert (status.state, status.reconnects) == ("connected", 0)

        # Past the receive ceiling gRPC refuses it itself, and ends the call: one
        # reconnect, not a loop.
        push_raw(mock, pushed("huge", proposal_notification=pb.ProposalNotification(
            proposal_id="p", proposal_type=pb.PROPOSAL_TYPE_UPGRADE,
            proposal_data=b"x" * (MIN_RECEIVE_CEILING + 1))))
        wait_until(lambda: unexpected("too_large") >= 2, timeout=30,
                   message="the frame past the ceiling was not counted as too_large")
        wait_until(lambda: node.client.connection_status().reconnects >= 1, timeout=30,
                   message="the call gRPC ended was not followed by a reconnect")
        wait_state(node.client, "connected")
        assert len(sent_of_kind(mock, "node_registration")) == 2
