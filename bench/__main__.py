"""`scripts/bench`: measure the node on real processes; print a table, optionally JSON.

For now it measures recovery after SIGKILL per actor kind, the governance
stream (inbound rate, reconnect, stall detection) and peg-outs end to end
(latency one at a time, throughput, latency under offered load); the
benchmark issue grows it (the gRPC and Thespian ceilings beside the node's
figures, footprint).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import yaml

from supervision.config import load_config
from supervision.rundir import prepare_metrics_dir

SECTIONS = ("recovery", "stream", "pegouts")
# A valid secp256k1 point (federation_keys("bench", 1)): the ChainActor derives the
# federation's script from it at start.
BENCH_KEY = "0258fa04152f9a00130dbba4f3b1dbe3b58a8580451c13438dcf602b4bca539f18"


def rates(text: str) -> tuple[float, ...]:
    """`10,100,300` -> (10.0, 100.0, 300.0); every rate positive."""
    try:
        values = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a comma-separated list of rates: {text!r}") from None
    if not values or min(values) <= 0:
        raise argparse.ArgumentTypeError(f"rates must be positive numbers: {text!r}")
    return values


def bench_config(directory: Path, admin_port: int) -> Path:
    """A node with limits wide enough that repeated kills never escalate."""
    wide = {"strategy": "one_for_one", "intensity": 1000, "period_s": 60}
    document = {
        "node": {"id": "alys-bench"},
        "actor_system": {"admin_port": admin_port},
        "governance": {"mock": {"enabled": False}},
        "chain": {"federation": {"threshold": 1, "members": [
            {"member_id": "m1", "public_key": BENCH_KEY}]}},
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
    parser.add_argument("--pegouts", type=int, default=1000,
                        help="peg-outs sent at once for the throughput")
    parser.add_argument("--pegout-singles", type=int, default=50,
                        help="peg-outs sent one at a time for the latency")
    parser.add_argument("--pegout-rates", "--pegout-rate", type=rates, default=(10.0, 100.0, 300.0),
                        metavar="R[,R...]", help="offered loads in peg-outs per second")
    parser.add_argument("--pegout-seconds", type=float, default=5.0,
                        help="how long each offered load lasts")
    parser.add_argument("--only", action="append", choices=SECTIONS,
                        help="run only this part (repeatable); default: all of them")
    parser.add_argument("--admin-port", type=int, default=19700)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    if min(args.pegouts, args.pegout_singles) < 1 or args.pegout_seconds <= 0:
        parser.error("--pegouts and --pegout-singles need at least 1, --pegout-seconds > 0")
    sections = set(args.only or SECTIONS)

    recovery: list[Any] = []
    figures: Any = None
    pegout_figures: Any = None
    with tempfile.TemporaryDirectory(prefix="alys-bench-") as tmp:
        directory = Path(tmp)
        config = load_config(bench_config(directory, args.admin_port))
        prepare_metrics_dir(directory / "metrics")
        # Imported only now: prometheus_client must see the metrics directory first.
        from bench import pegouts, stream
        from bench.recovery import measure
        from supervision.node import Node
        from supervision.tree import SUPERVISORS, WORKERS

        if "recovery" in sections:
            node = Node(config, transient_unique=True)
            node.start()
            try:
                recovery = measure(node, (*WORKERS, *SUPERVISORS), args.kills)
            finally:
                node.stop()
        if "stream" in sections:
            figures = stream.measure(directory / "stream", args.inbound)
        if "pegouts" in sections:
            plan = pegouts.PegoutPlan(singles=args.pegout_singles, burst=args.pegouts,
                                      rates=tuple(args.pegout_rates),
                                      rate_seconds=args.pegout_seconds)
            pegout_figures = pegouts.measure(directory / "pegouts", plan)

    machine = (f"{platform.machine()}, {platform.python_implementation()} "
               f"{platform.python_version()}")
    document: dict[str, Any] = {"machine": machine}
    if recovery:
        print(f"recovery after SIGKILL: kill -> replacement answers Ping ({args.kills} kills "
              f"each; {machine})")
        print(f"{'actor':<20} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
        for stats in recovery:
            print(f"{stats.actor:<20} {stats.p50_ms:>8.1f} {stats.p99_ms:>8.1f} "
                  f"{stats.max_ms:>8.1f}")
        print()
        document["recovery"] = {"p99_ms": max(s.p99_ms for s in recovery),
                                "by_actor": [asdict(s) for s in recovery]}
    if figures is not None:
        print(f"governance stream (heartbeat every {figures.heartbeat_interval_s:g}s, "
              f"timeout {figures.heartbeat_timeout_s:g}s)")
        print(f"  inbound routed and handled: {figures.inbound_msgs_per_s:,.0f} msg/s "
              f"({figures.inbound_count:,} federation updates)")
        print(f"  reconnect after a server restart: {figures.reconnect_ms:.0f} ms")
        print(f"  stall detected after: {figures.stall_detect_ms:.0f} ms")
        print()
        document["inbound"] = {"node_msgs_per_s": figures.inbound_msgs_per_s}
        document["stream"] = asdict(figures)
    if pegout_figures is not None:
        pegouts.print_table(pegout_figures)
        document["pegout"] = pegout_figures.as_json()
    if args.json:
        args.json.write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
