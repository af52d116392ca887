"""`ListPegouts`: the newest `limit` peg-outs, memory merged over storage, and refusals."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from actors.bridge.book import Book
from actors.bridge.queries import pegout_list
from actors.messages import MAX_PEGOUTS_LISTED, PegoutList
from actors.storage.records import PegoutRecord

LOG = logging.getLogger("test")


def record(request_id: str, created_at: float, state: str = "broadcast") -> PegoutRecord:
    return PegoutRecord(request_id=request_id, tx_hex="00ab", input_indices=(0,),
                        amounts=(1000,), state=state, attempt=1, signatures_required=3,
                        created_at=created_at, updated_at=created_at, revision=1)


class Storage:
    """What the StorageActor answers: its rows, the newest `limit` (as the SQL does)."""

    def __init__(self, rows: list[PegoutRecord], error: str | None = None) -> None:
        self.rows, self.error = rows, error
        self.asked: list[dict[str, Any]] = []

    def fetch(self, answer: Any, **query: Any) -> None:
        self.asked.append(query)
        found = sorted((r for r in self.rows if query["state"] in (None, r.state)),
                       key=lambda r: (r.created_at, r.request_id))[-query["limit"]:]
        answer(None if self.error else tuple(found), self.error)


def listed(book: Book, storage: Storage, state: object = None, limit: object = 1000
           ) -> PegoutList:
    replies: list[PegoutList] = []
    pegout_list(book, state, limit, replies.append, storage.fetch, LOG)
    [reply] = replies
    return reply


def test_the_newest_are_listed_oldest_first_with_memory_over_storage() -> None:
    stored = [record(f"p{n}", float(n)) for n in range(10)]
    book = Book()
    book.put(record("p9", 9.0, state="awaiting_signatures"))  # newer than its stored copy
    storage = Storage(stored)
    reply = listed(book, storage, limit=3)
    assert [(s.request_id, s.state) for s in reply.items] == [
        ("p7", "broadcast"), ("p8", "broadcast"), ("p9", "awaiting_signatures")]
    assert reply.error is None and storage.asked == [{"state": None, "limit": 3}]


def test_an_open_state_is_answered_from_memory_alone_and_bounded() -> None:
    book = Book()
    for n in range(5):
        book.put(record(f"p{n}", float(n), state="awaiting_signatures"))
    storage = Storage([])
    reply = listed(book, storage, state="awaiting_signatures", limit=2)
    assert [s.request_id for s in reply.items] == ["p3", "p4"] and storage.asked == []


@pytest.mark.parametrize("limit", [0, -1, MAX_PEGOUTS_LISTED + 1, "10", 2.5, True, None])
def test_a_limit_out_of_bounds_is_refused_by_value(limit: object) -> None:
    storage = Storage([record("p0", 0.0)])
    reply = listed(Book(), storage, limit=limit)
    assert reply.items == () and storage.asked == []
    assert reply.error is not None and reply.error.startswith(
        f"limit must be a whole number from 1 to {MAX_PEGOUTS_LISTED}")


def test_an_unknown_state_is_refused_by_name() -> None:
    reply = listed(Book(), Storage([]), state="paid-twice")
    assert reply == PegoutList((), "no peg-out state is called 'paid-twice'")


def test_a_storage_error_still_lists_the_open_ones_and_says_why() -> None:
    book = Book()
    book.put(record("open", 1.0, state="awaiting_signatures"))
    reply = listed(book, Storage([], error="disk I/O error"))
    assert [s.request_id for s in reply.items] == ["open"]
    assert reply.error == "could not read storage (open peg-outs listed): disk I/O error"
