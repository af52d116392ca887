"""The thread-to-actor hand-over: wake bytes, bounded drains, the urgent lane."""

from __future__ import annotations

import select
import threading

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
