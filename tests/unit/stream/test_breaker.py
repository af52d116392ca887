"""The circuit breaker, driven by a fake clock."""

from __future__ import annotations

import math

import pytest

from actors.stream.breaker import CircuitBreaker, CircuitState, CircuitTransition
from actors.stream.errors import InvalidSetting
from nodeconfig import CircuitBreakerConfig

CLOSED, OPEN, HALF_OPEN = CircuitState.CLOSED, CircuitState.OPEN, CircuitState.HALF_OPEN


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def breaker(clock: FakeClock) -> CircuitBreaker:
    return CircuitBreaker(failure_threshold=3, reset_timeout_s=30.0, clock=clock)


def fail(breaker: CircuitBreaker, times: int) -> None:
    for _ in range(times):
        breaker.record_failure()


def test_a_new_circuit_is_closed_and_allows_attempts(breaker: CircuitBreaker) -> None:
    assert breaker.state is CLOSED
    assert breaker.allow() and breaker.allow()
    assert breaker.seconds_until_trial() == 0.0


def test_circuit_opens_after_threshold_consecutive_failures(breaker: CircuitBreaker) -> None:
    fail(breaker, 2)
    assert breaker.state is CLOSED
    breaker.record_failure()
    assert breaker.state is OPEN
    assert not breaker.allow()


def test_a_success_in_between_resets_the_failure_count(breaker: CircuitBreaker) -> None:
    fail(breaker, 2)
    breaker.record_success()
    fail(breaker, 2)
    assert breaker.state is CLOSED


def test_an_open_circuit_counts_down_to_its_trial(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    fail(breaker, 3)
    clock.now += 10.0
    assert breaker.seconds_until_trial() == 20.0
    assert not breaker.allow()


def test_exactly_one_trial_is_allowed_after_the_reset_timeout(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    fail(breaker, 3)
    clock.now += 30.0
    assert breaker.seconds_until_trial() == 0.0
    assert [breaker.allow() for _ in range(3)] == [True, False, False]
    assert breaker.state is HALF_OPEN
    assert breaker.seconds_until_trial() == math.inf


def test_a_successful_trial_closes_the_circuit(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    fail(breaker, 3)
    clock.now += 30.0
    breaker.allow()
    breaker.record_success()
    assert breaker.state is CLOSED
    fail(breaker, 2)
    assert breaker.state is CLOSED and breaker.allow()


def test_a_failed_trial_reopens_the_circuit_with_a_fresh_timer(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    fail(breaker, 3)
    clock.now += 45.0
    breaker.allow()
    breaker.record_failure()
    assert breaker.state is OPEN
    assert breaker.seconds_until_trial() == 30.0
    clock.now += 29.0
    assert not breaker.allow()
    clock.now += 1.0
    assert breaker.allow()


def test_every_state_change_is_recorded_with_its_time_until_drained(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    fail(breaker, 3)
    clock.now += 30.0
    breaker.allow()
    clock.now += 1.0
    breaker.record_success()
    assert breaker.drain_transitions() == [
        CircuitTransition(CLOSED, OPEN, 1000.0),
        CircuitTransition(OPEN, HALF_OPEN, 1030.0),
        CircuitTransition(HALF_OPEN, CLOSED, 1031.0),
    ]
    assert breaker.drain_transitions() == []


def test_successes_and_failures_that_change_nothing_record_nothing(
    breaker: CircuitBreaker,
) -> None:
    breaker.record_success()
    fail(breaker, 2)
    assert breaker.drain_transitions() == []


def test_breaker_from_config_uses_its_threshold_and_timeout(clock: FakeClock) -> None:
    breaker = CircuitBreaker.from_config(CircuitBreakerConfig(2, 5.0), clock)
    fail(breaker, 2)
    assert breaker.state is OPEN and breaker.seconds_until_trial() == 5.0


@pytest.mark.parametrize(("threshold", "timeout_s"), [(0, 1.0), (1, 0.0)])
def test_a_breaker_with_impossible_settings_is_refused(
    clock: FakeClock, threshold: int, timeout_s: float
) -> None:
    with pytest.raises(InvalidSetting):
        CircuitBreaker(threshold, timeout_s, clock)
