"""Writes that can never be stored: refused at once, never retried, never blocking the others.

DurableStore on its own (a fake send); the StorageActor's and the OwnerActor's handlers
called directly, without an actor system, with their `send` recorded."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from thespian.actors import PoisonMessage

from actors.messages import Batch
from actors.owner import OwnerActor
from actors.storage.actor import StorageActor
from actors.storage.client import DurableStore
from actors.storage.database import Database
from actors.storage.errors import (
    StorageFull,
    StorageRefused,
    StorageUnavailable,
    is_permanent,
)
from actors.storage.limits import INT64_MAX
from actors.storage.protocol import (
    _Fetch,
    _Fetched,
    _Persist,
    _Persisted,
    _PersistFailed,
)
from actors.storage.records import MetaValue, PegoutRecord, Record

pytestmark = pytest.mark.timeout(30)

OWNER = "chain"
STORAGE = "storage-1"
REPLACEMENT = "storage-2"


def good(key: str) -> MetaValue:
    return MetaValue(key, "v")


def bad(key: str) -> MetaValue:
    return MetaValue(key, "v", revision=INT64_MAX + 1)


class Journal:
    """Which callbacks ran, in order, and what the store reported as refused."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.refused: list[tuple[tuple[str, ...], bool]] = []

    def then(self, name: str) -> Any:
        return lambda: self.events.append(name)

    def otherwise(self, name: str) -> Any:
        return lambda reason: self.events.append(f"{name} refused: {reason}")

    def on_refused(self, records: tuple[Record, ...], reason: str, told: bool) -> None:
        self.refused.append((tuple(getattr(r, "key", "?") for r in records), told))


class FakeSend:
    def __init__(self) -> None:
        self.sent: list[tuple[Any, Any]] = []

    def __call__(self, address: Any, message: Any) -> None:
        self.sent.append((address, message))

    def last(self) -> _Persist:
        message = self.sent[-1][1]
        assert isinstance(message, _Persist)
        return message


def store(journal: Journal, *, checked: bool = True) -> tuple[DurableStore, FakeSend]:
    send = FakeSend()
    if checked:
        return DurableStore(OWNER, send, refused=journal.on_refused), send
    # As if a bad record got past the owner: only the StorageActor can refuse it.
    return DurableStore(OWNER, send, refused=journal.on_refused,
                        check=lambda records: None), send


def keys(message: _Persist) -> list[str]:
    return [record.key for record in message.records if isinstance(record, MetaValue)]


class RefusingStorage:
    """Answers as the StorageActor does: a batch holding a bad record fails for good."""

    def __init__(self, durable: DurableStore, send: FakeSend) -> None:
        self.durable = durable
        self.send = send
        self.transactions: list[list[str]] = []

    def run(self) -> None:
        """Flush and answer until nothing is left to send."""
        while True:
            before = len(self.send.sent)
            self.durable.flush(STORAGE)
            if len(self.send.sent) == before:
                return
            message = self.send.last()
            self.transactions.append(keys(message))
            if any(isinstance(r, MetaValue) and r.revision > INT64_MAX for r in message.records):
                self.durable.failed(message.seq, "refused: revision past int64", permanent=True)
            else:
                self.durable.persisted(message.seq)


# -- the owner's side: DurableStore -----------------------------------------------------------


def test_a_write_sqlite_cannot_hold_is_refused_at_once_through_its_otherwise() -> None:
    journal = Journal()
    durable, send = store(journal)
    durable.write([bad("height")], then=journal.then("height"),
                  otherwise=journal.otherwise("height"))
    assert journal.events == [
        "height refused: MetaValue 'height': revision is 9223372036854775808, outside what "
        "SQLite stores as an integer (-9223372036854775808..9223372036854775807)"]
    assert journal.refused == [(("height",), True)]
    durable.flush(STORAGE)
    assert send.sent == [] and len(durable) == 0


def test_a_refused_write_without_an_otherwise_is_dropped_and_reported() -> None:
    journal = Journal()
    durable, send = store(journal)
    durable.write([good("a"), bad("b")], then=journal.then("ab"))
    assert journal.events == [] and journal.refused == [(("a", "b"), False)]
    durable.flush(STORAGE)
    assert send.sent == [] and len(durable) == 0


