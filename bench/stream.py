"""The governance stream on real processes: reconnect and stall detection.

Runs a real mock governance server process and a real node (`harness/`, as
the integration tests do), watched through the client library. The message
rates are bench/throughput.py's. Figures:

- reconnect: the server is stopped and started again on its port; the clock
  runs from the new server being ready to the stream being registered again;
- stall: the server stops reading and answering; the clock runs until the
  node has torn the stream down (it depends on `heartbeat_timeout_s`, printed
  with the result).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from client import NodeClient
from harness.mock import MockGovernance, start_mock_governance
from harness.stream import stream_node, wait_state
from harness.waiting import wait_until

HEARTBEAT = {"heartbeat_interval_s": 1.0, "heartbeat_timeout_s": 3.0}


@dataclass(frozen=True)
class StreamFigures:
    reconnect_ms: float
    stall_detect_ms: float
    heartbeat_interval_s: float
    heartbeat_timeout_s: float


def reconnect_ms(node: NodeClient, mock: MockGovernance,
                 directory: Path) -> tuple[float, MockGovernance]:
    mock.stop()
    wait_until(lambda: node.connection_status().state != "connected", timeout=60,
               message="the stream did not notice the server stopped")
    again = start_mock_governance(directory / "mock-again", port=mock.grpc_port)
    started = time.perf_counter()
    wait_until(lambda: node.connection_status().state == "connected", timeout=60,
               interval=0.005, message="the stream did not reconnect")
    return (time.perf_counter() - started) * 1000, again


def stall_detect_ms(node: NodeClient, mock: MockGovernance) -> float:
    reconnects = node.connection_status().reconnects
    started = time.perf_counter()
    assert mock.post("/behaviour", {"stall": True}).status == 200
    wait_until(lambda: node.connection_status().reconnects > reconnects, timeout=60,
               interval=0.01, message="the stall was not detected")
    elapsed = (time.perf_counter() - started) * 1000
    assert mock.post("/behaviour", {"stall": False}).status == 200
    return elapsed


def measure(directory: Path) -> StreamFigures:
    mock = start_mock_governance(directory / "mock")
    with stream_node(directory / "node", [mock.target], **HEARTBEAT) as node:
        try:  # the server stops before the node, whichever server runs by then
            wait_state(node.client, "connected")
            reconnect, mock = reconnect_ms(node.client, mock, directory)
            stall = stall_detect_ms(node.client, mock)
        finally:
            mock.stop()
    return StreamFigures(round(reconnect, 1), round(stall, 1),
                         HEARTBEAT["heartbeat_interval_s"], HEARTBEAT["heartbeat_timeout_s"])
