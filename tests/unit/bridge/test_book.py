"""What the bridge keeps in memory: open peg-outs, unacknowledged peg-ins, and a parsed
transaction only while its peg-out waits for signatures; a finished peg-out and an
acknowledged peg-in leave, id and all, once their last state is committed."""

from __future__ import annotations

import dataclasses

from actors.bridge.book import Book
from actors.bridge.ledger import transition
from actors.messages import PegoutState
from actors.storage.records import SPOOL_READ_FROM, MetaValue, PeginRecord, PegoutRecord

NOW = 1_700_000_000.0
PARSED = object()  # stands for a parsed transaction: only its identity matters here


def awaiting(request_id: str) -> PegoutRecord:
    return PegoutRecord(request_id=request_id, tx_hex="00", input_indices=(0,), amounts=(1,),
                        state=PegoutState.AWAITING_SIGNATURES.value, attempt=1,
                        signatures_required=3, txid="aa" * 32, created_at=NOW, updated_at=NOW)


def test_a_retry_keeps_the_parsed_transaction() -> None:
    book = Book()
    record = awaiting("p1")
    book.put(record)
    book.remember_parsed("p1", PARSED)  # type: ignore[arg-type]  # a stand-in
    book.put(transition(record, PegoutState.AWAITING_SIGNATURES, NOW + 1, attempt=2))
    assert book.unsigned(record) is PARSED and book.awaiting == 1


def test_signed_and_failed_peg_outs_let_it_go() -> None:
    book = Book()
    for request_id, state, changes in (
            ("p1", PegoutState.SIGNED, {"signed_tx_hex": "01", "signatures_collected": 3}),
            ("p2", PegoutState.FAILED, {"error": "no usable signatures"})):
        book.put(awaiting(request_id))
        book.remember_parsed(request_id, PARSED)  # type: ignore[arg-type]  # a stand-in
        book.put(transition(awaiting(request_id), state, NOW + 1, **changes))
    assert book.parsed_count() == 0 and book.awaiting == 0


def test_the_oldest_waiting_peg_out_counts_from_its_series_start() -> None:
    book = Book()
    assert book.oldest_awaiting_since() == 0.0
    book.put(dataclasses.replace(awaiting("late"), created_at=NOW + 50, updated_at=NOW + 50))
    book.put(awaiting("early"))  # accepted at NOW, put after: order in the book says nothing
    retried = dataclasses.replace(awaiting("retried"), created_at=NOW - 500,
                                  series_started_at=NOW + 20)
    book.put(retried)  # a client's RetryPegout counts from its new series
    assert book.oldest_awaiting_since() == NOW
    book.put(transition(awaiting("early"), PegoutState.SIGNED, NOW + 60, signed_tx_hex="01",
                        signatures_collected=3))
    assert book.oldest_awaiting_since() == NOW + 20
    for request_id in ("late", "retried"):
        book.put(transition(book.pegouts[request_id], PegoutState.FAILED, NOW + 70,
                            error="no usable signatures"))
    assert book.oldest_awaiting_since() == 0.0


def test_a_finished_peg_out_leaves_memory_once_its_state_is_committed() -> None:
    book = Book()
    signed = transition(awaiting("p1"), PegoutState.SIGNED, NOW + 1, signed_tx_hex="01")
    book.put(signed)
    book.committed(signed)
    assert book.lookup("p1") == signed  # open: stays
    broadcast = transition(signed, PegoutState.BROADCAST, NOW + 2)
    book.put(broadcast)
    assert book.lookup("p1") == broadcast  # not committed yet
    book.committed(broadcast)
    assert book.lookup("p1") is None  # and no id of it is kept


def test_a_peg_out_changed_again_before_the_commit_stays() -> None:
    book = Book()
    record = awaiting("p1")
    failed = transition(record, PegoutState.FAILED, NOW + 1, error="gave up")
    book.put(failed)
    book.put(record)  # (as if) replaced in memory before the commit came
    book.committed(failed)
    assert book.lookup("p1") == record


def test_a_new_record_that_was_not_stored_is_forgotten() -> None:
    book = Book()
    record, pegin = awaiting("p1"), PeginRecord("i1", "ab" * 32, 0, 1, "0x" + "0" * 40, 6)
    book.put(record)
    book.put(pegin)
    book.drop(record)
    book.drop(pegin)
    assert book.lookup("p1") is None and book.awaiting == 0 and not book.pegins


def test_an_acknowledged_peg_in_leaves_memory_once_committed() -> None:
    book = Book()
    pegin = PeginRecord("i1", "ab" * 32, 0, 1, "0x" + "0" * 40, 6)
    book.put(pegin)
    book.committed(pegin)
    assert "i1" in book.pegins  # unacknowledged: re-sent until governance says so
    acknowledged = dataclasses.replace(pegin, acknowledged=True, revision=2)
    book.put(acknowledged)
    book.committed(acknowledged)
    assert "i1" not in book.pegins


def test_loading_takes_open_records_and_the_spool_offset() -> None:
    book = Book()
    acknowledged = PeginRecord("i0", "ab" * 32, 0, 1, "0x" + "0" * 40, 6, acknowledged=True)
    book.load([awaiting("p1"), acknowledged, MetaValue(SPOOL_READ_FROM, "1234", 1235)])
    assert book.awaiting == 1 and book.lookup("p0") is None and not book.pegins
    assert book.spool_read_from == 1234
    assert book.counts() == "1 awaiting_signatures"
