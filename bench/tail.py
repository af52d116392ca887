"""Where a peg-out's time goes, hop by hop, at the median and in the tail.

`python -m bench.tail [--rate 100] [--seconds 10] [--cpus 0]` starts the real-signing
mock and a node that traces every peg-out (OpenTelemetry, to a collector on
loopback), sends peg-outs one at a time and then at an offered rate, and splits
each traced peg-out into its steps: every span (a handler, a commit, the
governance round trip, the broadcast) and every gap before a span (a Thespian
hop and the time the message waited in the next actor's mailbox). It prints,
for each step, its median and p99 over all peg-outs, and its mean over the
slowest 1 % of them: the step that grows there is where the tail is spent. It
also prints the CPU each process used per peg-out during the rate (`bench.cpu`),
and how busy that left the CPUs: a tail at a modest rate on busy CPUs is a
queue, and the per-process figures say whose work to cut.

Tracing adds a little to each step (a few tens of microseconds per span); the
figures are for comparing steps with each other, not with `scripts/bench`'s.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.__main__ import cpu_list
from bench.cpu import cpus_here, metered, per_pegout
from bench.otlp_sink import otlp_sink
from bench.recovery import percentile

# Spans of other traces (pushes, health) and the root itself are not steps of a peg-out.
ROOT = "pegout"
FLUSH_WAIT_S = 30.0  # the SDK exports every 5 s; a loaded machine may take a few rounds


@dataclass(frozen=True)
class Span:
    name: str
    trace_id: bytes
    parent: bytes
    start_ns: int
    end_ns: int
    request_id: str = ""  # a root span's: the peg-out it traces


def phase_of(request_id: str) -> str:
    """The label a peg-out's id was made with (`bench-<label>-<seed>`): its phase."""
    return request_id.split("-")[1] if request_id.count("-") >= 2 else ""


def decode(bodies: Iterable[bytes]) -> list[Span]:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    spans: list[Span] = []
    for body in bodies:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        for resource in request.resource_spans:
            for scope in resource.scope_spans:
                spans.extend(Span(s.name, s.trace_id, s.parent_span_id, s.start_time_unix_nano,
                                  s.end_time_unix_nano, _request_id(s)) for s in scope.spans)
    return spans


def _request_id(span: object) -> str:
    for attribute in getattr(span, "attributes", ()):
        if attribute.key == "request_id":
            return str(attribute.value.string_value)
    return ""


def steps(trace: Sequence[Span]) -> dict[str, float] | None:
    """One peg-out's steps in ms: each span's duration, and the gap before it (from the
    latest end of the spans before it); None unless the trace has its root."""
    roots = [s for s in trace if s.name == ROOT]
    if len(roots) != 1:
        return None
    root = roots[0]
    result: dict[str, float] = {"total": (root.end_ns - root.start_ns) / 1e6}
    seen: dict[str, int] = defaultdict(int)
    reached = root.start_ns
    for span in sorted((s for s in trace if s is not root), key=lambda s: s.start_ns):
        seen[span.name] += 1
        label = span.name if seen[span.name] == 1 else f"{span.name} #{seen[span.name]}"
        result[f"  -> {label}"] = max(0, span.start_ns - reached) / 1e6
        result[label] = (span.end_ns - span.start_ns) / 1e6
        reached = max(reached, span.end_ns)
    result["  -> end of the trace"] = max(0, root.end_ns - reached) / 1e6
    return result


