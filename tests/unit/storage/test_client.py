"""DurableStore: writes coalesce into one `_Persist`, callbacks wait for the commit.
Fetches: reads answered once each, re-sent to a restarted StorageActor."""

from __future__ import annotations

from typing import Any

from actors.storage.client import DurableStore, Fetches
from actors.storage.protocol import _Fetch, _Fetched, _Persist

OWNER = "bridge"
STORAGE = "storage-1"
REPLACEMENT = "storage-2"


class FakeSend:
    """Records every (address, message) the store sends, in order."""

    def __init__(self) -> None:
        self.sent: list[tuple[Any, Any]] = []

    def __call__(self, address: Any, message: Any) -> None:
        self.sent.append((address, message))

    @property
    def messages(self) -> list[_Persist]:
        return [message for _, message in self.sent]


class Journal:
    """Collects which callbacks ran, in the order they ran."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def then(self, name: str) -> Any:
        return lambda: self.events.append(name)

    def otherwise(self, name: str) -> Any:
        return lambda reason: self.events.append(f"{name}: {reason}")


def store_with_fake_send() -> tuple[DurableStore, FakeSend]:
    send = FakeSend()
    # These tests are about batching and callbacks, with strings standing for records: the
    # storage limits are left out (tests/unit/storage/test_refusals.py has them).
    return DurableStore(OWNER, send, check=lambda records: None), send


def test_writes_before_a_flush_go_out_as_one_persist_with_every_record_in_order() -> None:
    store, send = store_with_fake_send()
    store.write(["a", "b"])
    store.write(["c"])
    store.write(["d", "e"])
    store.flush(STORAGE)
    assert send.sent == [(STORAGE, _Persist(OWNER, 1, ("a", "b", "c", "d", "e")))]


def test_each_flush_gets_the_next_sequence_number() -> None:
    store, send = store_with_fake_send()
    store.write(["a"])
    store.flush(STORAGE)
    store.persisted(1)
    store.write(["b"])
    store.flush(STORAGE)
    assert [message.seq for message in send.messages] == [1, 2]


def test_writes_made_while_one_is_in_flight_go_together_after_its_commit() -> None:
    store, send = store_with_fake_send()
    journal = Journal()
    store.write(["a"], then=journal.then("a"))
    store.flush(STORAGE)
    store.write(["b"], then=journal.then("b"))
    store.flush(STORAGE)
    store.write(["c"], then=journal.then("c"))
    store.flush(STORAGE)
    assert [m.records for m in send.messages] == [("a",)]  # group commit: b and c wait
    store.persisted(1)
    assert journal.events == ["a"]
    store.flush(STORAGE)
    assert [m.records for m in send.messages] == [("a",), ("b", "c")]
    store.persisted(2)
    assert journal.events == ["a", "b", "c"]


def test_a_flush_with_nothing_open_sends_nothing() -> None:
    store, send = store_with_fake_send()
    store.flush(STORAGE)
    store.write(["a"])
    store.flush(STORAGE)
    store.flush(STORAGE)
    assert len(send.sent) == 1


def test_then_callbacks_wait_for_the_commit_and_run_in_write_order() -> None:
    store, _ = store_with_fake_send()
    journal = Journal()
    store.write(["a"], then=journal.then("first"))
    store.write(["b"])
    store.write(["c"], then=journal.then("third"))
    store.flush(STORAGE)
    assert journal.events == []
    store.persisted(1)
    assert journal.events == ["first", "third"]


def test_a_second_persisted_for_the_same_seq_runs_no_callback_again() -> None:
    store, _ = store_with_fake_send()
    journal = Journal()
    store.write(["a"], then=journal.then("a"))
    store.flush(STORAGE)
    store.persisted(1)
    store.persisted(1)
    assert journal.events == ["a"]


def test_persisted_runs_only_the_callbacks_of_its_own_batch() -> None:
    store, _ = store_with_fake_send()
    journal = Journal()
    store.write(["a"], then=journal.then("a"))
    store.flush(STORAGE)
    store.write(["b"], then=journal.then("b"))
    store.persisted(1)
    assert journal.events == ["a"]
    store.flush(STORAGE)
    store.persisted(2)
    assert journal.events == ["a", "b"]


def test_persisted_for_an_unknown_seq_is_ignored() -> None:
    store, _ = store_with_fake_send()
    journal = Journal()
    store.write(["a"], then=journal.then("a"))
    store.flush(STORAGE)
    store.persisted(7)
    assert journal.events == [] and len(store) == 1


def test_a_flush_while_storage_is_unknown_sends_nothing_and_keeps_the_writes() -> None:
    store, send = store_with_fake_send()
    store.write(["a"])
    store.write(["b"])
    store.flush(None)
    assert send.sent == [] and len(store) == 2
    store.flush(STORAGE)
    assert send.sent == [(STORAGE, _Persist(OWNER, 1, ("a", "b")))]


def test_resend_sends_the_write_in_flight_again_with_its_original_seq() -> None:
    store, send = store_with_fake_send()
    store.write(["a"])
    store.flush(STORAGE)
    store.persisted(1)
    store.write(["b", "c"])
    store.flush(STORAGE)
    store.write(["d"])  # waits behind the one in flight
    store.flush(STORAGE)
    send.sent.clear()
    assert store.resend(REPLACEMENT) == 1
    assert send.sent == [(REPLACEMENT, _Persist(OWNER, 2, ("b", "c")))]
    store.persisted(2)
    store.flush(REPLACEMENT)
    assert send.sent[-1] == (REPLACEMENT, _Persist(OWNER, 3, ("d",)))


def test_resend_leaves_open_writes_for_the_next_flush() -> None:
    store, send = store_with_fake_send()
    store.write(["a"])
    assert store.resend(REPLACEMENT) == 0
    assert send.sent == [] and len(store) == 1


def test_a_resent_write_runs_its_callback_once_whichever_storage_answers_first() -> None:
    store, _ = store_with_fake_send()
    journal = Journal()
    store.write(["a"], then=journal.then("a"))
    store.flush(STORAGE)
    store.resend(REPLACEMENT)
    store.persisted(1)
    store.persisted(1)
    assert journal.events == ["a"]


def test_failed_calls_otherwise_and_keeps_the_writes_without_one_for_retry() -> None:
    store, _ = store_with_fake_send()
    journal = Journal()
    store.write(["a"], then=journal.then("a"), otherwise=journal.otherwise("a"))
    store.write(["b"], then=journal.then("b"))
    store.flush(STORAGE)
    assert store.failed(1, "disk full") is True
    assert journal.events == ["a: disk full"]
    assert len(store) == 1


def test_failed_answers_false_when_every_write_had_an_otherwise() -> None:
    store, _ = store_with_fake_send()
    journal = Journal()
    store.write(["a"], otherwise=journal.otherwise("a"))
    store.flush(STORAGE)
    assert store.failed(1, "disk full") is False
    assert len(store) == 0


def test_failed_for_an_unknown_or_committed_seq_changes_nothing() -> None:
    store, _ = store_with_fake_send()
    journal = Journal()
    store.write(["a"], then=journal.then("a"), otherwise=journal.otherwise("a"))
    store.flush(STORAGE)
    store.persisted(1)
    assert store.failed(1, "late") is False
    assert journal.events == ["a"] and len(store) == 0


def test_retry_sends_the_failed_writes_before_newer_open_writes() -> None:
    store, send = store_with_fake_send()
    journal = Journal()
    store.write(["a"], then=journal.then("a"))
    store.write(["b"], otherwise=journal.otherwise("b"))
    store.write(["c"], then=journal.then("c"))
    store.flush(STORAGE)
    store.failed(1, "disk full")
    store.write(["d"], then=journal.then("d"))
    send.sent.clear()
    store.retry(STORAGE)
    assert send.sent == [(STORAGE, _Persist(OWNER, 2, ("a", "c", "d")))]
    store.persisted(2)
    assert journal.events == ["b: disk full", "a", "c", "d"]
    assert len(store) == 0


def test_retry_while_storage_is_unknown_keeps_the_failed_writes() -> None:
    store, send = store_with_fake_send()
    store.write(["a"])
    store.flush(STORAGE)
    store.failed(1, "disk full")
    send.sent.clear()
    store.retry(None)
    assert send.sent == [] and len(store) == 1
    store.flush(STORAGE)
    assert send.sent == [(STORAGE, _Persist(OWNER, 2, ("a",)))]


def test_len_counts_open_in_flight_and_failed_writes() -> None:
    store, _ = store_with_fake_send()
    assert len(store) == 0
    store.write(["a"])
    store.write(["b", "c"])
    store.flush(STORAGE)
    store.write(["d"])
    store.flush(STORAGE)
    store.failed(2, "disk full")
    store.write(["e"])
    # a and b+c in flight (two writes), d failed, e open: records do not count, writes do.
    assert len(store) == 4
    store.persisted(1)
    assert len(store) == 2


def test_an_empty_write_with_a_callback_runs_it_after_the_commit_of_its_batch() -> None:
    store, send = store_with_fake_send()
    journal = Journal()
    store.write(["a"])
    store.write([], then=journal.then("empty"))
    store.write(["b"])
    store.flush(STORAGE)
    assert send.messages == [_Persist(OWNER, 1, ("a", "b"))]
    assert journal.events == []
    store.persisted(1)
    assert journal.events == ["empty"]


def test_an_empty_write_alone_is_still_sent_so_its_callback_can_run() -> None:
    store, send = store_with_fake_send()
    journal = Journal()
    store.write([], then=journal.then("empty"))
    store.flush(STORAGE)
    assert send.messages == [_Persist(OWNER, 1, ())]
    store.persisted(1)
    assert journal.events == ["empty"]


def test_a_callback_that_writes_again_opens_a_new_batch() -> None:
    store, send = store_with_fake_send()
    store.write(["a"], then=lambda: store.write(["follow-up"]))
    store.flush(STORAGE)
    store.persisted(1)
    store.flush(STORAGE)
    assert send.messages[-1] == _Persist(OWNER, 2, ("follow-up",))


class Answers:
    def __init__(self) -> None:
        self.got: list[tuple[Any, Any]] = []

    def __call__(self, records: Any, error: Any) -> None:
        self.got.append((records, error))


def test_a_read_is_answered_once_even_if_its_answer_comes_twice() -> None:
    send, answers = FakeSend(), Answers()
    fetches = Fetches(OWNER, send)
    fetches.fetch(STORAGE, answers, request_id="p1")
    [(address, query)] = send.sent
    assert address == STORAGE and query == _Fetch(OWNER, 1, request_id="p1")
    fetches.answered(_Fetched(OWNER, 1, ("record",)))
    fetches.answered(_Fetched(OWNER, 1, ("record",)))
    assert answers.got == [(("record",), None)] and len(fetches) == 0


def test_a_failed_read_gives_no_records_and_the_reason() -> None:
    answers = Answers()
    fetches = Fetches(OWNER, FakeSend())
    fetches.fetch(STORAGE, answers, state="broadcast")
    fetches.answered(_Fetched(OWNER, 1, error="storage x: disk I/O error"))
    assert answers.got == [(None, "storage x: disk I/O error")]


def test_unanswered_reads_go_again_to_a_new_storage_and_wait_while_there_is_none() -> None:
    send, answers = FakeSend(), Answers()
    fetches = Fetches(OWNER, send)
    fetches.fetch(STORAGE, answers, request_id="p1")
    fetches.fetch(None, answers, request_id="p2")  # no StorageActor known: kept, not sent
    assert [m.request_id for m in send.messages] == ["p1"]
    assert fetches.resend(REPLACEMENT) == 2
    assert [(a, m.request_id) for a, m in send.sent[1:]] == [(REPLACEMENT, "p1"),
                                                            (REPLACEMENT, "p2")]
    fetches.answered(_Fetched(OWNER, 2, ()))
    assert answers.got == [((), None)] and len(fetches) == 1


# --- trace context ---------------------------------------------------------------------------

TRACE_A = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
TRACE_B = "00-1af7651916cd43dd8448eb211c80319c-c7ad6b7169203331-01"


def test_a_persist_carries_each_distinct_trace_of_its_writes_while_tracing_is_on(
        monkeypatch: Any) -> None:
    from runtime import tracing

    monkeypatch.setattr(tracing, "active", True)
    store, send = store_with_fake_send()
    for number, trace in enumerate((TRACE_A, None, TRACE_B, TRACE_A)):
        store.write([f"r{number}"], trace=trace)
    store.flush(STORAGE)
    assert send.messages[0].traceparents == (TRACE_A, TRACE_B)
    store.resend(REPLACEMENT)  # a re-sent write keeps its traces
    assert send.messages[1].traceparents == (TRACE_A, TRACE_B)


def test_a_persist_carries_no_trace_while_tracing_is_off() -> None:
    store, send = store_with_fake_send()
    store.write(["r"], trace=TRACE_A)
    store.flush(STORAGE)
    assert send.messages[0].traceparents == ()


def test_a_write_that_can_wait_starts_no_transaction_of_its_own() -> None:
    store, send = store_with_fake_send()
    store.write(["broadcast"], can_wait=True)
    store.flush(STORAGE)
    assert send.sent == [] and store.waiting  # the owner's timer must send it
    store.write(["accepted"])  # one that cannot wait: both go, in order
    store.flush(STORAGE)
    assert send.messages == [_Persist(OWNER, 1, ("broadcast", "accepted"))]
    assert not store.waiting


def test_writes_that_waited_long_enough_go_alone() -> None:
    store, send = store_with_fake_send()
    journal = Journal()
    store.write(["broadcast"], then=journal.then("notify chain"), can_wait=True)
    store.flush(STORAGE, waited=True)
    assert send.messages == [_Persist(OWNER, 1, ("broadcast",))]
    store.persisted(1)
    assert journal.events == ["notify chain"]


def test_a_wait_that_ends_while_a_transaction_is_in_flight_is_kept_for_the_next_flush(
        ) -> None:
    store, send = store_with_fake_send()
    store.write(["signed"])
    store.flush(STORAGE)
    store.write(["broadcast"], can_wait=True)
    store.flush(STORAGE, waited=True)  # the timer, while `signed` is being committed
    assert len(send.messages) == 1
    store.persisted(1)
    store.flush(STORAGE)  # the answer's turn: the waited write goes, alone
    assert send.messages[1] == _Persist(OWNER, 2, ("broadcast",))


def test_a_failed_write_that_can_wait_is_retried_without_waiting_again() -> None:
    store, send = store_with_fake_send()
    store.write(["broadcast"], can_wait=True)
    store.flush(STORAGE, waited=True)
    assert store.failed(1, "disk full")
    store.retry(STORAGE)
    assert send.messages[1] == _Persist(OWNER, 2, ("broadcast",))


def test_a_timer_that_fires_after_its_writes_went_lets_the_next_one_wait_all_the_same(
        ) -> None:
    store, send = store_with_fake_send()
    store.write(["broadcast"], can_wait=True)
    store.flush(STORAGE)  # waits: the owner arms its timer
    store.write(["accepted"])
    store.flush(STORAGE)  # both go, before the timer fires
    store.persisted(1)
    store.flush(STORAGE, waited=True)  # the timer, late: nothing of its own is open
    store.write(["broadcast-2"], can_wait=True)
    store.flush(STORAGE)
    assert len(send.messages) == 1 and store.waiting  # it waits, for company or its timer


def test_writes_that_waited_behind_a_transaction_need_no_timer_again() -> None:
    store, send = store_with_fake_send()
    store.write(["signed"])
    store.flush(STORAGE)
    store.write(["broadcast"], can_wait=True)
    store.flush(STORAGE)
    assert store.waiting
    store.flush(STORAGE, waited=True)  # the timer, while `signed` is being committed
    assert not store.waiting  # they go with the answer's flush: no timer every 50 ms
    store.persisted(1)
    store.flush(STORAGE)
    assert send.messages[1] == _Persist(OWNER, 2, ("broadcast",))


def test_a_retry_with_nothing_failed_does_not_send_writes_that_can_wait() -> None:
    store, send = store_with_fake_send()
    store.write(["broadcast"], can_wait=True)
    store.retry(STORAGE)  # a late retry wakeup: nothing had failed
    assert send.sent == [] and store.waiting  # still waiting for company or the timer
