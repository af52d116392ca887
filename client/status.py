"""`scripts/status`: what a running node's actors and stream are doing.

It talks to the node only through the client library, and never starts an
actor system by accident (see `client.connection.connect_to`).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from typing import Any

from actors.messages import NodeStatusReport
from client import ClientError, connect
from nodeconfig import ConfigError, NodeConfig, default_config_path, load_config

EXIT_OK = 0
EXIT_NO_NODE = 1
EXIT_CONFIG = 2


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/status",
                                     description="Report the actors of a running alys node.")
    parser.add_argument("--config", default=str(default_config_path()),
                        help="the node's YAML config (default: configs/local.yaml)")
    parser.add_argument("--json", action="store_true", help="print JSON for machines")
    return parser.parse_args(argv)


def fetch_report(config: NodeConfig) -> NodeStatusReport:
    """Ask the node's root for `NodeStatus`; `ClientError` if no node answers."""
    with connect(config) as node:
        return node.node_status()


def as_json(report: NodeStatusReport) -> dict[str, Any]:
    return {
        "node_id": report.node_id,
        "actors": [asdict(a) for a in report.actors],
        "stream": asdict(report.stream) if report.stream is not None else None,
    }


def as_table(report: NodeStatusReport) -> str:
    lines = [f"node {report.node_id}", "",
             f"{'actor':<20} {'pid':>7} {'state':<11} {'restarts':>8} {'uptime_s':>10}  supervisor"]
    for a in report.actors:
        pid = str(a.pid) if a.pid else "-"
        lines.append(f"{a.name:<20} {pid:>7} {a.state:<11} {a.restarts:>8} "
                     f"{a.uptime_s:>10.1f}  {a.supervisor}")
    stream = report.stream
    lines.append("")
    if stream is None:
        lines.append("stream: no answer")
    else:
        lines.append(f"stream: {stream.state} endpoint={stream.endpoint or '-'} "
                     f"sent={stream.messages_sent} received={stream.messages_received} "
                     f"buffered={stream.buffered} pending={stream.pending} "
                     f"reconnects={stream.reconnects} circuit={stream.circuit}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"alys-status: config error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        report = fetch_report(config)
    except ClientError as exc:
        print(f"alys-status: {exc}", file=sys.stderr)
        return EXIT_NO_NODE
    print(json.dumps(as_json(report), indent=2) if args.json else as_table(report))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
