"""`scripts/status`: what a running node's actors and stream are doing.

It talks to the node only through the Thespian ActorSystem API, and never
starts an actor system by accident: Thespian starts a fresh admin when asked
for one on a free port, so the admin port is checked for a listener first,
and if what answers there turns out not to be an alys node, any admin this
tool may have started is shut down again.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
from dataclasses import asdict
from typing import Any

from supervision.config import ConfigError, NodeConfig, default_config_path, load_config

EXIT_OK = 0
EXIT_NO_NODE = 1
EXIT_CONFIG = 2
ASK_TIMEOUT_S = 5.0


class StatusError(Exception):
    """No node answered; the message says where we looked."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/status",
                                     description="Report the actors of a running alys node.")
    parser.add_argument("--config", default=str(default_config_path()),
                        help="the node's YAML config (default: configs/local.yaml)")
    parser.add_argument("--json", action="store_true", help="print JSON for machines")
    return parser.parse_args(argv)


def admin_listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def fetch_report(config: NodeConfig) -> Any:
    """Ask the node's root for `NodeStatus`; raise StatusError if no node answers."""
    host, port = config.actor_system.host, config.actor_system.admin_port
    where = f"admin port {port} on {host}"
    if not admin_listening(host, port):
        raise StatusError(f"no alys node is running: nothing listens on {where}")
    # Imported late: only once we know an admin is there to join.
    from thespian.actors import ActorSystem

    from actors.messages import NodeStatus, NodeStatusReport
    from supervision.logs import thespian_log_path
    from supervision.loopback import confine_actor_sockets
    from supervision.processes import listening_pid
    from supervision.root import RootSupervisor
    from supervision.tree import ROOT_GLOBAL_NAME

    admin_before = listening_pid(port)
    confine_actor_sockets(host)
    # Thespian's own log, should it write one, goes beside the node's (not to /tmp).
    os.environ.setdefault("THESPLOG_FILE", str(thespian_log_path(config.logging.file)))
    asys = ActorSystem("multiprocTCPBase", {"Admin Port": port}, transientUnique=True)
    try:
        root = asys.createActor(RootSupervisor, globalName=ROOT_GLOBAL_NAME)
        reply = asys.ask(root, NodeStatus(), ASK_TIMEOUT_S)
    except Exception as exc:  # Thespian raises several kinds when the peer is no admin
        reply = None
        detail = f" ({type(exc).__name__}: {exc})"
    else:
        detail = ""
    if isinstance(reply, NodeStatusReport) and reply.actors:
        return reply
    if listening_pid(port) != admin_before:
        asys.shutdown()  # we started that admin ourselves: take it down again
    if isinstance(reply, NodeStatusReport):
        raise StatusError(f"the actor system on {where} has no running alys node "
                          "(its root supervisor was never started)")
    raise StatusError(f"no alys node answered on {where}{detail}")


def as_json(report: Any) -> dict[str, Any]:
    return {
        "node_id": report.node_id,
        "actors": [asdict(a) for a in report.actors],
        "stream": asdict(report.stream) if report.stream is not None else None,
    }


def as_table(report: Any) -> str:
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
    except StatusError as exc:
        print(f"alys-status: {exc}", file=sys.stderr)
        return EXIT_NO_NODE
    print(json.dumps(as_json(report), indent=2) if args.json else as_table(report))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