def table(title: str, traces: list[dict[str, float]]) -> str:
    if not traces:
        return f"{title}: no complete trace"
    labels = list(dict.fromkeys(label for trace in traces for label in trace))
    slowest = sorted(traces, key=lambda t: t["total"])[-max(1, len(traces) // 100):]
    lines = [f"{title}: {len(traces)} peg-outs traced",
             f"{'step':<44}{'p50 ms':>9}{'p99 ms':>9}{'slowest 1%':>12}"]
    for label in labels:
        values = [trace.get(label, 0.0) for trace in traces]
        worst = sum(trace.get(label, 0.0) for trace in slowest) / len(slowest)
        lines.append(f"{label:<44}{percentile(values, 0.5):9.2f}"
                     f"{percentile(values, 0.99):9.2f}{worst:12.2f}")
    return "\n".join(lines)


def by_trace(spans: list[Span], trace_ids: set[bytes]) -> list[dict[str, float]]:
    grouped: dict[bytes, list[Span]] = defaultdict(list)
    for span in spans:
        if span.trace_id in trace_ids:
            grouped[span.trace_id].append(span)
    return [found for trace in grouped.values() if (found := steps(trace)) is not None]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tail",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=100.0, help="offered peg-outs per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long the rate lasts")
    parser.add_argument("--singles", type=int, default=50, help="peg-outs one at a time first")
    parser.add_argument("--cpus", type=cpu_list, metavar="LIST",
                        help="run everything on these CPUs only (e.g. 0): a slower machine")
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.seconds <= 0 or args.singles < 1:
        parser.error("--rate and --seconds must be positive, --singles at least 1")
    if args.cpus:
        os.sched_setaffinity(0, args.cpus)

    from bench.pegouts.bridge import Client, cpu_meter, warm_up
    from bench.pegouts.load import FEDERATIONS, Requests, SpoolWatcher, pegout_node
    from bench.pegouts.phases import offered, one_at_a_time
    from harness.stream import wait_state

    with tempfile.TemporaryDirectory(prefix="alys-tail-") as tmp, \
            otlp_sink(keep=True) as (endpoint, sink):
        federation = FEDERATIONS["p2wsh"]
        requests = Requests(federation=federation)
        with pegout_node(Path(tmp), federation=federation, tracing_endpoint=endpoint) as (
                node, mock):
            wait_state(node.client, "connected")
            watcher = SpoolWatcher(Path(node.config.bridge.broadcaster.spool_path))
            watcher.start()
            try:
                client = Client(node.client)
                warm_up(client, watcher, requests)
                singles = requests.make("single", args.singles)
                phases = [("one at a time", "single",
                           one_at_a_time(client, watcher, singles))]
                paced = requests.make("paced", max(1, round(args.rate * args.seconds)))
                with metered(cpu_meter(node.client, mock.process.pid), cpus_here()) as cost:
                    phases.append((f"{args.rate:g}/s for {args.seconds:g} s", "paced",
                                   offered(client, watcher, paced, args.rate)[0]))
                cpu_line = per_pegout(cost[0].used, len(paced), cost[0].wall_s, cost[0].cpus)
            finally:
                watcher.stop()
            # Every peg-out's root span ends as it is spooled; wait for their exports (the
            # warm-up's do not count: they would end the wait before the last phase's came).
            expected = sum(len(outcome.latencies_ms) for _name, _label, outcome in phases)
            deadline = time.monotonic() + FLUSH_WAIT_S
            while len(phase_roots(decode(sink.bodies()), {"single", "paced"})) < expected \
                    and time.monotonic() < deadline:
                time.sleep(0.5)
        # Stopping the node flushed every process's exporter: decode what arrived.
        spans = decode(sink.bodies())
    for name, label, outcome in phases:
        ids = {s.trace_id for s in phase_roots(spans, {label})}
        latencies = outcome.latencies_ms
        client_side = (f"client-side latency: p50 {percentile(latencies, 0.5):.1f} ms, "
                       f"p99 {percentile(latencies, 0.99):.1f} ms" if latencies else "")
        print(table(name, by_trace(spans, ids)))
        print(client_side, "\n")
    print(cpu_line, "(tracing on; the benchmark's own process included)")
    print(f"({os.cpu_count()} cores"
          f"{', pinned to CPU ' + ','.join(map(str, sorted(args.cpus))) if args.cpus else ''})")
    return 0


def phase_roots(spans: Iterable[Span], labels: set[str]) -> list[Span]:
    """The root spans of the peg-outs whose ids were made with one of `labels`."""
    return [s for s in spans if s.name == ROOT and phase_of(s.request_id) in labels]


if __name__ == "__main__":
    sys.exit(main())
