"""The thread-to-actor hand-over: wake bytes, bounded drains, the urgent lane, and bounds
in events and bytes that make the reader wait rather than drop."""

from __future__ import annotations

import queue
import select
import threading

import pytest

from actors.stream.inbox import Inbox


def readable(inbox: Inbox) -> bool:
    return bool(select.select([inbox.fileno()], [], [], 0)[0])


def test_a_put_wakes_the_actor_once_until_it_drains() -> None:
    inbox = Inbox(capacity=100)
    assert not readable(inbox)
    inbox.put("a")
    inbox.put("b")
    assert readable(inbox)
    assert inbox.drain(10) == ["a", "b"]
    assert not readable(inbox)
    inbox.put("c")
    assert readable(inbox)


def test_a_bounded_drain_wakes_again_for_what_is_left() -> None:
    inbox = Inbox(capacity=100)
    for n in range(5):
        inbox.put(n)
    assert inbox.drain(3) == [0, 1, 2]
    assert readable(inbox)
    assert inbox.drain(3) == [3, 4]
    assert not readable(inbox)


def test_urgent_events_come_first() -> None:
    inbox = Inbox(capacity=100)
    inbox.put("data")
    inbox.put_urgent("ack")
    assert inbox.drain(10) == ["ack", "data"]


def test_no_event_is_stranded_when_a_producer_races_the_drains() -> None:
    inbox = Inbox(capacity=1000)
    total = 20_000
    received: list[int] = []

    def produce() -> None:
        for n in range(total):
            inbox.put(n)

    producer = threading.Thread(target=produce)
    producer.start()
    while len(received) < total:
        # Block on the wake descriptor as Thespian does: a lost wake would hang here.
        ready, _, _ = select.select([inbox.fileno()], [], [], 5)
        assert ready, f"no wake after {len(received)} events"
        received += inbox.drain(64)
    producer.join()
    assert received == list(range(total))


# -- bounds: the reader waits, nothing is dropped ------------------------------------------


def test_a_frame_that_does_not_fit_the_byte_bound_waits_until_the_actor_drains() -> None:
    inbox = Inbox(capacity=100, max_bytes=1_000)
    inbox.put("a", size=600)
    inbox.put("b", size=400)
    assert inbox.held_bytes == 1_000
    with pytest.raises(queue.Full):
        inbox.put("c", timeout_s=0.01, size=1)
    assert inbox.drain(1) == ["a"] and inbox.held_bytes == 400
    inbox.put("c", timeout_s=0.01, size=600)
    assert inbox.drain(10) == ["b", "c"] and inbox.held_bytes == 0


def test_a_frame_larger_than_the_byte_bound_goes_through_alone() -> None:
    inbox = Inbox(capacity=100, max_bytes=1_000)
    inbox.put("huge", timeout_s=0.01, size=5_000)
    with pytest.raises(queue.Full):
        inbox.put("small", timeout_s=0.01, size=1)
    assert inbox.drain(10) == ["huge"]
    inbox.put("small", timeout_s=0.01, size=1)


def test_the_event_bound_holds_whatever_the_bytes() -> None:
    inbox = Inbox(capacity=2, max_bytes=10**9)
    inbox.put("a")
    inbox.put("b")
    with pytest.raises(queue.Full):
        inbox.put("c", timeout_s=0.01)
    assert len(inbox) == 2


def test_a_reader_held_by_a_full_inbox_goes_on_once_the_actor_drains() -> None:
    inbox = Inbox(capacity=100, max_bytes=100)
    inbox.put("first", size=100)
    done = threading.Event()

    def reader() -> None:
        inbox.put("second", size=100)  # no timeout: waits as long as it takes
        done.set()

    thread = threading.Thread(target=reader)
    thread.start()
    assert inbox.drain(10) == ["first"]  # whether or not the reader is waiting yet
    thread.join(timeout=5)
    assert done.is_set() and inbox.drain(10) == ["second"]


def test_a_full_urgent_lane_sends_acks_the_ordinary_way_where_they_wait_too() -> None:
    inbox = Inbox(capacity=3, urgent_capacity=2)
    inbox.put("data")
    for ack in ("ack-1", "ack-2", "ack-3", "ack-4"):
        inbox.put_urgent(ack, timeout_s=0.01)  # 3 and 4 take the ordinary lane
    assert len(inbox) == 5
    with pytest.raises(queue.Full):
        inbox.put_urgent("ack-5", timeout_s=0.01)  # both lanes full: it waits, never drops
    assert inbox.drain(10) == ["ack-1", "ack-2", "data", "ack-3", "ack-4"]


def test_urgent_events_beyond_a_drains_size_still_leave_the_rest_for_the_next_wake() -> None:
    inbox = Inbox(capacity=10, urgent_capacity=10)
    inbox.put("data")
    for n in range(3):
        inbox.put_urgent(f"ack-{n}")
    assert inbox.drain(2) == ["ack-0", "ack-1", "ack-2"]
    assert readable(inbox)
    assert inbox.drain(2) == ["data"]


@pytest.mark.parametrize("bounds", [{"capacity": 0}, {"capacity": 1, "max_bytes": 0},
                                    {"capacity": 1, "urgent_capacity": 0}])
def test_an_inbox_without_room_is_refused(bounds: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        Inbox(**bounds)
