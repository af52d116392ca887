"""Each section of `scripts/bench`: measure, print its table, put its figures in the JSON.

The JSON keys tools read (issue 6) are filled here: `inbound.node_msgs_per_s`,
`inbound.grpc_ceiling_msgs_per_s`, `inbound.actor_ceiling_msgs_per_s`,
`outbound.node_msgs_per_s`, `pegout.p50_ms_at_100`, `pegout.p99_ms_at_100`,
`pegout.max_rate_p99_under_200ms`, `recovery.p99_ms`, `memory.idle_rss_mb_max`.
A figure that could not be measured is None, with its reason under the
section's `null_reasons`.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench import ceilings, footprint, growth, pegouts, stream, throughput
from bench.recovery import measure as measure_recovery
from harness.nodes import own_node
from supervision.tree import SUPERVISORS, WORKERS

# The payload mix of the node's inbound figure: signature answers and federation updates.
CEILING_PAYLOAD = "mixed"


def run_recovery(document: dict[str, Any], directory: Path, profile: Any, config: Any) -> None:
    with own_node(config) as node:
        stats = measure_recovery(node, (*WORKERS, *SUPERVISORS), profile.kills)
    print(f"recovery after SIGKILL: kill -> replacement answers Ping ({profile.kills} kills "
          f"per actor kind)")
    print(f"{'actor':<20} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for s in stats:
        print(f"{s.actor:<20} {s.p50_ms:>8.1f} {s.p99_ms:>8.1f} {s.max_ms:>8.1f}")
    print()
    document["recovery"] = {"p99_ms": max(s.p99_ms for s in stats),
                            "by_actor": [asdict(s) for s in stats]}


def run_stream(document: dict[str, Any], directory: Path, profile: Any, config: Any) -> None:
    reconnects, stalls = [], []
    for index in range(profile.runs):
        figures = stream.measure(directory / f"run{index}")
        reconnects.append(figures.reconnect_ms)
        stalls.append(figures.stall_detect_ms)
    print(f"governance stream (heartbeat every {figures.heartbeat_interval_s:g} s, timeout "
          f"{figures.heartbeat_timeout_s:g} s; median of {profile.runs}, spread in brackets)")
    print(f"  governance restarted -> stream registered again: {_median_text(reconnects)} ms")
    print(f"  stalled server -> stream torn down: {_median_text(stalls)} ms")
    print()
    document["stream"] = {"reconnect_ms": _stats(reconnects), "stall_detect_ms": _stats(stalls),
                          "heartbeat_interval_s": figures.heartbeat_interval_s,
                          "heartbeat_timeout_s": figures.heartbeat_timeout_s}
    document.setdefault("recovery", {})["governance_restart_ms"] = _stats(reconnects)["median"]


def run_throughput(document: dict[str, Any], directory: Path, profile: Any,
                   config: Any) -> None:
    node = throughput.measure(directory / "node", count=profile.messages, runs=profile.runs)
    grpc = ceilings.grpc_ceiling(profile.ceiling_messages, CEILING_PAYLOAD, runs=profile.runs)
    actor = ceilings.actor_ceiling(profile.ceiling_messages, CEILING_PAYLOAD,
                                   runs=profile.runs)
    untagged = ceilings.untagged_actor_ceiling(profile.ceiling_messages, CEILING_PAYLOAD,
                                               runs=profile.runs)
    summary = node.summary()
    inbound, outbound = summary["inbound"], summary["outbound"]
    # Issue 6 defines the gRPC ceiling as a plain stream echoing the same messages: each frame
    # crosses the stream once each way, as a node's request and governance's answer do. The
    # push-only rate (the server sends, the client only reads) is shown beside it.
    echo_rate, push_rate = grpc.get("echo_msgs_per_s"), grpc.get("msgs_per_s")
    actor_rate = actor.get("msgs_per_s")
    print(f"message rates (median of {profile.runs} runs, spread in brackets; the node's "
          f"{profile.messages:,} each way, ceilings {profile.ceiling_messages:,} "
          f"{CEILING_PAYLOAD} frames)")
    print(f"{'':<52} {'msg/s':>9} {'vs gRPC':>8} {'vs push':>8} {'vs actor':>9}")
    rows = [
        ("node inbound: governance -> bridge/chain, handled", inbound["median"],
         inbound["spread"]),
        ("node outbound: bridge -> governance (RequestSignatures)", outbound["median"],
         outbound["spread"]),
        ("ceiling: plain grpcio stream, echo (the gRPC ceiling)", echo_rate,
         grpc.get("echo_spread")),
        ("  the same stream, server -> client only (push)", push_rate, grpc.get("spread")),
        ("ceiling: plain Thespian pipeline, 1 message/send", actor_rate, actor.get("spread")),
        ("  the same, frames not tagged (what the tag costs)", untagged.get("msgs_per_s"),
         untagged.get("spread")),
    ]
    for label, rate, spread in rows:
        print(f"{label:<52} {_rate(rate):>9} {_ratio(rate, echo_rate):>8} "
              f"{_ratio(rate, push_rate):>8} {_ratio(rate, actor_rate):>9}  {_spread(spread)}")
    print("  every frame of the node and of the Thespian ceiling carries an HMAC tag "
          "(runtime/frames.py), and both run Thespian's loop as the node adapts it "
          "(runtime/leanloop.py); the untagged row is the same without the tag")
    print(f"  the Thespian ceiling runs with {actor.get('transmit_window')} transmits in flight "
          f"(the library allows {actor.get('default_transmit_window')} by default, as the node "
          f"runs: {_rate(actor.get('default_window_msgs_per_s'))} msg/s); with Batches of "
          f"{actor.get('batch_size')} per send: {_rate(actor.get('batched_msgs_per_s'))} msg/s")
    print(f"  gRPC frames: {grpc.get('frames_bytes')} B on average")
    cpu = summary["inbound_cpu_us_per_msg"]
    if cpu:
        parts = ", ".join(f"{name} {us:.0f}" for name, us in sorted(cpu.items(),
                                                                    key=lambda item: -item[1]))
        print(f"  node inbound, CPU per message (µs, median of the runs; the mock and the "
              f"benchmark included): {parts}; total {sum(cpu.values()):.0f}")
    print()
    document["inbound"] = {
        "node_msgs_per_s": inbound["median"], "node_spread": inbound["spread"],
        "grpc_ceiling_msgs_per_s": echo_rate, "grpc_push_ceiling_msgs_per_s": push_rate,
        "actor_ceiling_msgs_per_s": actor_rate,
        "ratio_to_grpc": _ratio_value(inbound["median"], echo_rate),
        "ratio_to_grpc_push": _ratio_value(inbound["median"], push_rate),
        "ratio_to_actor": _ratio_value(inbound["median"], actor_rate),
        "cpu_us_per_msg": cpu,
        "actor_untagged_ceiling_msgs_per_s": untagged.get("msgs_per_s"),
        "grpc": grpc, "actor": actor, "actor_untagged": untagged, "payload": CEILING_PAYLOAD,
    }
    document["outbound"] = {
        "node_msgs_per_s": outbound["median"], "node_spread": outbound["spread"],
        "ratio_to_grpc": _ratio_value(outbound["median"], echo_rate),
        "ratio_to_grpc_push": _ratio_value(outbound["median"], push_rate),
        "ratio_to_actor": _ratio_value(outbound["median"], actor_rate),
    }


def run_pegouts(document: dict[str, Any], directory: Path, profile: Any, config: Any) -> None:
    plan = pegouts.PegoutPlan(singles=profile.pegout_singles, burst=profile.pegout_burst,
                              rates=tuple(profile.pegout_rates),
                              rate_seconds=profile.pegout_seconds, runs=profile.runs,
                              paddings=tuple(profile.paddings), bursts=tuple(profile.bursts),
                              script_type=profile.pegout_script_type,
                              tracing_endpoint=profile.tracing_endpoint)
    figures = pegouts.measure(directory, plan)
    pegouts.print_table(figures)
    print()
    result = figures.as_json()
    result["max_rate_p99_under_200ms"] = pegouts.max_rate_under(figures, 200.0)
    if result["max_rate_p99_under_200ms"] is None:
        result["null_reasons"]["max_rate_p99_under_200ms"] = (
            "no offered rate had its p99 under 200 ms")
    if 100.0 not in plan.rates:
        for key in ("p50_ms_at_100", "p99_ms_at_100"):
            result[key] = None
            result["null_reasons"][key] = "100/s was not among the offered rates"
    document["pegout"] = result


def run_growth(document: dict[str, Any], directory: Path, profile: Any, config: Any) -> None:
    load_before = growth.load_1m()
    results = growth.measure(directory, sizes=tuple(profile.growth_sizes))
    growth.print_table(results)
    print()
    document["growth"] = {"by_size": results,
                          "machine_load_1m": [load_before, growth.load_1m()]}


def run_footprint(document: dict[str, Any], directory: Path, profile: Any,
                  config: Any) -> None:
    figures = footprint.measure(directory, runs=profile.startup_runs,
                                load_pegouts=profile.memory_load)
    footprint.print_footprint(figures)
    print()
    document["startup"] = figures["startup"]
    document["memory"] = figures["memory"]


# -- formatting -------------------------------------------------------------------------


def _stats(values: list[float]) -> dict[str, Any]:
    return {"median": round(statistics.median(values), 1),
            "spread": [min(values), max(values)], "runs": values}


def _median_text(values: list[float]) -> str:
    return f"{statistics.median(values):.0f} [{min(values):.0f}, {max(values):.0f}]"


def _rate(value: float | None) -> str:
    return f"{value:,.0f}" if value is not None else "n/a"


def _ratio_value(value: float | None, ceiling: float | None) -> float | None:
    return round(value / ceiling, 2) if value and ceiling else None


def _ratio(value: float | None, ceiling: float | None) -> str:
    ratio = _ratio_value(value, ceiling)
    return f"{ratio:.0%}" if ratio is not None else "n/a"


def _spread(spread: Any) -> str:
    return f"[{spread[0]:,.0f}, {spread[1]:,.0f}]" if spread else ""
