"""The inbound benchmark's two ceilings run end to end with small counts; figures are not judged.

Both must leave no process behind: the gRPC server and client are children
of this process; the Thespian admin daemonizes into a session of its own
with its logger and actors, so that session must be empty. This process
must never import grpc: it creates actor systems, which fork.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import pytest

from bench.ceilings import actor_ceiling, grpc_ceiling, untagged_actor_ceiling
from harness.nodes import assert_session_gone, descendants
from harness.waiting import wait_until

pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]


def assert_nothing_left(before: set[int]) -> None:
    wait_until(lambda: not (descendants() - before), timeout=10.0,
               message="the ceiling left processes behind")


def assert_actors_gone(result: dict[str, Any], before: set[int]) -> None:
    assert result["processes"]["session"] != os.getsid(0)
    assert_session_gone(result["processes"]["session"])
    assert_nothing_left(before)


def assert_figure(result: dict[str, Any], prefix: str, runs: int) -> None:
    rate = result[f"{prefix}msgs_per_s"]
    assert isinstance(rate, int) and rate > 0, (prefix, result)
    assert len(result[f"{prefix}runs"]) == runs, (prefix, result)
    low, high = result[f"{prefix}spread"]
    assert 0 < low <= rate <= high, (prefix, result)


def test_grpc_ceiling_pushes_and_echoes_real_frames() -> None:
    before = descendants()
    result = grpc_ceiling(500, "mixed", runs=2)
    assert_figure(result, "", 2)
    assert_figure(result, "echo_", 2)
    # Alternating a ~700-byte SignatureResponse and a ~430-byte FederationUpdate.
    assert 500 < result["frames_bytes"] < 600, result
    assert result["request_bytes"] > 200, result
    assert "grpc" not in sys.modules
    assert_nothing_left(before)


def test_actor_ceiling_single_and_batched() -> None:
    before = descendants()
    result = actor_ceiling(1500, "signature", runs=1)
    for prefix in ("", "batched_", "default_window_", "default_window_batched_"):
        assert_figure(result, prefix, 1)
    assert result["null_reasons"] == {}
    assert result["default_window_count"] == 1000
    assert_actors_gone(result, before)


def test_actor_ceiling_without_two_batches_reports_null_with_reason() -> None:
    before = descendants()
    result = actor_ceiling(500, "federation", runs=1)
    assert_figure(result, "", 1)
    assert result["batched_msgs_per_s"] is None
    assert "fewer than two Batches" in result["null_reasons"]["batched_msgs_per_s"]
    assert_actors_gone(result, before)


def test_the_untagged_ceiling_is_measured_in_a_process_of_its_own() -> None:
    # The tag's cost is this beside the tagged ceiling; the test process has installed a
    # frame key (other tests started nodes), so the untagged run must be elsewhere.
    result = untagged_actor_ceiling(1500, "signature", runs=1)
    assert result["tagged"] is False and result["msgs_per_s"] > 0
