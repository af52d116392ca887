"""Stream tests' helpers: what the node sent the mock, and requests straight to the StreamActor.

The node itself comes from `harness.stream` (`stream_node`, `wait_state`,
fast intervals) and is driven through its client (`node.client`).
"""

from __future__ import annotations

import base64
from typing import Any

from harness.mock import MockGovernance
from harness.nodes import LocalNode
from harness.stream import NODE_ID

# A valid federation update (convention 5) as protobuf JSON, for pushes from the mock.
FEDERATION_UPDATE = {
    "metadata": {"request_id": "template", "status": "STATUS_CODE_SUCCESS"},
    "federation_update": {
        "update_type": "FEDERATION_UPDATE_TYPE_MEMBER_ADD",
        "members": [{"member_id": f"m{i}", "public_key": base64.b64encode(
            bytes([2]) + bytes([i]) * 32).decode(), "weight": 1, "active": True}
            for i in range(1, 4)],
        "effective_height": "100",
        "config": {"signature_threshold": 2, "member_count": 3, "parameters": {"version": "2"}},
    },
}


METADATA_ONLY = "metadata_only"  # a push acknowledgement (docs/protocol.md, convention 8)


def payload_kind(request: dict[str, Any]) -> str:
    """Which oneof member a recorded StreamRequest (protobuf JSON) carries; METADATA_ONLY
    for none."""
    kinds = [key for key in request if key != "metadata"]
    assert len(kinds) <= 1, request
    return kinds[0] if kinds else METADATA_ONLY


def sent_by_node(mock: MockGovernance) -> list[dict[str, Any]]:
    return mock.record(NODE_ID).get(NODE_ID, [])


def sent_of_kind(mock: MockGovernance, kind: str) -> list[dict[str, Any]]:
    return [r for r in sent_by_node(mock) if payload_kind(r) == kind]


def submit(node: LocalNode, messages: list[Any], timeout: float = 60) -> list[Any]:
    """Tell the StreamActor every message, one send each, then collect one reply for each."""
    stream = node.client.lookup("stream")
    for message in messages:
        node.client.tell(stream, message)
    return collect(node, len(messages), timeout)


def collect(node: LocalNode, count: int, timeout: float = 60) -> list[Any]:
    """The next `count` messages sent to this test's client, in arrival order."""
    return node.client.replies(count, object, timeout)
