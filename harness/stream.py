"""A node whose StreamActor talks to a given governance server (the mock, usually).

The node runs with short intervals (heartbeats every 0.2 s, reconnect backoff
from 50 ms) so that faults are detected quickly; callers still only wait on
conditions, with generous timeouts.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from actors.messages import ConnectionStatus
from client import NodeClient
from harness.nodes import LocalNode, running_node
from harness.waiting import wait_until

NODE_ID = "alys-test"  # the node id `harness.nodes.write_config` gives every node

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


def governance_section(endpoints: list[str], **overrides: Any) -> dict[str, Any]:
    """The governance section for `endpoints` (priorities 10, 20, …), fast, with `overrides`."""
    section: dict[str, Any] = {
        **FAST_GOVERNANCE,
        "endpoints": [{"url": url, "priority": 10 * (i + 1)} for i, url in enumerate(endpoints)],
        # The config's own mock stays enabled (no federation needed); the caller runs its own.
        "mock": {"enabled": True, "port": 1, "control_port": 2},
    }
    section.update(overrides)
    return section


@contextmanager
def stream_node(directory: Path, endpoints: list[str], **governance: Any) -> Iterator[LocalNode]:
    with running_node(directory, governance=governance_section(endpoints, **governance)) as node:
        yield node


def wait_state(client: NodeClient, state: str, timeout: float = 30) -> ConnectionStatus:
    """The stream's status once it is in `state`; fails naming the last one seen."""

    def reached() -> ConnectionStatus | None:
        status = client.connection_status()
        return status if status.state == state else None

    return wait_until(
        reached, timeout=timeout,
        message=lambda: f"stream never {state}: {client.connection_status()}")
