"""The supervisor's decision function and restart backoff, with an injected clock and rng."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nodeconfig import BackoffConfig, SupervisorFlags
from supervision.policy import (
    Decision,
    ExitReason,
    burst_attempt,
    decide,
    restart_delay,
    restart_scope,
)

FLAGS = SupervisorFlags(strategy="one_for_one", intensity=3, period_s=60.0)


def test_a_permanent_child_that_was_killed_is_restarted_as_attempt_one() -> None:
    verdict = decide(restart="permanent", reason=ExitReason.KILLED, flags=FLAGS, history=(),
                     now=100.0)
    assert verdict.decision is Decision.RESTART
    assert verdict.history == (100.0,) and verdict.attempt == 1


def test_more_restarts_than_the_intensity_within_the_period_escalate() -> None:
    history: tuple[float, ...] = ()
    decisions = []
    for now in (0.0, 1.0, 2.0, 3.0):
        verdict = decide(restart="permanent", reason=ExitReason.KILLED, flags=FLAGS,
                         history=history, now=now)
        history = verdict.history
        decisions.append(verdict.decision)
    assert decisions == [Decision.RESTART] * 3 + [Decision.ESCALATE]


def test_restarts_older_than_the_period_are_forgotten() -> None:
    verdict = decide(restart="permanent", reason=ExitReason.KILLED, flags=FLAGS,
                     history=(0.0, 1.0, 2.0), now=61.5)
    assert verdict.decision is Decision.RESTART
    assert verdict.history == (2.0, 61.5)


def test_otp_default_of_one_restart_in_five_seconds() -> None:
    flags = SupervisorFlags(strategy="one_for_one", intensity=1, period_s=5.0)
    first = decide(restart="permanent", reason=ExitReason.KILLED, flags=flags, history=(), now=0)
    second = decide(restart="permanent", reason=ExitReason.KILLED, flags=flags,
                    history=first.history, now=4.9)
    third = decide(restart="permanent", reason=ExitReason.KILLED, flags=flags,
                   history=first.history, now=5.0)
    assert (first.decision, second.decision, third.decision) == (
        Decision.RESTART, Decision.ESCALATE, Decision.RESTART)


def test_temporary_children_are_never_restarted() -> None:
    verdict = decide(restart="temporary", reason=ExitReason.KILLED, flags=FLAGS, history=(),
                     now=0.0)
    assert verdict.decision is Decision.STOP


@pytest.mark.parametrize(("reason", "expected"), [
    (ExitReason.EXITED, Decision.STOP),
    (ExitReason.SHUTDOWN, Decision.STOP),
    (ExitReason.KILLED, Decision.RESTART),
    (ExitReason.ERROR, Decision.RESTART),
])
def test_transient_children_are_restarted_only_after_an_abnormal_exit(
    reason: ExitReason, expected: Decision
) -> None:
    verdict = decide(restart="transient", reason=reason, flags=FLAGS, history=(), now=0.0)
    assert verdict.decision is expected


@given(st.lists(st.floats(min_value=0, max_value=1e6), max_size=20), st.floats(0, 1e6))
def test_the_history_never_holds_restarts_outside_the_period(
    history: list[float], now: float
) -> None:
    verdict = decide(restart="permanent", reason=ExitReason.KILLED, flags=FLAGS,
                     history=tuple(sorted(history)), now=now)
    assert all(now - t < FLAGS.period_s for t in verdict.history)
    assert verdict.history[-1] == now


BACKOFF = BackoffConfig(initial_s=0.1, multiplier=2.0, max_s=1.0, jitter=0.0, reset_after_s=30)


def test_backoff_grows_by_the_multiplier_and_stops_at_the_max() -> None:
    rng = random.Random(1)
    assert [restart_delay(n, BACKOFF, rng) for n in range(1, 7)] == pytest.approx(
        [0.1, 0.2, 0.4, 0.8, 1.0, 1.0])


def test_backoff_jitter_stays_within_its_fraction_and_is_repeatable() -> None:
    backoff = BackoffConfig(initial_s=1.0, multiplier=2.0, max_s=10.0, jitter=0.2,
                            reset_after_s=30)
    first = [restart_delay(2, backoff, random.Random(7)) for _ in range(3)]
    assert len(set(first)) == 1
    delays = [restart_delay(2, backoff, random.Random(seed)) for seed in range(200)]
    assert all(1.6 <= d <= 2.4 for d in delays)
    assert max(delays) - min(delays) > 0.4


def test_the_default_backoff_restarts_at_once() -> None:
    default = BackoffConfig()
    assert restart_delay(1, default, random.Random(0)) == 0.0


def test_backoff_attempts_start_at_one() -> None:
    with pytest.raises(ValueError, match="attempt must be >= 1"):
        restart_delay(0, BACKOFF, random.Random(0))


ORDER = ("chain", "bridge", "stream")


@pytest.mark.parametrize(("strategy", "failed", "scope"), [
    ("one_for_one", "bridge", ("bridge",)),
    ("one_for_all", "bridge", ("chain", "bridge", "stream")),
    ("rest_for_one", "bridge", ("bridge", "stream")),
    ("rest_for_one", "chain", ("chain", "bridge", "stream")),
    ("rest_for_one", "stream", ("stream",)),
])
def test_the_restart_scope_follows_the_otp_strategy(
    strategy: str, failed: str, scope: tuple[str, ...]
) -> None:
    assert restart_scope(strategy, ORDER, failed) == scope


def test_the_restart_scope_refuses_unknown_children_and_strategies() -> None:
    with pytest.raises(ValueError, match="not one of the children"):
        restart_scope("one_for_one", ORDER, "storage")
    with pytest.raises(ValueError, match="unknown strategy"):
        restart_scope("all_for_none", ORDER, "chain")


def test_a_burst_counts_restarts_without_a_quiet_gap() -> None:
    assert burst_attempt((), 100.0, 30.0) == 1
    assert burst_attempt((90.0, 95.0, 100.0), 100.0, 30.0) == 3
    # a 40 s quiet gap between 10 and 50: the burst is 50, 60, 85
    assert burst_attempt((10.0, 50.0, 60.0, 85.0), 85.0, 30.0) == 3
    # and one between 60 and 100: the burst starts again at 100
    assert burst_attempt((10.0, 50.0, 60.0, 100.0), 100.0, 30.0) == 1


def test_backoff_delays_grow_within_a_burst_and_start_over_after_a_quiet_period() -> None:
    backoff = BackoffConfig(initial_s=0.1, multiplier=2.0, max_s=5.0, jitter=0.0,
                            reset_after_s=30.0)
    rng = random.Random(0)
    history = (0.0, 1.0, 2.0)
    assert restart_delay(burst_attempt(history, 2.0, 30.0), backoff, rng) == pytest.approx(0.4)
    assert restart_delay(burst_attempt((*history, 40.0), 40.0, 30.0), backoff,
                         rng) == pytest.approx(0.1)