def test_a_refused_write_never_joins_a_batch_so_the_writes_around_it_commit() -> None:
    journal = Journal()
    durable, send = store(journal)
    durable.write([good("a")], then=journal.then("a"))
    durable.write([bad("b")], then=journal.then("b"), otherwise=journal.otherwise("b"))
    durable.write([good("c")], then=journal.then("c"))
    durable.flush(STORAGE)
    assert keys(send.last()) == ["a", "c"]
    durable.persisted(send.last().seq)
    assert journal.events[0].startswith("b refused: MetaValue 'b': revision")
    assert journal.events[1:] == ["a", "c"]


def test_a_batch_with_one_bad_write_still_commits_every_other_write_in_order() -> None:
    journal = Journal()
    durable, send = store(journal, checked=False)
    for key in "abcdefgh":
        record = bad(key) if key == "f" else good(key)
        durable.write([record], then=journal.then(key), otherwise=journal.otherwise(key))
    storage = RefusingStorage(durable, send)
    storage.run()
    assert journal.events == ["a", "b", "c", "d", "e", "f refused: refused: revision past "
                              "int64", "g", "h"]
    assert len(durable) == 0
    # Halves, not one write at a time: the bad one is found in a few round trips.
    assert storage.transactions == [list("abcdefgh"), list("abcd"), list("efgh"), ["e", "f"],
                                    ["e"], ["f"], ["g", "h"]]


def test_bad_writes_without_an_otherwise_are_dropped_and_reported_and_the_rest_commit() -> None:
    journal = Journal()
    durable, send = store(journal, checked=False)
    for key in "abcde":
        durable.write([bad(key) if key in "be" else good(key)], then=journal.then(key))
    RefusingStorage(durable, send).run()
    assert journal.events == ["a", "c", "d"]
    assert journal.refused == [(("b",), False), (("e",), False)]
    assert len(durable) == 0


def test_a_permanent_failure_is_never_retried() -> None:
    journal = Journal()
    durable, send = store(journal, checked=False)
    durable.write([bad("a")], then=journal.then("a"))
    durable.flush(STORAGE)
    assert durable.failed(1, "refused", permanent=True) is False
    durable.retry(STORAGE)
    assert len(send.sent) == 1 and len(durable) == 0
    assert journal.refused == [(("a",), False)]


def test_writes_made_while_a_batch_is_split_are_sent_after_its_pieces() -> None:
    journal = Journal()
    durable, send = store(journal, checked=False)
    durable.write([good("a")], then=journal.then("a"))
    durable.write([bad("b")], then=journal.then("b"))
    durable.flush(STORAGE)
    durable.failed(1, "refused", permanent=True)
    durable.write([good("c")], then=journal.then("c"))
    RefusingStorage(durable, send).run()
    assert [keys(message) for _, message in send.sent] == [["a", "b"], ["a"], ["b"], ["c"]]
    assert journal.events == ["a", "c"]


def test_a_piece_that_fails_for_now_is_retried_before_the_pieces_after_it() -> None:
    journal = Journal()
    durable, send = store(journal, checked=False)
    for key in "abcd":
        durable.write([good(key)], then=journal.then(key))
    durable.flush(STORAGE)
    durable.failed(1, "refused", permanent=True)  # pieces ab and cd
    durable.flush(STORAGE)
    assert keys(send.last()) == ["a", "b"]
    assert durable.failed(2, "disk full") is True
    assert len(durable) == 4
    durable.retry(STORAGE)
    assert keys(send.last()) == ["a", "b"]
    durable.persisted(send.last().seq)
    durable.flush(STORAGE)
    assert keys(send.last()) == ["c", "d"]
    durable.persisted(send.last().seq)
    assert journal.events == ["a", "b", "c", "d"]


# -- the StorageActor answers every message, whatever goes wrong --------------------------------


class RecordingStorage(StorageActor):
    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[Any, Any]] = []

    def send(self, targetAddr: Any, msg: object) -> None:
        self.sent.append((targetAddr, msg))


