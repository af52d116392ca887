"""The outflow circuit breaker (actors/bridge/outflow.py), on an injected clock."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.bridge.outflow import OutflowWindow

DAY_S = 86_400.0
BTC = 100_000_000
T0 = 1_699_999_980.0  # 2023-11-14T22:13:00Z, where a minute bucket starts


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


def daily(cap_btc: int = 50) -> OutflowWindow:
    return OutflowWindow(DAY_S, cap_btc * BTC)


def test_a_payment_counts_until_a_window_has_passed_since_its_bucket_ended() -> None:
    clock, window = Clock(), daily()
    window.add(clock.advance(30), 40 * BTC)  # in the minute bucket [T0, T0 + 60)

    assert window.used(clock.now) == 40 * BTC
    assert window.used(T0 + 60 + DAY_S - 0.001) == 40 * BTC
    assert window.used(T0 + 60 + DAY_S) == 0


def test_a_payment_that_fits_is_not_refused() -> None:
    clock, window = Clock(), daily()
    window.add(clock.now, 40 * BTC)

    assert window.refusal(clock.advance(1), 10 * BTC) is None
    assert window.room_at(clock.now, 10 * BTC) == clock.now


def test_a_refusal_names_the_cap_what_was_paid_and_when_room_returns() -> None:
    clock, window = Clock(), daily()
    window.add(clock.now, 30 * BTC)
    window.add(clock.advance(3_600), 15 * BTC)
    clock.advance(60)

    # 10 BTC needs the first 30 BTC gone: a day after its bucket ends, T0 + 60 + DAY_S.
    assert window.refusal(clock.now, 10 * BTC) == (
        "paying 1,000,000,000 sat more would go over the outflow cap of 5,000,000,000 sat per "
        "24 h: 4,500,000,000 sat was paid in the window; room for 1,000,000,000 sat returns in "
        "82,800 s, at 2023-11-15T22:14:00Z")
    assert window.room_at(clock.now, 10 * BTC) == T0 + 60 + DAY_S


def test_room_for_a_large_payment_waits_for_enough_buckets_to_expire() -> None:
    window = daily()
    for hour in range(5):
        window.add(T0 + hour * 3_600, 10 * BTC)

    # 35 BTC fits once 40 BTC of the 50 have left: after the fourth payment's bucket.
    assert window.room_at(T0 + 5 * 3_600, 35 * BTC) == T0 + 3 * 3_600 + 60 + DAY_S


def test_a_payment_over_the_cap_on_its_own_can_never_fit() -> None:
    window = daily()

    assert window.refusal(T0, 50 * BTC + 1) == (
        "5,000,000,001 sat alone is over the outflow cap of 5,000,000,000 sat per 24 h: "
        "it can never fit")
    assert window.room_at(T0, 50 * BTC + 1) == math.inf
    assert window.refusal(T0, 50 * BTC) is None


def test_a_reset_forgives_what_was_paid_before_it_and_nothing_after() -> None:
    clock, window = Clock(), daily()
    window.add(clock.now, 50 * BTC)
    assert window.reset_at is None
    assert window.refusal(clock.advance(10), 1) is not None

    window.reset(clock.advance(10))

    assert window.reset_at == clock.now
    assert window.used(clock.now) == 0
    window.add(clock.now - 5, 7 * BTC)  # dated before the reset: forgiven too
    window.add(clock.advance(1), 3 * BTC)
    assert window.used(clock.now) == 3 * BTC
    window.reset(T0)  # an older reset does not undo a newer one
    assert window.reset_at == T0 + 20


def test_memory_stays_bounded_by_the_bucket_count() -> None:
    window = OutflowWindow(3_600.0, 10**12, buckets=60)
    for second in range(0, 4 * 3_600, 7):
        window.add(T0 + second, 1_000)

    assert window.buckets_held <= 61
    # What was paid in the last hour, and at most one bucket (a minute) more.
    assert window.used(T0 + 4 * 3_600) <= 1_000 * ((3_600 + 60) // 7 + 1)


@pytest.mark.parametrize(("args", "message"), [
    ((0.0, 1), "window_s must be greater than 0, got 0.0"),
    ((60.0, -1), "cap_sat must not be negative, got -1"),
    ((60.0, 1, 0), "buckets must be at least 1, got 0"),
])
def test_a_window_that_cannot_work_is_refused(args: tuple[float, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        OutflowWindow(*args)


def test_a_cap_of_zero_lets_nothing_leave() -> None:
    window = OutflowWindow(DAY_S, 0)

    assert window.refusal(T0, 1) == (
        "1 sat alone is over the outflow cap of 0 sat per 24 h: it can never fit")
    assert window.refusal(T0, 0) is None


def test_a_negative_payment_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="cannot be negative"):
        daily().add(T0, -1)


# --- against exact accounting -----------------------------------------------------------------


@dataclass
class Exact:
    """Every payment kept, with its own time: the answer the buckets approximate."""

    window_s: float
    cap_sat: int
    payments: list[tuple[float, int]] = field(default_factory=list)
    reset_at: float = -math.inf

    def used(self, at_s: float) -> int:
        return sum(sat for paid_at, sat in self.payments
                   if paid_at >= self.reset_at and at_s < paid_at + self.window_s)

    def room_at(self, now_s: float, sat: int) -> float:
        if sat > self.cap_sat:
            return math.inf
        moments = sorted({now_s, *(paid_at + self.window_s for paid_at, _ in self.payments
                                   if paid_at + self.window_s > now_s)})
        return next(moment for moment in moments if self.used(moment) + sat <= self.cap_sat)


ACTIONS = st.one_of(
    st.tuples(st.just("add"), st.integers(0, 40)),
    st.tuples(st.just("ask"), st.integers(0, 60)),
    st.tuples(st.just("reset"), st.just(0)),
)


@settings(max_examples=300)
@given(
    shape=st.sampled_from([(60.0, 1), (60.0, 7), (100.5, 10), (DAY_S, 1_440)]),
    cap=st.integers(1, 50),
    steps=st.lists(st.tuples(st.floats(0.001, 40.0), ACTIONS), max_size=60),
)
def test_the_buckets_are_never_more_permissive_and_at_most_a_bucket_late(
        shape: tuple[float, int], cap: int, steps: list[tuple[float, tuple[str, int]]]) -> None:
    window_s, buckets = shape
    scale = window_s / 60  # gaps and amounts drawn for a one-minute window
    window, exact = OutflowWindow(window_s, cap, buckets), Exact(window_s, cap)
    width = window_s / buckets
    now = T0
    for gap, (action, sat) in steps:
        now += gap * scale
        if action == "add":
            window.add(now, sat)
            exact.payments.append((now, sat))
        elif action == "reset":
            window.reset(now)
            exact.reset_at = now
        else:
            assert window.used(now) >= exact.used(now)
            bucketed, truth = window.room_at(now, sat), exact.room_at(now, sat)
            if math.isinf(truth):
                assert math.isinf(bucketed)
                continue
            assert truth - 1e-6 <= bucketed <= truth + width + 1e-6
            assert (window.refusal(now, sat) is None) == (bucketed == now)
            if bucketed == now:
                assert truth == now


def test_a_payment_taken_back_no_longer_counts_and_only_what_was_added_comes_off() -> None:
    window = OutflowWindow(3600.0, 1_000)
    window.add(100.0, 600)
    window.add(110.0, 300)
    window.take_back(100.0, 600)
    assert window.used(120.0) == 300
    window.take_back(110.0, 5_000)  # more than its bucket holds: down to nothing, not below
    assert window.used(120.0) == 0
    window.take_back(10_000.0, 50)  # nothing counted then: nothing to take
    assert window.used(120.0) == 0
