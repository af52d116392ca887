"""The node's message rates through the governance stream, in both directions.

Both run on one node with the real-signing mock (bench/pegouts/load.py's setup):

- outbound: many peg-outs are sent to the bridge at once (Batches of 250, the
  way a client with many should send them) while governance holds its answers;
  the clock runs until the mock has recorded every `SignatureRequest` (its
  /stats), so the figure is bridge acceptance + commit + stream + gRPC.
- inbound: governance then releases those answers (signature responses for
  ids the node knows) together with as many federation updates, each a valid
  newer version scheduled far ahead (the ChainActor validates the keys,
  derives the address, stores it). The updates are built and held in the
  mock before the clock starts (`/push_many` with `hold`): built during the
  run, they took the mock's GIL from its gRPC sender, and for the first
  ~450 ms the node got answers at a tenth of its rate. The clock runs until
  every peg-out's txid is fsynced in the spool (verified, signed, stored,
  broadcast, stored) and the stream has every update confirmed `Handled` by
  the chain: counted at the targets, after real handling.

Message sizes grow the transactions (`padding_bytes`): the cost curve of the
issue's "growth" figure.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from actors.messages import ConnectionStatus, GetConnectionStatus
from bench.pegouts.bridge import Client, cpu_meter
from bench.pegouts.load import (
    FEDERATION_SIZE,
    THRESHOLD,
    Request,
    Requests,
    SpoolWatcher,
    pegout_node,
)
from harness.mock import MockGovernance
from harness.nodes import LocalNode
from harness.stream import NODE_ID, wait_state
from harness.waiting import wait_until

SEND_BATCH = 250
FAR_AHEAD = 10**12  # an activation height no test reaches: the updates stay scheduled
TIMEOUT_S = 300.0


@dataclass
class Throughput:
    inbound_msgs_per_s: list[float] = field(default_factory=list)
    outbound_msgs_per_s: list[float] = field(default_factory=list)
    # Per process, CPU microseconds per inbound message over each run's inbound clock.
    inbound_cpu_us: list[dict[str, float]] = field(default_factory=list)
    count: int = 0
    padding_bytes: int = 0

    def summary(self) -> dict[str, Any]:
        return {"inbound": _stats(self.inbound_msgs_per_s),
                "outbound": _stats(self.outbound_msgs_per_s),
                "inbound_cpu_us_per_msg": _median_per_process(self.inbound_cpu_us),
                "messages_each_way": self.count, "padding_bytes": self.padding_bytes}


def _stats(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"median": None, "spread": None, "runs": []}
    return {"median": round(statistics.median(values)), "runs": [round(v) for v in values],
            "spread": [round(min(values)), round(max(values))]}


def _median_per_process(runs: list[dict[str, float]]) -> dict[str, float]:
    names = {name for run in runs for name in run}
    return {name: round(statistics.median(run[name] for run in runs if name in run), 1)
            for name in sorted(names)}


def held_answers(mock: MockGovernance) -> int:
    held = mock.get("/behaviour").body["held_signatures"]["held"]
    return int(held.get(NODE_ID, 0))


def recorded_requests(mock: MockGovernance) -> int:
    nodes = mock.stats(NODE_ID)["nodes"]
    return int(nodes.get(NODE_ID, {}).get("received", {}).get("signature_request", 0))


class _Run:
    """One node; each `once` uses fresh peg-outs and newer federation versions."""

    def __init__(self, node: LocalNode, mock: MockGovernance, padding_bytes: int) -> None:
        self.node, self.mock = node.client, mock
        self.meter = cpu_meter(node.client, mock.process.pid)
        self.requests = Requests(padding_bytes=padding_bytes)
        self.client = Client(node.client)
        self.watcher = SpoolWatcher(Path(node.config.bridge.broadcaster.spool_path))
        self.next_version = 1
        self.template: dict[str, Any] | None = None

    def update_template(self) -> dict[str, Any]:
        """A valid federation update as the mock builds it (pushed once, version 1)."""
        if self.template is None:
            pushed = self.mock.push_federation_update(
                version=self.next_version, indices=list(range(FEDERATION_SIZE)),
                threshold=THRESHOLD, effective_height=FAR_AHEAD, request_id="bench-template")
            self.next_version += 1
            self.template = pushed["message"]
            wait_until(lambda: self.node.connection_status().unhandled == 0, timeout=60)
        return self.template

    def once(self, label: str, count: int) -> tuple[float, float, dict[str, float]]:
        """Inbound and outbound msg/s, and each process's CPU µs per inbound message."""
        template = self.update_template()
        batch = self.requests.make(label, count)
        self.mock.behave(hold_signatures=True)
        before = recorded_requests(self.mock)
        started = time.perf_counter()
        self._send_batched(batch)
        wait_until(lambda: recorded_requests(self.mock) - before >= count, timeout=TIMEOUT_S,
                   interval=0.002, message="signature requests never reached governance")
        outbound = count / (time.perf_counter() - started)
        # The mock counts a request when it arrives and signs it afterwards: let it finish
        # signing (6 signatures each) before the inbound clock starts, or its backlog takes
        # the CPU the node's inbound run is measured on.
        wait_until(lambda: held_answers(self.mock) >= count, timeout=TIMEOUT_S, interval=0.01,
                   message="governance never finished signing the held requests")

        pushed = self.mock.post("/push_many", {"message": template, "count": count,
                                               "id_prefix": f"bench-{label}-fed-",
                                               "version_from": self.next_version,
                                               "hold": True})
        if pushed.status != 200:
            raise RuntimeError(f"push_many failed: {pushed.body}")
        self.next_version += count
        received = self.node.connection_status().messages_received
        started = time.perf_counter()
        self.meter.start()
        self.mock.behave(hold_signatures=False)
        self.mock.release()
        wanted = {r.txid for r in batch}
        stream = self.node.lookup("stream")

        def done() -> bool:
            # The spool is read locally; the stream is asked only once every txid is
            # there, so that polling does not load the node it measures (a lookup and
            # an ask every 2 ms took a tenth of a core from the root and the stream).
            if not wanted <= self.watcher.seen.keys():
                return False
            status = self.node.ask(stream, GetConnectionStatus(), ConnectionStatus)
            return (status.messages_received - received >= 2 * count
                    and status.unhandled == 0)

        wait_until(done, timeout=TIMEOUT_S, interval=0.002,
                   message="inbound messages were not all handled")
        inbound = 2 * count / (time.perf_counter() - started)
        cpu_us = {name: 1e6 * seconds / (2 * count)
                  for name, seconds in self.meter.stop().items()}
        return inbound, outbound, cpu_us

    def _send_batched(self, batch: list[Request]) -> None:
        for start in range(0, len(batch), SEND_BATCH):
            self.client.send_many(batch[start:start + SEND_BATCH])


def measure(directory: Path, *, count: int, runs: int, padding_bytes: int = 0,
            log_level: str = "INFO") -> Throughput:
    figures = Throughput(count=count, padding_bytes=padding_bytes)
    with pegout_node(directory, log_level) as (node, mock):
        wait_state(node.client, "connected")
        run = _Run(node, mock, padding_bytes)
        run.watcher.start()
        try:
            run.once("warm", min(count, 200))
            for index in range(runs):
                inbound, outbound, cpu_us = run.once(f"r{index}", count)
                figures.inbound_msgs_per_s.append(inbound)
                figures.outbound_msgs_per_s.append(outbound)
                figures.inbound_cpu_us.append(cpu_us)
                run.client.drain(0.2)
        finally:
            run.watcher.stop()
    return figures

