"""Peg-outs end to end on real processes: `InitiatePegout` until the signed transaction is spooled.

A real mock governance process signs with a 3-of-5 test federation (two
inputs per peg-out: six ECDSA signatures made by the mock and verified by
the bridge); the node runs with its default durability (SQLite in WAL mode
with `synchronous=FULL`, the spool fsynced on every append), its default
health checks and its default log level. Every peg-out has its own seed, so
its own txid.

Where the clock stops: at the txid's line in the spool, visible and durable.
The bridge appends `<txid> <raw hex>` and fsyncs before it records the
peg-out as `broadcast`, so the line is the moment of broadcast. A thread of
this process wakes when the file is written (inotify; where it cannot, it
polls every millisecond), fsyncs its own descriptor when the file grew (which
returns once those bytes are on disk, so no earlier than the bridge's own
fsync) and only then reads the clock. The error is the thread's wakeup (the
poll interval, about 1 ms, when polling), and the measurement sends nothing
to the node.
Polling `GetPegoutStatus` with `ask` was the other choice: each ask queues
behind the bridge's own work (so it measures the bridge's backlog as well)
and adds load to the very process being measured.

Phases, each started once the node has worked off the previous one:

- one at a time: K peg-outs, each sent (`tell`) once the previous one is in
  the spool;
- at once: N peg-outs told as fast as this process can, in Batches of 250
  (as a client with many peg-outs should send them); the rate is N over the
  time from the first send to the last spool line, latency runs from each
  peg-out's own send;
- offered load: open loop at fixed rates for a few seconds each. Latency
  runs from the time a peg-out was due, not from when the `tell` started: a
  `tell` returns only once the bridge's process has read it, so a busy
  bridge also delays the sender, and that wait is part of the latency.

A figure that could not be measured is None, with the reason in
`null_reasons`. That includes a phase during which an actor of the node was
restarted (under a burst the bridge's supervisor may find it hung): its
peg-outs are still driven to the spool (those the dead bridge never accepted
are sent again, as a client would), but its figures would describe a restart.

The parts: `load` (the requests, the spool watcher, the node), `bridge`
(sending and collecting replies), `phases`, `figures` (and the table).
"""

from __future__ import annotations

import sys
from pathlib import Path

from bench.cpu import cpus_here
from bench.pegouts.bridge import Client, warm_up
from bench.pegouts.figures import PegoutFigures, PegoutPlan, max_rate_under, print_table
from bench.pegouts.load import (
    DURABILITY,
    FEDERATION_SIZE,
    FEDERATIONS,
    INPUTS,
    THRESHOLD,
    Requests,
    SpoolWatcher,
    pegout_node,
)
from bench.pegouts.phases import Metering, run_phases
from harness.stream import wait_state

__all__ = ["PegoutFigures", "PegoutPlan", "max_rate_under", "measure", "print_table"]


def measure(directory: Path, plan: PegoutPlan) -> PegoutFigures:
    if "grpc" in sys.modules:
        # Every actor is forked from this process: gRPC must not be initialised here.
        raise RuntimeError("grpc is imported in the benchmark process")
    figures = PegoutFigures(plan)
    federation = FEDERATIONS[plan.script_type]
    requests = Requests(federation=federation)
    with pegout_node(directory, federation=federation,
                     tracing_endpoint=plan.tracing_endpoint) as (node, mock):
        wait_state(node.client, "connected")
        config = node.config
        figures.settings = {
            "federation": f"{THRESHOLD}-of-{FEDERATION_SIZE}",
            "script_type": plan.script_type,
            "inputs_per_pegout": INPUTS,
            "signatures_per_pegout": THRESHOLD * INPUTS,
            **DURABILITY,
            "broadcaster": config.bridge.broadcaster.kind,
            "log_level": config.logging.level,
            "health_ping_timeout_s": config.supervision.health.ping_timeout_s,
            "clock_stops": "txid fsynced in the spool",
            "tracing": "every peg-out" if plan.tracing_endpoint else "off",
        }
        watcher = SpoolWatcher(Path(node.config.bridge.broadcaster.spool_path))
        watcher.start()
        try:
            client = Client(node.client)
            warm_up(client, watcher, requests)
            run_phases(figures, client, watcher, requests,
                       Metering(mock.process.pid, cpus_here()))
        finally:
            watcher.stop()
        figures.put("spool_duplicates", watcher.duplicates)
        figures.put("resent_after_restart", client.resent)
    return figures
