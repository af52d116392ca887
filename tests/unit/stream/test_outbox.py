"""The outbox: bounded, priority-ordered, and honest about what it dropped."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.stream.errors import InvalidSetting
from actors.stream.outbox import Dropped, Outbox, OutboxItem, PushResult
from nodeconfig import OutboxConfig

POLICIES = ("drop_oldest", "drop_lowest_priority", "reject_new")


def item(request_id: str, priority: int = 2, payload: object = None) -> OutboxItem:
    return OutboxItem(request_id, priority, "pegin", payload, sender="bridge")


def ids(items: list[OutboxItem]) -> list[str]:
    return [entry.request_id for entry in items]


def test_pop_batch_sends_highest_priority_first_and_oldest_first_within_one() -> None:
    outbox = Outbox(10, "drop_oldest")
    for request_id, priority in [("s1", 1), ("p1", 2), ("g1", 3), ("p2", 2), ("g2", 3)]:
        outbox.push(item(request_id, priority))
    assert ids(outbox.pop_batch(3)) == ["g1", "g2", "p1"]
    assert ids(outbox.pop_batch(10)) == ["p2", "s1"]
    assert outbox.pop_batch(10) == [] and len(outbox) == 0


def test_an_accepted_push_drops_nothing() -> None:
    assert Outbox(1, "reject_new").push(item("a")) == PushResult(accepted=True, dropped=())


def test_a_request_id_already_inside_is_refused_as_a_duplicate() -> None:
    outbox = Outbox(10, "drop_oldest")
    outbox.push(item("a", payload=1))
    second = item("a", payload=2)
    assert outbox.push(second) == PushResult(False, (Dropped(second, "duplicate"),))
    assert outbox.pop_batch(10)[0].payload == 1


def test_a_request_id_may_come_back_after_it_was_sent() -> None:
    outbox = Outbox(10, "drop_oldest")
    outbox.push(item("a"))
    outbox.pop_batch(1)
    assert outbox.push(item("a")).accepted


def test_drop_oldest_evicts_the_first_arrival_whatever_its_priority() -> None:
    outbox = Outbox(2, "drop_oldest")
    outbox.push(oldest := item("old", priority=4))
    outbox.push(item("mid", priority=1))
    result = outbox.push(item("new", priority=1))
    assert result == PushResult(True, (Dropped(oldest, "overflow_drop_oldest"),))
    assert ("pegin", "old") not in outbox and ids(outbox.pop_batch(2)) == ["mid", "new"]


def test_drop_lowest_priority_evicts_the_oldest_of_the_lowest_priority() -> None:
    outbox = Outbox(3, "drop_lowest_priority")
    outbox.push(item("high", priority=3))
    outbox.push(first_low := item("low1", priority=1))
    outbox.push(item("low2", priority=1))
    result = outbox.push(item("new", priority=2))
    assert result == PushResult(True, (Dropped(first_low, "overflow_drop_lowest_priority"),))
    assert ids(outbox.pop_batch(3)) == ["high", "new", "low2"]


def test_drop_lowest_priority_refuses_a_newcomer_no_more_urgent_than_the_lowest() -> None:
    outbox = Outbox(2, "drop_lowest_priority")
    outbox.push(item("a", priority=2))
    outbox.push(item("b", priority=3))
    newcomer = item("c", priority=2)
    assert outbox.push(newcomer) == PushResult(
        False, (Dropped(newcomer, "overflow_drop_lowest_priority"),))
    assert ids(outbox.pop_batch(2)) == ["b", "a"]


def test_reject_new_keeps_what_it_has_and_refuses_the_newcomer() -> None:
    outbox = Outbox(1, "reject_new")
    outbox.push(item("a", priority=1))
    newcomer = item("b", priority=4)
    assert outbox.push(newcomer) == PushResult(False, (Dropped(newcomer,
                                                                "overflow_reject_new"),))
    assert ("pegin", "a") in outbox and ("pegin", "b") not in outbox


def test_remove_withdraws_an_item_and_reports_unknown_ids_as_none() -> None:
    outbox = Outbox(10, "drop_oldest")
    outbox.push(entry := item("a"))
    assert outbox.remove("pegin", "a") == entry
    assert outbox.remove("pegin", "a") is None
    assert len(outbox) == 0 and ("pegin", "a") not in outbox


def test_drops_are_counted_by_reason_across_pushes() -> None:
    outbox = Outbox(1, "reject_new")
    outbox.push(item("a"))
    outbox.push(item("a"))
    outbox.push(item("b"))
    outbox.push(item("c"))
    assert outbox.drops_by_reason() == {"duplicate": 1, "overflow_reject_new": 2}


def test_outbox_from_config_uses_its_capacity_and_overflow() -> None:
    outbox = Outbox.from_config(OutboxConfig(capacity=1, overflow="reject_new"))
    outbox.push(item("a"))
    assert not outbox.push(item("b")).accepted


@pytest.mark.parametrize(("capacity", "overflow"), [(0, "drop_oldest"), (5, "drop_newest")])
def test_an_outbox_with_impossible_settings_is_refused(capacity: int, overflow: str) -> None:
    with pytest.raises(InvalidSetting):
        Outbox(capacity, overflow)


def test_ten_thousand_items_fill_then_drain_in_order() -> None:
    outbox = Outbox(10_000, "drop_oldest")
    for n in range(10_000):
        assert outbox.push(item(f"r{n}", priority=1 + n % 4, payload=n)).accepted
    overflow = outbox.push(item("late", priority=1 + 10_000 % 4, payload=10_000))
    assert [d.item.request_id for d in overflow.dropped] == ["r0"]
    assert len(outbox) == 10_000
    drained: list[OutboxItem] = []
    while batch := outbox.pop_batch(500):
        drained.extend(batch)
    expected = sorted(range(1, 10_001), key=lambda n: (-(1 + n % 4), n))
    assert [entry.payload for entry in drained] == expected
    assert len(outbox) == 0 and outbox.drops_by_reason() == {"overflow_drop_oldest": 1}


# Property tests: random pushes, pops and removals, checked against a ledger.

@dataclass(frozen=True)
class Push:
    request_id: str
    priority: int


@dataclass(frozen=True)
class Pop:
    max_items: int


@dataclass(frozen=True)
class Remove:
    request_id: str


request_ids = st.sampled_from([f"r{n}" for n in range(12)])
operations = st.lists(st.one_of(
    st.builds(Push, request_ids, st.integers(1, 4)),
    st.builds(Pop, st.integers(0, 5)),
    st.builds(Remove, request_ids),
), max_size=80)


@given(st.sampled_from(POLICIES), st.integers(1, 6), operations)
def test_every_pushed_item_is_popped_dropped_removed_or_inside_exactly_once(
    overflow: str, capacity: int, script: list[Push | Pop | Remove]
) -> None:
    outbox = Outbox(capacity, overflow)
    # Each push carries its own number as payload, so a re-used request id is a new item.
    inside: dict[int, tuple[int, int]] = {}  # push number -> (priority, push number)
    popped: set[int] = set()
    dropped: set[int] = set()
    removed: set[int] = set()
    pushes = 0
    for step in script:
        if isinstance(step, Push):
            pushes += 1
            result = outbox.push(item(step.request_id, step.priority, payload=pushes))
            if result.accepted:
                inside[pushes] = (step.priority, pushes)
            for drop in result.dropped:
                inside.pop(drop.item.payload, None)
                dropped.add(drop.item.payload)
        elif isinstance(step, Pop):
            batch = [entry.payload for entry in outbox.pop_batch(step.max_items)]
            expected = sorted(inside, key=lambda n: (-inside[n][0], n))[:step.max_items]
            assert batch == expected
            popped.update(batch)
            for n in batch:
                del inside[n]
        else:
            entry = outbox.remove("pegin", step.request_id)
            if entry is not None:
                removed.add(entry.payload)
                del inside[entry.payload]
        assert len(outbox) == len(inside) <= capacity
    fates = [popped, dropped, removed, set(inside)]
    assert sum(len(fate) for fate in fates) == pushes
    assert set().union(*fates) == set(range(1, pushes + 1))


@given(st.integers(1, 6), operations)
def test_drop_oldest_always_evicts_the_earliest_arrival(
    capacity: int, script: list[Push | Pop | Remove]
) -> None:
    outbox = Outbox(capacity, "drop_oldest")
    arrivals: list[str] = []
    for step in script:
        if not isinstance(step, Push):
            continue
        full = len(outbox) == capacity
        result = outbox.push(item(step.request_id, step.priority))
        if not result.accepted:
            assert [d.reason for d in result.dropped] == ["duplicate"]
            continue
        if full:
            assert [d.item.request_id for d in result.dropped] == [arrivals.pop(0)]
        arrivals.append(step.request_id)


def test_a_pegin_and_a_pegout_attempt_sharing_an_id_both_wait_and_both_go() -> None:
    outbox = Outbox(10, "reject_new")
    pegin = OutboxItem("x/1", 2, "pegin", "notice", sender="bridge")
    attempt = OutboxItem("x/1", 3, "signature", "request", sender="bridge")
    assert outbox.push(pegin).accepted and outbox.push(attempt).accepted
    assert ("pegin", "x/1") in outbox and ("signature", "x/1") in outbox
    again = OutboxItem("x/1", 3, "signature", "request", sender="bridge")
    assert outbox.push(again) == PushResult(False, (Dropped(again, "duplicate"),))
    assert [entry.kind for entry in outbox.pop_batch(10)] == ["signature", "pegin"]


def test_removing_one_kind_leaves_the_other_with_the_same_id() -> None:
    outbox = Outbox(10, "drop_oldest")
    outbox.push(OutboxItem("x/1", 2, "pegin", "notice", sender=None))
    outbox.push(OutboxItem("x/1", 3, "signature", "request", sender=None))
    assert outbox.remove("signature", "x/1") is not None
    assert len(outbox) == 1 and ("pegin", "x/1") in outbox
