"""Reconnect backoff: gRPC's shape, a seeded rng, and a schedule that never runs out."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.stream.backoff import (
    UNLIMITED,
    ReconnectPolicy,
    ReconnectSchedule,
    base_delay,
    exhausted,
    next_delay,
)
from actors.stream.errors import InvalidSetting, StreamError
from nodeconfig import ReconnectConfig

GRPC = ReconnectPolicy()
NO_JITTER = ReconnectPolicy(jitter=0.0)

policies = st.builds(
    ReconnectPolicy,
    initial_backoff_s=st.floats(0.001, 100.0),
    multiplier=st.floats(1.0, 10.0),
    jitter=st.floats(0.0, 1.0),
    max_backoff_s=st.floats(0.001, 1000.0),
)
attempts = st.integers(1, 100_000)


def test_defaults_are_grpc_connection_backoff() -> None:
    assert ReconnectPolicy(1.0, 1.6, 0.2, 120.0, UNLIMITED) == GRPC


def test_policy_from_config_copies_every_field() -> None:
    cfg = ReconnectConfig(initial_backoff_s=0.5, multiplier=2.0, jitter=0.1,
                          max_backoff_s=10.0, max_attempts=7)
    assert ReconnectPolicy.from_config(cfg) == ReconnectPolicy(0.5, 2.0, 0.1, 10.0, 7)


def test_default_config_gives_the_default_policy() -> None:
    assert ReconnectPolicy.from_config(ReconnectConfig()) == GRPC


def test_without_jitter_delays_grow_by_the_multiplier_until_the_cap() -> None:
    rng = random.Random(1)
    delays = [next_delay(n, NO_JITTER, rng) for n in (1, 2, 3, 11, 12, 50)]
    assert delays == pytest.approx([1.0, 1.6, 2.56, 1.6**10, 120.0, 120.0])


def test_the_same_seed_gives_the_same_delays() -> None:
    first = [next_delay(n, GRPC, random.Random(42)) for n in range(1, 20)]
    second = [next_delay(n, GRPC, random.Random(42)) for n in range(1, 20)]
    assert first == second


def test_jitter_spreads_delays_around_the_base() -> None:
    rng = random.Random(7)
    delays = [next_delay(3, GRPC, rng) for _ in range(1000)]
    assert min(delays) >= 2.56 * 0.8 and max(delays) <= 2.56 * 1.2
    assert max(delays) - min(delays) > 2.56 * 0.3


def test_an_attempt_count_far_past_the_cap_does_not_overflow() -> None:
    assert base_delay(10**7, GRPC) == 120.0


@pytest.mark.parametrize("attempt", [0, -1])
def test_attempts_are_one_based(attempt: int) -> None:
    with pytest.raises(InvalidSetting):
        next_delay(attempt, GRPC, random.Random(0))


@pytest.mark.parametrize("fields", [
    {"initial_backoff_s": 0.0}, {"max_backoff_s": -1.0}, {"multiplier": 0.9},
    {"jitter": 1.5}, {"max_attempts": 0},
])
def test_a_policy_with_impossible_values_is_refused(fields: dict[str, float]) -> None:
    with pytest.raises(StreamError):
        ReconnectPolicy(**fields)


@given(policies, attempts)
def test_base_delay_never_decreases_from_one_attempt_to_the_next(
    policy: ReconnectPolicy, attempt: int
) -> None:
    assert base_delay(attempt, policy) <= base_delay(attempt + 1, policy)


@given(policies, attempts, st.integers(0, 2**32))
def test_delay_stays_within_jitter_of_the_base_and_within_the_cap(
    policy: ReconnectPolicy, attempt: int, seed: int
) -> None:
    base = base_delay(attempt, policy)
    delay = next_delay(attempt, policy, random.Random(seed))
    assert 0.0 <= delay <= policy.max_backoff_s
    assert base * (1 - policy.jitter) - 1e-9 <= delay <= base * (1 + policy.jitter) + 1e-9


def test_unlimited_attempts_are_never_exhausted() -> None:
    assert not exhausted(10**9, GRPC)


def test_limited_attempts_are_exhausted_after_the_last_one() -> None:
    policy = ReconnectPolicy(max_attempts=3)
    assert [exhausted(n, policy) for n in (1, 2, 3, 4)] == [False, False, False, True]


def test_past_max_attempts_the_schedule_keeps_going_at_the_longest_backoff() -> None:
    schedule = ReconnectSchedule(ReconnectPolicy(jitter=0.0, max_attempts=2))
    rng = random.Random(0)
    assert [schedule.next(rng), schedule.next(rng)] == [1.0, 1.6]
    assert not schedule.exhausted
    assert [schedule.next(rng) for _ in range(3)] == [120.0] * 3
    assert schedule.exhausted and schedule.attempt == 5


def test_with_one_attempt_allowed_the_second_already_waits_the_longest() -> None:
    schedule = ReconnectSchedule(ReconnectPolicy(jitter=0.0, max_backoff_s=0.5,
                                                 max_attempts=1))
    rng = random.Random(0)
    assert schedule.next(rng) == 0.5  # the first grows from 1 s but never past the cap
    assert not schedule.exhausted
    assert schedule.next(rng) == 0.5 and schedule.exhausted


def test_the_longest_backoff_past_max_attempts_keeps_its_jitter_below_the_cap() -> None:
    policy = ReconnectPolicy(jitter=0.2, max_backoff_s=10.0, max_attempts=1)
    schedule = ReconnectSchedule(policy)
    rng = random.Random(5)
    schedule.next(rng)
    delays = [schedule.next(rng) for _ in range(200)]
    assert all(8.0 <= d <= 10.0 for d in delays) and len(set(delays)) > 1


def test_an_unlimited_schedule_is_never_exhausted() -> None:
    schedule = ReconnectSchedule(GRPC)
    rng = random.Random(0)
    for _ in range(100):
        schedule.next(rng)
    assert not schedule.exhausted


def test_a_reset_ends_the_exhausted_state() -> None:
    schedule = ReconnectSchedule(ReconnectPolicy(max_attempts=1))
    rng = random.Random(0)
    schedule.next(rng)
    schedule.next(rng)
    schedule.reset()
    assert not schedule.exhausted and schedule.attempt == 0


def test_schedule_starts_over_after_reset() -> None:
    schedule = ReconnectSchedule(NO_JITTER)
    rng = random.Random(0)
    for _ in range(5):
        schedule.next(rng)
    schedule.reset()
    assert schedule.attempt == 0
    assert schedule.next(rng) == 1.0
