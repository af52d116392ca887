"""The metrics the alerts and the dashboard read move when their event happens: a real
node (its actors in their own processes) against the real mock governance process.

What these nodes' processes write is read from their metrics directory, summed as the
launcher's /metrics sums it (`harness.scrape.node_exposition`). The metrics read at scrape
time by the launcher itself (build, per-actor CPU and memory, disk) are checked through a
real `scripts/start` in test_prometheus.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from actors.messages import GovernanceError, PegoutAccepted, RequestQueued
from actors.stream.metrics import ERROR_CODE_LABELS, OTHER_CODE
from harness.mock import MockGovernance, start_mock_governance
from harness.scrape import node_exposition, sample, samples
from harness.stream import stream_node, wait_state
from harness.waiting import wait_until
from tests.integration.test_stream import signature_request
from tests.support.pegouts import initiate, pegout, pegout_node, wait_pegout
from tests.support.stream import collect, submit

pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]

BROADCAST_COUNT = "alys_pegout_accepted_to_broadcast_seconds_count"
LAST_SIGNED = "alys_pegout_last_signed_timestamp_seconds"
OLDEST_AWAITING = "alys_pegout_oldest_awaiting_since_timestamp_seconds"
ERRORS = "alys_stream_governance_errors_total"
CIRCUIT = "alys_stream_circuit_state"
DURATION_BUCKET = "alys_stream_request_duration_seconds_bucket"
SIGNATURE_TIMEOUT_S = 7.5  # not on the histogram's usual ladder: it must become a bound


@pytest.fixture
def mock(tmp_path: Path) -> Iterator[MockGovernance]:
    server = start_mock_governance(tmp_path / "mock")
    yield server
    server.stop()


def value(name: str, **labels: str) -> float:
    return sample(node_exposition(), name, labels) or 0.0


def test_a_broadcast_pegout_is_timed_from_acceptance_and_its_signing_time_is_exported(
        tmp_path: Path) -> None:
    with pegout_node(tmp_path) as (node, _mock):
        assert value(BROADCAST_COUNT) == 0 and value(LAST_SIGNED) == 0  # 0: never signed
        before = time.time()
        assert initiate(node, [pegout("timed", seed=1)]) == [PegoutAccepted("timed")]
        wait_pegout(node, "timed", "broadcast")
        wait_until(lambda: value(BROADCAST_COUNT) == 1, timeout=30,
                   message="the broadcast was not timed")
        text = node_exposition()
        took = sample(text, "alys_pegout_accepted_to_broadcast_seconds_sum")
        assert took is not None and 0 <= took < time.time() - before
        signed_at = sample(text, LAST_SIGNED)
        assert signed_at is not None and before <= signed_at <= time.time()


def test_the_oldest_waiting_pegout_is_exported_while_it_waits_and_cleared_once_signed(
        tmp_path: Path) -> None:
    with pegout_node(tmp_path) as (node, mock):
        assert value(OLDEST_AWAITING) == 0
        mock.behave(hold_signatures=True)
        before = time.time()
        assert initiate(node, [pegout("held", seed=2)]) == [PegoutAccepted("held")]
        since = wait_until(lambda: value(OLDEST_AWAITING), timeout=30,
                           message="the waiting peg-out was not exported")
        assert before <= since <= time.time()
        mock.behave(hold_signatures=False)
        mock.release()
        wait_pegout(node, "held", "broadcast")
        wait_until(lambda: value(OLDEST_AWAITING) == 0, timeout=30,
                   message="the signed peg-out still counts as waiting")


def test_circuit_state_governance_error_codes_and_request_buckets_follow_the_stream(
        tmp_path: Path, mock: MockGovernance) -> None:
    assert mock.post("/behaviour", {"refuse_registration": True}).status == 200
    timeouts = {"signature": SIGNATURE_TIMEOUT_S, "pegin": 30, "status": 20}
    with stream_node(tmp_path, [mock.target], request_timeout_s=timeouts) as node:
        wait_state(node.client, "failed")
        wait_until(lambda: value(CIRCUIT, state="open") == 1, timeout=30,
                   message="the open circuit was not exported")
        assert value(CIRCUIT, state="closed") == 0

        assert mock.post("/behaviour", {"refuse_registration": False}).status == 200
        wait_state(node.client, "connected")
        wait_until(lambda: value(CIRCUIT, state="closed") == 1, timeout=30,
                   message="the closed circuit was not exported")
        assert value(CIRCUIT, state="open") == 0

        error = {"count": 1, "code": "internal_error", "message": "boom"}
        assert mock.post("/behaviour", {"error_next": error}).status == 200
        assert submit(node, [signature_request(1)]) == [RequestQueued("sig-1")]
        assert collect(node, 1) == [GovernanceError("sig-1", "internal_error", "boom", None,
                                                     "signature")]
        wait_until(lambda: value(ERRORS, code="internal_error") == 1, timeout=30,
                   message="the governance error was not counted by its code")
        # Every code has its series from the start (0 until it happens): bounded, and the
        # first error of a kind is an increase Prometheus can see.
        counted = {labels["code"]: count for labels, count in samples(node_exposition(), ERRORS)}
        assert set(counted) == {*ERROR_CODE_LABELS, OTHER_CODE}
        assert {code for code, count in counted.items() if count} == {"internal_error"}

        # Status updates (every 0.5 s here) are answered: the histogram has their times,
        # in buckets that reach every configured timeout and a PENDING-stretched signature.
        wait_until(lambda: value("alys_stream_request_duration_seconds_count",
                                 type="status") > 0,
                   timeout=30, message="no answered status update was timed")
        bounds = {labels["le"] for labels, _ in samples(node_exposition(), DURATION_BUCKET)
                  if labels["type"] == "status"}
        assert {"7.5", "15.0", "20.0", "30.0", "+Inf"} <= bounds
        assert "60.0" not in bounds  # nothing waits that long with these timeouts
