"""Pending requests: resolved once, expired once, in deadline order, nothing leaks."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.stream.errors import DuplicateRequest, StreamError
from actors.stream.pending import PendingRequest, PendingRequests


def request(request_id: str, deadline: float, kind: str = "signature") -> PendingRequest:
    return PendingRequest(request_id, kind, sender="bridge", sent_at=0.0, deadline=deadline)


def test_a_resolved_request_is_returned_once_and_then_gone() -> None:
    pending = PendingRequests()
    pending.add(entry := request("a", 60.0))
    assert "a" in pending and pending.get("a") == entry
    assert pending.resolve("a") == entry
    assert pending.resolve("a") is None and pending.get("a") is None
    assert "a" not in pending and len(pending) == 0


def test_adding_an_id_that_is_already_pending_raises() -> None:
    pending = PendingRequests()
    pending.add(request("a", 60.0))
    with pytest.raises(DuplicateRequest) as raised:
        pending.add(request("a", 90.0))
    assert raised.value.request_id == "a" and isinstance(raised.value, StreamError)
    assert pending.get("a") == request("a", 60.0)


def test_expire_returns_what_is_due_in_deadline_order() -> None:
    pending = PendingRequests()
    for request_id, deadline in [("c", 30.0), ("a", 10.0), ("late", 99.0), ("b", 20.0)]:
        pending.add(request(request_id, deadline))
    assert [entry.request_id for entry in pending.expire(30.0)] == ["a", "b", "c"]
    assert pending.expire(30.0) == []
    assert len(pending) == 1 and "late" in pending


def test_requests_with_the_same_deadline_expire_in_the_order_they_were_added() -> None:
    pending = PendingRequests()
    for request_id in ("x", "y", "z"):
        pending.add(request(request_id, 5.0))
    assert [entry.request_id for entry in pending.expire(5.0)] == ["x", "y", "z"]


def test_a_resolved_request_never_expires() -> None:
    pending = PendingRequests()
    pending.add(request("a", 10.0))
    pending.add(request("b", 20.0))
    pending.resolve("a")
    assert [entry.request_id for entry in pending.expire(100.0)] == ["b"]


def test_an_id_added_again_after_resolving_expires_on_its_new_deadline() -> None:
    pending = PendingRequests()
    pending.add(request("a", 10.0))
    pending.resolve("a")
    pending.add(request("a", 50.0))
    assert pending.expire(10.0) == [] and pending.next_deadline() == 50.0
    assert pending.expire(50.0) == [request("a", 50.0)]


def test_next_deadline_skips_resolved_requests_and_is_none_when_empty() -> None:
    pending = PendingRequests()
    assert pending.next_deadline() is None
    pending.add(request("a", 10.0))
    pending.add(request("b", 20.0))
    pending.resolve("a")
    assert pending.next_deadline() == 20.0
    pending.resolve("b")
    assert pending.next_deadline() is None


def test_entries_lists_what_is_still_pending_in_the_order_it_was_added() -> None:
    pending = PendingRequests()
    for request_id, deadline in [("b", 20.0), ("a", 10.0), ("c", 30.0)]:
        pending.add(request(request_id, deadline))
    pending.resolve("a")
    assert [entry.request_id for entry in pending.entries()] == ["b", "c"]


def test_by_kind_counts_what_is_still_pending() -> None:
    pending = PendingRequests()
    pending.add(request("s1", 10.0, "signature"))
    pending.add(request("s2", 20.0, "signature"))
    pending.add(request("p1", 30.0, "pegin"))
    pending.resolve("s1")
    assert pending.by_kind() == {"signature": 1, "pegin": 1}
    pending.expire(100.0)
    assert pending.by_kind() == {}


def test_thousands_of_requests_half_resolved_the_rest_expire_once_and_nothing_leaks() -> None:
    pending = PendingRequests()
    rng = random.Random(3)
    deadlines = {f"r{n}": rng.uniform(0.0, 100.0) for n in range(5000)}
    for request_id, deadline in deadlines.items():
        pending.add(request(request_id, deadline))
    resolved = set(list(deadlines)[::2])
    for request_id in resolved:
        assert pending.resolve(request_id) is not None
    # Stale heap slots are compacted away as resolutions pile up.
    assert pending._heap_size() <= 2 * len(pending) + 64

    expired = pending.expire(50.0) + pending.expire(100.0)
    expired_ids = [entry.request_id for entry in expired]
    assert sorted(expired_ids) == sorted(set(deadlines) - resolved)
    assert [entry.deadline for entry in expired] == sorted(entry.deadline for entry in expired)
    assert pending.expire(1e9) == []
    assert len(pending) == 0 and pending._heap_size() == 0 and pending.by_kind() == {}


@given(st.lists(st.tuples(st.floats(0.0, 100.0), st.booleans()), max_size=200),
       st.floats(0.0, 100.0))
def test_next_deadline_is_the_earliest_unresolved_deadline(
    entries: list[tuple[float, bool]], now: float
) -> None:
    pending = PendingRequests()
    for n, (deadline, _) in enumerate(entries):
        pending.add(request(f"r{n}", deadline))
    for n, (_, resolve) in enumerate(entries):
        if resolve:
            pending.resolve(f"r{n}")
    live = [deadline for deadline, resolve in entries if not resolve]
    assert pending.next_deadline() == min(live, default=None)
    assert len(pending.expire(now)) == sum(deadline <= now for deadline in live)
    assert pending.next_deadline() == min((d for d in live if d > now), default=None)