@pytest.fixture
def storage(tmp_path: Path) -> Any:
    actor = RecordingStorage()
    actor.peers = {"bridge": "owner", "chain": "owner"}  # as the tree's `_Peers` sets them
    actor.database = Database.open(str(tmp_path / "node.sqlite3"))
    yield actor
    actor.database.close()


def test_the_storage_refuses_a_bad_record_for_good_before_writing_anything(storage: Any) -> None:
    storage.receiveMessage(_Persist(OWNER, 1, (good("a"), bad("b"))), "owner")
    [(to, answer)] = storage.sent
    assert to == "owner" and isinstance(answer, _PersistFailed) and answer.permanent
    assert answer.reason.startswith("refused before writing: MetaValue 'b': revision is")
    assert storage.database.meta() == []


def test_an_unexpected_error_in_a_write_is_answered_as_a_failure_for_good(
        storage: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(records: Sequence[Record], first: object = ()) -> None:
        raise KeyError("surprise")

    monkeypatch.setattr(storage.database, "write", broken)
    storage.receiveMessage(_Persist(OWNER, 3, (good("a"),)), "owner")
    [(_, answer)] = storage.sent
    assert answer == _PersistFailed(OWNER, 3, f"storage {storage.database.path}: KeyError: "
                                    "'surprise'", permanent=True)


def test_a_full_disk_is_answered_as_a_failure_that_may_pass(
        storage: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(records: Sequence[Record], first: object = ()) -> None:
        raise StorageFull(storage.database.path, "database or disk is full")

    monkeypatch.setattr(storage.database, "write", full)
    storage.receiveMessage(_Persist(OWNER, 4, (good("a"),)), "owner")
    [(_, answer)] = storage.sent
    assert isinstance(answer, _PersistFailed) and not answer.permanent


def test_a_read_that_raises_anything_is_answered_with_the_error(storage: Any) -> None:
    storage.receiveMessage(_Fetch("bridge", 7, request_id="p\ud800"), "owner")
    [(_, answer)] = storage.sent
    assert isinstance(answer, _Fetched) and answer.records == ()
    assert answer.error is not None and "UnicodeEncodeError" in answer.error
    assert answer.error.encode("utf-8")  # loggable: the surrogate is escaped


def test_the_database_names_a_record_sqlite_cannot_bind_and_writes_nothing(
        storage: Any) -> None:
    # Past the limits' check (called directly): the last line, in the database itself.
    records = [good("a"), PegoutRecord("p\ud800", "00", (), (), "signed", 1, 1)]
    with pytest.raises(StorageRefused) as refused:
        storage.database.write(records)
    assert "PegoutRecord 'p\\ud800' cannot be stored: UnicodeEncodeError" in str(refused.value)
    assert is_permanent(refused.value)
    assert storage.database.meta() == []


def test_only_errors_from_the_machine_are_worth_a_retry() -> None:
    assert not is_permanent(StorageFull("db", "full"))
    assert not is_permanent(StorageUnavailable("db", "database is locked"))
    assert not is_permanent(MemoryError())
    assert not is_permanent(OSError("I/O"))
    assert is_permanent(StorageRefused("db", "NOT NULL constraint failed"))
    assert is_permanent(OverflowError("Python int too large to convert to SQLite INTEGER"))
    assert is_permanent(UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"))


def test_an_old_storage_actor_without_the_flag_is_read_as_a_failure_that_may_pass() -> None:
    assert _PersistFailed(OWNER, 1, "disk full").permanent is False


# -- the OwnerActor: answers from the current storage only; poison is a failure ----------------


class RecordingOwner(OwnerActor):
    owner = OWNER

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[Any, Any]] = []

    def send(self, targetAddr: Any, msg: object) -> None:
        self.sent.append((targetAddr, msg))

    def persists(self) -> list[tuple[Any, _Persist]]:
        return [(to, m) for to, m in self.sent if isinstance(m, _Persist)]


def owner_with_storage(storage: str = STORAGE) -> RecordingOwner:
    owner = RecordingOwner()
    owner.loaded = True
    owner.peers = {"storage": storage}  # as the tree's `_Peers` sets them
    owner._storage = storage  # as `on_peers_changed` sets it
    return owner


def test_answers_from_a_replaced_storage_are_ignored() -> None:
    journal = Journal()
    owner = owner_with_storage()
    owner.store.write([good("a")], then=journal.then("a"), otherwise=journal.otherwise("a"))
    owner.store.flush(STORAGE)
    owner.peers["storage"] = owner._storage = REPLACEMENT
    owner.store.resend(REPLACEMENT)
    # The old StorageActor's failure must not undo the write its replacement commits.
    owner.receiveMessage(_PersistFailed(OWNER, 1, "storage: the database is not open"),
                         STORAGE)
    owner.receiveMessage(_Persisted(OWNER, 1), STORAGE)
    assert journal.events == [] and len(owner.store) == 1
    owner.receiveMessage(_Persisted(OWNER, 1), REPLACEMENT)
    assert journal.events == ["a"] and len(owner.store) == 0


def test_a_read_answered_by_a_replaced_storage_waits_for_the_current_one() -> None:
    answers: list[Any] = []
    owner = owner_with_storage()
    owner.fetches.fetch(STORAGE, lambda records, error: answers.append((records, error)),
                        request_id="p1")
    owner.peers["storage"] = owner._storage = REPLACEMENT
    owner.receiveMessage(_Fetched(OWNER, 1, error="gone"), STORAGE)
    assert answers == [] and len(owner.fetches) == 1
    owner.receiveMessage(_Fetched(OWNER, 1, ()), REPLACEMENT)
    assert answers == [((), None)]


def test_a_poisoned_write_is_a_failure_for_good_and_frees_what_it_held(
        caplog: pytest.LogCaptureFixture) -> None:
    journal = Journal()
    owner = owner_with_storage()
    owner.store.write([good("a")], then=journal.then("a"), otherwise=journal.otherwise("a"))
    owner.store.write([good("b")], then=journal.then("b"))
    owner.store.flush(STORAGE)
    [(_, first)] = owner.persists()
    details = "Traceback (most recent call last):\n  ...\nOverflowError: too large"
    with caplog.at_level(logging.WARNING, logger=owner.log.name):
        owner.receiveMessage(PoisonMessage(first, details), STORAGE)
    # Split: a and b go on their own; the owner's flush after the message sent the first.
    assert [m.records for _, m in owner.persists()[1:]] == [(good("a"),)]
    owner.receiveMessage(PoisonMessage(owner.persists()[-1][1], details), STORAGE)
    assert journal.events == ["a refused: the StorageActor failed on it: OverflowError: "
                              "too large"]
    assert [m.records for _, m in owner.persists()[2:]] == [(good("b"),)]
    owner.receiveMessage(_Persisted(OWNER, owner.persists()[-1][1].seq), STORAGE)
    assert journal.events[1:] == ["b"] and len(owner.store) == 0
    assert "the StorageActor failed on 1 of this owner's messages" in caplog.text


def test_a_poisoned_read_in_a_batch_is_answered_with_the_error() -> None:
    answers: list[Any] = []
    owner = owner_with_storage()
    owner.fetches.fetch(STORAGE, lambda records, error: answers.append((records, error)),
                        request_id="p1")
    [(_, query)] = owner.sent
    owner.receiveMessage(PoisonMessage(Batch((query,)), "ValueError: bad"), STORAGE)
    assert answers == [(None, "the StorageActor failed on it: ValueError: bad")]
    assert len(owner.fetches) == 0


def test_poison_from_a_replaced_storage_is_ignored() -> None:
    journal = Journal()
    owner = owner_with_storage()
    owner.store.write([good("a")], then=journal.then("a"), otherwise=journal.otherwise("a"))
    owner.store.flush(STORAGE)
    [(_, first)] = owner.persists()
    owner.peers["storage"] = owner._storage = REPLACEMENT
    owner.receiveMessage(PoisonMessage(first, "OverflowError"), STORAGE)
    assert journal.events == [] and len(owner.store) == 1
