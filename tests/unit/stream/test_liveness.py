"""Heartbeat bookkeeping with fake monotonic and wall clocks."""

from __future__ import annotations

import pytest

from actors.stream.errors import InvalidSetting
from actors.stream.liveness import Heartbeat, Liveness


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(500.0)


@pytest.fixture
def wall() -> FakeClock:
    return FakeClock(1_700_000_000.75)


@pytest.fixture
def liveness(clock: FakeClock, wall: FakeClock) -> Liveness:
    return Liveness(interval_s=5.0, timeout_s=15.0, clock=clock, wall_clock=wall)


def test_heartbeats_carry_increasing_sequences_and_unix_seconds(
    liveness: Liveness, clock: FakeClock, wall: FakeClock
) -> None:
    liveness.start()
    first = liveness.next_heartbeat()
    clock.now += 5.0
    wall.now += 5.0
    assert first == Heartbeat(sequence=1, timestamp=1_700_000_000, sent_at=500.0)
    assert liveness.next_heartbeat() == Heartbeat(2, 1_700_000_005, 505.0)


def test_the_sequence_keeps_increasing_across_reconnects(liveness: Liveness) -> None:
    liveness.start()
    liveness.next_heartbeat()
    liveness.start()
    assert liveness.next_heartbeat().sequence == 2


def test_an_ack_gives_the_round_trip_and_a_second_ack_gives_none(
    liveness: Liveness, clock: FakeClock
) -> None:
    liveness.start()
    beat = liveness.next_heartbeat()
    clock.now += 0.25
    assert liveness.ack(beat.sequence) == 0.25
    assert liveness.last_ack_at == 500.25
    assert liveness.last_ack_wall_time == 1_700_000_000.75
    assert liveness.ack(beat.sequence) is None


def test_an_ack_for_a_sequence_never_sent_is_ignored(liveness: Liveness) -> None:
    liveness.start()
    liveness.next_heartbeat()
    assert liveness.ack(99) is None
    assert liveness.last_ack_at is None and liveness.last_ack_wall_time is None


def test_an_ack_clears_older_outstanding_heartbeats(liveness: Liveness) -> None:
    liveness.start()
    first, second, third = (liveness.next_heartbeat() for _ in range(3))
    assert liveness.ack(second.sequence) is not None
    assert liveness.ack(first.sequence) is None
    assert liveness.ack(third.sequence) is not None


def test_heartbeats_from_before_a_reconnect_cannot_be_acked(liveness: Liveness) -> None:
    liveness.start()
    old = liveness.next_heartbeat()
    liveness.start()
    assert liveness.ack(old.sequence) is None


def test_the_stream_is_dead_when_nothing_is_acked_for_the_timeout(
    liveness: Liveness, clock: FakeClock
) -> None:
    liveness.start()
    liveness.next_heartbeat()
    assert not liveness.dead(clock.now + 14.9)
    assert liveness.dead(clock.now + 15.0)


def test_each_ack_pushes_the_timeout_further(liveness: Liveness, clock: FakeClock) -> None:
    liveness.start()
    clock.now += 10.0
    liveness.ack(liveness.next_heartbeat().sequence)
    assert not liveness.dead(clock.now + 14.0)
    assert liveness.dead(clock.now + 15.0)


def test_a_reconnect_restarts_the_timeout_even_after_an_old_ack(
    liveness: Liveness, clock: FakeClock
) -> None:
    liveness.start()
    liveness.ack(liveness.next_heartbeat().sequence)
    clock.now += 100.0
    assert liveness.dead(clock.now)
    liveness.start()
    assert not liveness.dead(clock.now + 1.0)


def test_before_the_first_start_the_stream_is_not_judged(liveness: Liveness) -> None:
    assert not liveness.dead(1e9)


def test_a_heartbeat_is_due_at_once_after_start_then_every_interval(
    liveness: Liveness, clock: FakeClock
) -> None:
    liveness.start()
    assert liveness.seconds_until_due(clock.now) == 0.0
    liveness.next_heartbeat()
    assert liveness.seconds_until_due(clock.now + 2.0) == 3.0
    assert liveness.seconds_until_due(clock.now + 7.0) == 0.0


@pytest.mark.parametrize(("interval_s", "timeout_s"), [(0.0, 15.0), (5.0, -1.0)])
def test_liveness_with_impossible_settings_is_refused(
    clock: FakeClock, interval_s: float, timeout_s: float
) -> None:
    with pytest.raises(InvalidSetting):
        Liveness(interval_s, timeout_s, clock, clock)
