"""The bridge's own clock on open attempts: what is due when, and one wakeup at a time."""

from __future__ import annotations

from actors.bridge.attempts import SWEEP_MIN_S, AttemptClock, AttemptsDue, AttemptWatch
from actors.messages import PegoutState
from actors.storage.records import PegoutRecord


def test_an_attempt_is_due_once_at_its_time_and_not_before() -> None:
    clock = AttemptClock()
    clock.watch("a", 1, due_at=10.0)
    clock.watch("b", 1, due_at=5.0)

    assert clock.overdue(4.9) == []
    assert clock.overdue(10.0) == [("b", 1), ("a", 1)]
    assert clock.overdue(99.0) == [] and len(clock) == 0


def test_a_newer_attempt_replaces_the_earlier_one_of_its_peg_out() -> None:
    clock = AttemptClock()
    clock.watch("a", 1, due_at=5.0)
    clock.watch("a", 2, due_at=20.0)

    assert clock.next_due() == 20.0  # the replaced entry no longer counts
    assert clock.overdue(10.0) == []
    assert clock.overdue(20.0) == [("a", 2)]


def record(request_id: str, attempt: int) -> PegoutRecord:
    return PegoutRecord(request_id, "00", (0,), (1,), PegoutState.AWAITING_SIGNATURES.value,
                        attempt, 3)


def test_the_watch_arms_one_wakeup_for_the_earliest_attempt_and_the_next_after_it() -> None:
    now = [100.0]
    armed: list[tuple[float, object]] = []
    watch = AttemptWatch(lambda delay_s, payload: armed.append((delay_s, payload)),
                         lambda: now[0])

    watch.watch(record("a", 1), timeout_s=60.0)
    watch.watch(record("b", 1), timeout_s=90.0)
    assert [(delay, type(payload)) for delay, payload in armed] == [(60.0, AttemptsDue)]

    now[0] = 160.0
    assert watch.due(now[0]) == [("a", 1)]
    assert armed[-1][0] == 30.0  # then "b", 30 s on

    watch.watch(record("c", 1), timeout_s=0.0)  # already armed: no second wakeup
    assert len(armed) == 2
    now[0] = 190.0
    assert watch.due(now[0]) == [("c", 1), ("b", 1)]
    assert len(armed) == 2  # nothing left to wait for


def test_the_wakeup_never_comes_sooner_than_the_sweep_minimum() -> None:
    armed: list[float] = []
    watch = AttemptWatch(lambda delay_s, payload: armed.append(delay_s), lambda: 0.0)

    watch.watch(record("a", 1), timeout_s=0.0)

    assert armed == [SWEEP_MIN_S]
