"""A node whose StreamActor talks to a real mock governance server, for stream tests.

The node runs with short intervals (heartbeats every 0.2 s, reconnect backoff
from 50 ms) so that faults are detected quickly; tests still only wait on
conditions, with generous timeouts.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from actors.messages import ConnectionStatus, GetConnectionStatus
from tests.support.mock import MockGovernance
from tests.support.nodes import running_node
from tests.support.waiting import wait_until

NODE_ID = "alys-test"

FAST_GOVERNANCE: dict[str, Any] = {
    "heartbeat_interval_s": 0.2,
    "heartbeat_timeout_s": 1.0,
    "status_interval_s": 0.5,
    "reconnect": {
        "initial_backoff_s": 0.05,
        "multiplier": 1.6,
        "jitter": 0.2,
        "max_backoff_s": 0.5,
    },
    "circuit_breaker": {"failure_threshold": 5, "reset_timeout_s": 1.0},
}


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


def governance_section(endpoints: list[str], **overrides: Any) -> dict[str, Any]:
    section: dict[str, Any] = {
        **FAST_GOVERNANCE,
        "endpoints": [{"url": url, "priority": 10 * (i + 1)} for i, url in enumerate(endpoints)],
        # The config's own mock stays enabled (no federation needed); the test runs its own.
        "mock": {"enabled": True, "port": 1, "control_port": 2},
    }
    section.update(overrides)
    return section


@contextmanager
def stream_node(directory: Path, endpoints: list[str], **governance: Any) -> Iterator[Any]:
    with running_node(directory, governance=governance_section(endpoints, **governance)) as node:
        yield node


def connection_status(node: Any) -> ConnectionStatus:
    status = node.ask(node.lookup("stream"), GetConnectionStatus(), expect=ConnectionStatus)
    assert isinstance(status, ConnectionStatus), status
    return status


def wait_state(node: Any, state: str, timeout: float = 30) -> ConnectionStatus:
    def reached() -> ConnectionStatus | None:
        status = connection_status(node)
        return status if status.state == state else None

    return wait_until(
        reached, timeout=timeout, message=lambda: f"stream never {state}: {connection_status(node)}"
    )


def payload_kind(request: dict[str, Any]) -> str:
    """Which oneof member a recorded StreamRequest (protobuf JSON) carries."""
    kinds = [key for key in request if key != "metadata"]
    assert len(kinds) == 1, request
    return kinds[0]


def sent_by_node(mock: MockGovernance) -> list[dict[str, Any]]:
    return mock.record(NODE_ID).get(NODE_ID, [])


def sent_of_kind(mock: MockGovernance, kind: str) -> list[dict[str, Any]]:
    return [r for r in sent_by_node(mock) if payload_kind(r) == kind]


def submit(node: Any, messages: list[Any], timeout: float = 60) -> list[Any]:
    """Tell the StreamActor every message, then collect one direct reply for each."""
    stream = node.lookup("stream")
    for message in messages:
        node.asys.tell(stream, message)
    return collect(node, len(messages), timeout)


def collect(node: Any, count: int, timeout: float = 60) -> list[Any]:
    """The next `count` messages sent to this test's ActorSystem handle."""
    replies: list[Any] = []

    def got_all() -> bool:
        reply = node.listen(0.5)
        if reply is not None:
            replies.append(reply)
        return len(replies) >= count

    wait_until(
        got_all, timeout=timeout, interval=0, message=lambda: f"{len(replies)} of {count} replies"
    )
    return replies
