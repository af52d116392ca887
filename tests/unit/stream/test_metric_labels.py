"""The stream's metric labels stay a bounded set, and its request-duration buckets reach
every configured timeout."""

from __future__ import annotations

import pytest

from actors.stream.inbound import PENDING_GRACE_TIMEOUTS, answer_buckets
from actors.stream.metrics import (
    ERROR_CODE_LABELS,
    OTHER_CODE,
    error_code_label,
    request_duration_buckets,
)
from actors.stream.wire.enums import ERROR_CODES
from nodeconfig import RequestTimeoutsConfig


@pytest.mark.parametrize("code", [*ERROR_CODES.by_name, "unspecified"])
def test_every_known_governance_error_code_is_its_own_label(code: str) -> None:
    assert error_code_label(code) == code


@pytest.mark.parametrize("code", ["", "quota_exceeded", "ERROR_CODE_TIMEOUT", "x" * 10_000])
def test_an_unknown_code_folds_into_other(code: str) -> None:
    assert error_code_label(code) == OTHER_CODE
    assert OTHER_CODE not in ERROR_CODE_LABELS


def test_buckets_end_at_the_longest_timeout_and_hold_each_timeout() -> None:
    buckets = request_duration_buckets((7.5, 30.0, 20.0))
    assert buckets[-1] == 30.0
    assert {7.5, 20.0, 30.0} <= set(buckets)
    assert buckets == tuple(sorted(set(buckets)))
    assert buckets[0] <= 0.01  # answers in milliseconds are still told apart


def test_timeouts_past_the_ladder_are_reached_too() -> None:
    assert request_duration_buckets((7200.0,))[-2:] == (3600.0, 7200.0)


def test_without_timeouts_the_ladder_is_used_as_it_is() -> None:
    assert request_duration_buckets(()) == request_duration_buckets((0.0, -1.0))
    assert len(request_duration_buckets(())) > 10


def test_a_pending_signature_request_may_take_twice_its_timeout_and_that_is_a_bound() -> None:
    timeouts = RequestTimeoutsConfig(signature=45.0, pegin=30.0, status=10.0)
    buckets = answer_buckets(timeouts)
    assert buckets[-1] == 45.0 * PENDING_GRACE_TIMEOUTS
    assert {10.0, 30.0, 45.0} <= set(buckets)
