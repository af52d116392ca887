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
    assert ("signature", "a") in pending and pending.get("signature", "a") == entry
    assert pending.resolve("signature", "a") == entry
    assert pending.resolve("signature", "a") is None and pending.get("signature", "a") is None
    assert ("signature", "a") not in pending and len(pending) == 0


def test_adding_an_id_that_is_already_pending_raises() -> None:
    pending = PendingRequests()
    pending.add(request("a", 60.0))
    with pytest.raises(DuplicateRequest) as raised:
        pending.add(request("a", 90.0))
    assert raised.value.request_id == "a" and isinstance(raised.value, StreamError)
    assert pending.get("signature", "a") == request("a", 60.0)


def test_expire_returns_what_is_due_in_deadline_order() -> None:
    pending = PendingRequests()
    for request_id, deadline in [("c", 30.0), ("a", 10.0), ("late", 99.0), ("b", 20.0)]:
        pending.add(request(request_id, deadline))
    assert [entry.request_id for entry in pending.expire(30.0)] == ["a", "b", "c"]
    assert pending.expire(30.0) == []
    assert len(pending) == 1 and ("signature", "late") in pending


def test_requests_with_the_same_deadline_expire_in_the_order_they_were_added() -> None:
    pending = PendingRequests()
    for request_id in ("x", "y", "z"):
        pending.add(request(request_id, 5.0))
    assert [entry.request_id for entry in pending.expire(5.0)] == ["x", "y", "z"]


def test_a_resolved_request_never_expires() -> None:
    pending = PendingRequests()
    pending.add(request("a", 10.0))
    pending.add(request("b", 20.0))
    pending.resolve("signature", "a")
    assert [entry.request_id for entry in pending.expire(100.0)] == ["b"]


def test_an_id_added_again_after_resolving_expires_on_its_new_deadline() -> None:
    pending = PendingRequests()
    pending.add(request("a", 10.0))
    pending.resolve("signature", "a")
    pending.add(request("a", 50.0))
    assert pending.expire(10.0) == [] and pending.next_deadline() == 50.0
    assert pending.expire(50.0) == [request("a", 50.0)]


def test_next_deadline_skips_resolved_requests_and_is_none_when_empty() -> None:
    pending = PendingRequests()
    assert pending.next_deadline() is None
    pending.add(request("a", 10.0))
    pending.add(request("b", 20.0))
    pending.resolve("signature", "a")
    assert pending.next_deadline() == 20.0
    pending.resolve("signature", "b")
    assert pending.next_deadline() is None


def test_entries_lists_what_is_still_pending_in_the_order_it_was_added() -> None:
    pending = PendingRequests()
    for request_id, deadline in [("b", 20.0), ("a", 10.0), ("c", 30.0)]:
        pending.add(request(request_id, deadline))
    pending.resolve("signature", "a")
    assert [entry.request_id for entry in pending.entries()] == ["b", "c"]


def test_by_kind_counts_what_is_still_pending() -> None:
    pending = PendingRequests()
    pending.add(request("s1", 10.0, "signature"))
    pending.add(request("s2", 20.0, "signature"))
    pending.add(request("p1", 30.0, "pegin"))
    pending.resolve("signature", "s1")
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
        assert pending.resolve("signature", request_id) is not None
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
            pending.resolve("signature", f"r{n}")
    live = [deadline for deadline, resolve in entries if not resolve]
    assert pending.next_deadline() == min(live, default=None)
    assert len(pending.expire(now)) == sum(deadline <= now for deadline in live)
    assert pending.next_deadline() == min((d for d in live if d > now), default=None)


# -- one id space per kind, and answers that choose among them ---------------------------


def sent(request_id: str, kind: str, sent_at: float, deadline: float = 60.0) -> PendingRequest:
    return PendingRequest(request_id, kind, sender=None, sent_at=sent_at, deadline=deadline)


def test_each_kind_has_its_own_id_space() -> None:
    pending = PendingRequests()
    pending.add(pegin := sent("x/1", "pegin", 1.0))
    pending.add(attempt := sent("x/1", "signature", 2.0))
    assert len(pending) == 2
    assert pending.resolve("pegin", "x/1") == pegin
    assert pending.get("signature", "x/1") == attempt
    assert pending.resolve("pegin", "x/1") is None


def test_first_of_looks_only_at_the_kinds_it_is_given() -> None:
    pending = PendingRequests()
    pending.add(sent("x/1", "signature", 1.0))
    assert pending.first_of("x/1", ("pegin", "status")) is None
    assert pending.first_of("x/1", ("signature",)) == sent("x/1", "signature", 1.0)
    assert pending.first_of("y", ("signature",)) is None


def test_first_of_takes_the_request_sent_first_when_kinds_share_an_id() -> None:
    pending = PendingRequests()
    pending.add(sent("x", "pegin", 7.0))
    pending.add(sent("x", "status", 3.0))
    assert pending.first_of("x", ("pegin", "status")) == sent("x", "status", 3.0)
    pending.resolve("status", "x")
    assert pending.first_of("x", ("pegin", "status")) == sent("x", "pegin", 7.0)


def test_first_of_breaks_a_tie_by_the_order_of_the_kinds() -> None:
    pending = PendingRequests()
    pending.add(sent("x", "status", 3.0))
    pending.add(sent("x", "pegin", 3.0))
    assert pending.first_of("x", ("pegin", "status")).kind == "pegin"
    assert pending.first_of("x", ("status", "pegin")).kind == "status"


def test_an_extended_request_expires_at_its_new_deadline_and_only_once() -> None:
    pending = PendingRequests()
    pending.add(request("a", 10.0))
    moved = pending.extend("signature", "a", 25.0)
    assert moved is not None and moved.deadline == 25.0 and moved.request_id == "a"
    assert pending.expire(10.0) == [] and pending.next_deadline() == 25.0
    assert pending.expire(25.0) == [moved]
    assert pending.expire(100.0) == [] and len(pending) == 0


def test_extend_never_moves_a_deadline_earlier_and_ignores_what_is_not_pending() -> None:
    pending = PendingRequests()
    pending.add(entry := request("a", 30.0))
    assert pending.extend("signature", "a", 20.0) == entry
    assert pending.next_deadline() == 30.0
    assert pending.extend("signature", "nobody", 99.0) is None
    assert pending.extend("pegin", "a", 99.0) is None


def test_many_extensions_leave_no_pile_of_stale_heap_slots() -> None:
    pending = PendingRequests()
    for n in range(10):
        pending.add(request(f"r{n}", 1.0))
    for step in range(1, 1000):
        pending.extend("signature", f"r{step % 10}", 1.0 + step)
    assert pending._heap_size() <= 2 * len(pending) + 64
    assert len(pending.expire(1e9)) == 10
