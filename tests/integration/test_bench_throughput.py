"""`scripts/bench --only throughput` end to end with tiny numbers; its figures are not judged."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.bench import run_bench

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]


def test_throughput_benchmark_reports_the_node_beside_both_ceilings(tmp_path: Path) -> None:
    text, document = run_bench(tmp_path, "--only", "throughput", "--messages", "100",
                               "--runs", "1")
    inbound, outbound = document["inbound"], document["outbound"]
    for key in ("node_msgs_per_s", "grpc_ceiling_msgs_per_s", "grpc_push_ceiling_msgs_per_s",
                "actor_ceiling_msgs_per_s", "ratio_to_grpc", "ratio_to_grpc_push"):
        assert isinstance(inbound[key], int | float) and inbound[key] > 0, (key, inbound[key])
    assert outbound["node_msgs_per_s"] > 0
    # The gRPC ceiling is the echo stream; the push-only rate sits beside it.
    assert inbound["grpc_ceiling_msgs_per_s"] == inbound["grpc"]["echo_msgs_per_s"]
    assert inbound["grpc_push_ceiling_msgs_per_s"] == inbound["grpc"]["msgs_per_s"]
    assert "echo (the gRPC ceiling)" in text, text
    # Where each inbound message's CPU went: the node's actors, the mock, the benchmark.
    cpu = inbound["cpu_us_per_msg"]
    assert {"bridge", "stream", "chain", "storage", "mock", "benchmark"} <= cpu.keys(), cpu
    assert cpu["bridge"] > 0 and cpu["stream"] > 0, cpu
    assert "node inbound, CPU per message" in text, text
