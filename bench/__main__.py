"""`scripts/bench`: measure the node on real processes; print a table, optionally JSON.

For now it measures recovery after SIGKILL per actor kind and the governance
stream (inbound rate, reconnect, stall detection); the benchmark issue grows
it (the gRPC and Thespian ceilings beside the node's figures, latency,
footprint).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

import yaml

from supervision.config import load_config
from supervision.rundir import prepare_metrics_dir


def bench_config(directory: Path, admin_port: int) -> Path:
    """A node with limits wide enough that repeated kills never escalate."""
    wide = {"strategy": "one_for_one", "intensity": 1000, "period_s": 60}
    document = {
        "node": {"id": "alys-bench"},
        "actor_system": {"admin_port": admin_port},
        "governance": {"mock": {"enabled": False}},
        "chain": {"federation": {"threshold": 1, "members": [
            {"member_id": "m1", "public_key": "02" + "11" * 32}]}},
        "supervision": {"supervisors": {name: wide for name in
                                        ("root", "storage_supervisor", "system_supervisor")}},
        "metrics": {"port": admin_port + 1},
        "logging": {"file": str(directory / "node.log"), "level": "WARNING"},
        "storage": {"path": str(directory / "data" / "node.sqlite3")},
    }
    path = directory / "bench.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20, help="kills per actor kind")
    parser.add_argument("--inbound", type=int, default=30_000,
                        help="messages governance pushes for the inbound rate")
    parser.add_argument("--admin-port", type=int, default=19700)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="alys-bench-") as tmp:
        directory = Path(tmp)
        config = load_config(bench_config(directory, args.admin_port))
        prepare_metrics_dir(directory / "metrics")
        # Imported only now: prometheus_client must see the metrics directory first.
        from bench import stream
        from bench.recovery import measure
        from supervision.node import Node
        from supervision.tree import SUPERVISORS, WORKERS

        node = Node(config, transient_unique=True)
        node.start()
        try:
            recovery = measure(node, (*WORKERS, *SUPERVISORS), args.kills)
        finally:
            node.stop()
        figures = stream.measure(directory / "stream", args.inbound)

    machine = (f"{platform.machine()}, {platform.python_implementation()} "
               f"{platform.python_version()}")
    print(f"recovery after SIGKILL: kill -> replacement answers Ping ({args.kills} kills each; "
          f"{machine})")
    print(f"{'actor':<20} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for stats in recovery:
        print(f"{stats.actor:<20} {stats.p50_ms:>8.1f} {stats.p99_ms:>8.1f} {stats.max_ms:>8.1f}")
    print()
    print(f"governance stream (heartbeat every {figures.heartbeat_interval_s:g}s, "
          f"timeout {figures.heartbeat_timeout_s:g}s)")
    print(f"  inbound routed and handled: {figures.inbound_msgs_per_s:,.0f} msg/s "
          f"({figures.inbound_count:,} federation updates)")
    print(f"  reconnect after a server restart: {figures.reconnect_ms:.0f} ms")
    print(f"  stall detected after: {figures.stall_detect_ms:.0f} ms")
    if args.json:
        document = {"recovery": {"p99_ms": max(s.p99_ms for s in recovery),
                                 "by_actor": [asdict(s) for s in recovery]},
                    "inbound": {"node_msgs_per_s": figures.inbound_msgs_per_s},
                    "stream": asdict(figures),
                    "machine": machine}
        args.json.write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
