"""`scripts/chaos`: inject faults into a running node under peg-out load; nothing is lost.

Runs against a node started by `scripts/start` (same `--config`; the config's
mock governance server must be enabled, since it signs for the node's local
federation, and the broadcaster must be the spool file). On a seeded random
schedule it SIGKILLs actor processes (or SIGSTOPs one, a hang, with
`--hang-ratio`), while sending peg-outs to the BridgeActor; then it waits
until every accepted peg-out is in the spool, prints a report, and exits
non-zero if a peg-out was lost or duplicated, or a recovery took longer than
its bound.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.recovery import percentile
from chaos import hostile
from chaos.faults import Fault, inject
from chaos.load import PegoutLoad
from client import ClientError, NodeClient, NodeUnreachable, connect
from mock_governance.control_client import MockControlClient
from nodeconfig import ConfigError, NodeConfig, default_config_path, load_config

EXIT_OK = 0
EXIT_INVARIANT_BROKEN = 1
EXIT_USAGE = 2


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/chaos", description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(default_config_path()))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--faults", type=int, default=None, help="stop after this many faults")
    parser.add_argument("--duration-s", type=float, default=30.0,
                        help="stop injecting after this long (when --faults is not given)")
    parser.add_argument("--targets", default="storage,chain,bridge,stream,storage_supervisor,"
                        "system_supervisor", help="comma-separated actor names (root too)")
    parser.add_argument("--hang-ratio", type=float, default=0.0,
                        help="share of faults that SIGSTOP instead of SIGKILL")
    parser.add_argument("--rate", type=float, default=100.0, help="peg-outs per second")
    parser.add_argument("--gap-s", type=float, nargs=2, default=(0.2, 1.0), metavar=("MIN", "MAX"),
                        help="random pause between faults")
    parser.add_argument("--max-recovery-s", type=float, default=1.0,
                        help="bound for recovery after a kill")
    parser.add_argument("--drain-s", type=float, default=120.0,
                        help="after the faults, wait this long at most for the spool")
    parser.add_argument("--json", type=Path, help="also write the report here")
    hostile.add_arguments(parser)
    return parser.parse_args(argv)


def summarize(faults: list[Fault]) -> dict[str, Any]:
    times = [f.recovery_s * 1000 for f in faults if f.recovery_s is not None]
    if not times:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None}
    return {"p50_ms": round(statistics.median(times), 1),
            "p99_ms": round(percentile(times, 0.99), 1), "max_ms": round(max(times), 1)}


def inject_faults(args: argparse.Namespace, node: NodeClient, load: PegoutLoad,
                  faults: list[Fault]) -> None:
    """Faults on the seeded schedule, the load running in between; appends to `faults`."""
    rng = random.Random(args.seed)
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    started = time.monotonic()
    while (len(faults) < args.faults if args.faults is not None
           else time.monotonic() - started < args.duration_s):
        pause_until = time.monotonic() + rng.uniform(*args.gap_s)
        while time.monotonic() < pause_until:
            load.tick()
            time.sleep(0.005)
        kind = "hang" if rng.random() < args.hang_ratio else "kill"
        fault = inject(node, kind, rng.choice(targets), load.tick)
        if fault is not None:
            faults.append(fault)
            took = f"{fault.recovery_s * 1000:.0f} ms" if fault.recovery_s else "NOT RECOVERED"
            print(f"{kind:<4} {fault.actor:<20} pid {fault.old_pid} -> {fault.new_pid}: {took}",
                  flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"alys-chaos: config error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not config.governance.mock.enabled:
        print("alys-chaos: needs the node's local mock governance server "
              "(governance.mock.enabled): it signs for the federation the peg-outs spend",
              file=sys.stderr)
        return EXIT_USAGE
    if config.bridge.broadcaster.kind != "spool":
        print("alys-chaos: needs bridge.broadcaster.kind: spool: lost and duplicated "
              "peg-outs are counted from the spool file", file=sys.stderr)
        return EXIT_USAGE
    try:
        node = connect(config)
    except ClientError as exc:
        print(f"alys-chaos: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.hostile:
        return main_hostile(args, node, config)
    # Milliseconds: two runs must never share request ids (hence txids) on one spool.
    load = PegoutLoad(node, MockControlClient(config.governance.mock.control_port), config,
                      run_id=f"{args.seed}-{int(time.time() * 1000)}", rate_per_s=args.rate)
    health = config.supervision.health
    hang_bound_s = health.ping_interval_s + health.ping_timeout_s + args.max_recovery_s
    faults: list[Fault] = []
    node_stopped: str | None = None
    started = time.monotonic()
    try:
        inject_faults(args, node, load, faults)
    except NodeUnreachable as exc:
        # The launcher stops the whole node once its root failed more often than the
        # root's intensity allows: then nothing answers, so say so, not a traceback.
        node_stopped = str(exc)
    duration_s = time.monotonic() - started
    drain_started = time.monotonic()
    if node_stopped is None:
        print(f"drain: {len(load.accepted)} peg-outs accepted, {len(load.unanswered)} not "
              f"yet answered; waiting for the spool (at most {args.drain_s:.0f} s)", flush=True)
        try:
            result = load.drain(timeout_s=args.drain_s)
        except NodeUnreachable as exc:
            node_stopped = str(exc)
    if node_stopped is not None:
        print(f"alys-chaos: the node's actor system stopped answering ({node_stopped}); "
              f"was the node stopped? see {config.logging.file}", file=sys.stderr)
        result = load.result(load.spooled())  # the spool is still there to be read

    kills = [f for f in faults if f.kind == "kill"]
    hangs = [f for f in faults if f.kind == "hang"]
    too_slow = [f for f in kills if f.recovery_s is None or f.recovery_s > args.max_recovery_s]
    too_slow += [f for f in hangs if f.recovery_s is None or f.recovery_s > hang_bound_s]
    report = {
        "seed": args.seed, "duration_s": round(duration_s, 1),
        "faults": len(faults), "kills": len(kills), "hangs": len(hangs),
        "recovered": sum(1 for f in faults if f.recovery_s is not None),
        "recovery_kill": summarize(kills), "recovery_hang": summarize(hangs),
        "over_bound": [asdict(f) for f in too_slow],
        "requests": asdict(result), "rate_per_s": args.rate,
        "drain_s": round(time.monotonic() - drain_started, 1),
        "node_stopped": node_stopped,
    }
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    broken = result.lost or result.duplicated or too_slow or node_stopped
    print("chaos: " + ("FAILED: " + ", ".join(
        part for part, bad in (("the node stopped", node_stopped),
                               ("lost peg-outs", result.lost),
                               ("duplicated txids in the spool", result.duplicated),
                               ("recoveries over their bound", too_slow)) if bad)
        if broken else "ok: nothing lost, nothing duplicated, every recovery within bound"))
    # Not part of the exit code, but never expected in a healthy run: say so loudly.
    if result.rejected:
        print(f"chaos: WARNING: {result.rejected} peg-outs rejected: {result.rejections}")
    if result.unanswered:
        print(f"chaos: WARNING: {result.unanswered} peg-outs never answered by the bridge")
    return EXIT_INVARIANT_BROKEN if broken else EXIT_OK


def main_hostile(args: argparse.Namespace, node: NodeClient, config: NodeConfig) -> int:
    mock = MockControlClient(config.governance.mock.control_port)
    report = hostile.run_hostile(args, node, config, mock)
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    broken = hostile.broken_parts(report)
    if report["node_stopped"]:
        print(f"alys-chaos: the node's actor system stopped answering ({report['node_stopped']})"
              f"; see {config.logging.file}", file=sys.stderr)
    print("chaos: " + ("FAILED: " + ", ".join(broken) if broken else
                       "ok: nothing stranded, paid twice, lost or duplicated"))
    pegouts = report["pegouts"]
    if pegouts["late"]:
        print(f"chaos: WARNING: {pegouts['late']} peg-outs became final after their liveness "
              f"bound: {pegouts['late_ids']}")
    if pegouts["rejected"] or pegouts["unanswered"]:
        print(f"chaos: WARNING: {pegouts['rejected']} rejected ({pegouts['rejections']}), "
              f"{pegouts['unanswered']} never answered")
    return EXIT_INVARIANT_BROKEN if broken else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
