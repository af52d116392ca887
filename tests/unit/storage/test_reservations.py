"""Coins held by one peg-out at a time: a new peg-out's first write claims them with its
record, whole or not at all; a replacement shares them with the peg-out it replaces until
they are transferred; a release frees them. The database on its own, then the owner's
DurableStore against a StorageActor whose handlers are called directly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from actors.storage.actor import StorageActor
from actors.storage.client import DurableStore
from actors.storage.database import Database
from actors.storage.errors import StorageRefused
from actors.storage.limits import INT64_MAX
from actors.storage.protocol import _Persist, _Persisted, _PersistFailed
from actors.storage.records import (
    Claim,
    Held,
    MetaValue,
    PegoutRecord,
    Record,
    Release,
    Taken,
    Transfer,
)

pytestmark = pytest.mark.timeout(30)

NEW = True  # a group's peg-out record is inserted only if absent
RETRY = False  # a group's peg-out record is an ordinary upsert


def coin(n: int, vout: int = 0) -> str:
    return f"{n:064x}:{vout}"


def pegout(request_id: str, state: str = "awaiting_signatures", revision: int = 1,
           created_at: float = 1.0) -> PegoutRecord:
    return PegoutRecord(request_id, "00" * 60, (0,), (5,), state, 1, 3, created_at=created_at,
                        updated_at=created_at, revision=revision)


def new_pegout(request_id: str, *coins: str, shares_with: str | None = None
               ) -> list[Record]:
    return [Claim(request_id, coins, shares_with, at=1.0), pegout(request_id)]


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    db = Database.open(str(tmp_path / "node.sqlite3"))
    yield db
    db.close()


# -- the database -------------------------------------------------------------------------


def test_a_new_peg_out_claims_its_coins_with_its_record(database: Database) -> None:
    assert database.write(new_pegout("a", coin(1), coin(2)), [(0, 2, NEW)]) == ()
    assert database.reservations() == [(coin(1), "a"), (coin(2), "a")]
    assert database.pegouts(request_id="a") == [pegout("a")]


def test_a_claim_that_finds_a_coin_held_undoes_its_whole_write_and_no_other(
        database: Database) -> None:
    database.write(new_pegout("z", coin(3)), [(0, 2, NEW)])
    batch: list[Record] = [
        MetaValue("bridge.before", "1"),
        Claim("a", (coin(1), coin(2), coin(3), coin(4)), at=1.0), MetaValue("bridge.a", "1"),
        pegout("a"),
        *new_pegout("b", coin(5)),
        MetaValue("bridge.after", "1"),
    ]
    found = database.write(batch, [(1, 4, NEW), (4, 6, NEW)])
    assert found == ((1, Held(coin(3), "z")),)
    # a's claim on coins 1 and 2, its meta value and its record are undone; b's write and
    # the plain writes around them commit.
    assert database.reservations() == [(coin(3), "z"), (coin(5), "b")]
    assert [p.request_id for p in database.pegouts()] == ["b", "z"]
    assert [m.key for m in database.meta()] == ["bridge.after", "bridge.before"]


def test_a_conflict_names_the_first_coin_held_in_the_claims_order(database: Database) -> None:
    database.write([*new_pegout("x", coin(1)), *new_pegout("y", coin(2))],
                   [(0, 2, NEW), (2, 4, NEW)])
    found = database.write(new_pegout("a", coin(9), coin(2), coin(1)), [(0, 2, NEW)])
    assert found == ((0, Held(coin(2), "y")),)


def test_a_taken_peg_out_id_undoes_the_claim_made_with_it(database: Database) -> None:
    finished = pegout("a", state="broadcast", revision=3)
    database.write([finished])
    found = database.write(new_pegout("a", coin(1)), [(0, 2, NEW)])
    assert found == ((1, finished),)
    assert database.reservations() == []
    assert database.pegouts() == [finished]


def test_a_first_write_re_sent_after_its_commit_finds_its_own_coins_and_reports_nothing(
        database: Database) -> None:
    write = new_pegout("a", coin(1), coin(2))
    database.write(write, [(0, 2, NEW)])
    database.write([Claim("a", (coin(3),), at=2.0)], [(0, 1, NEW)])
    assert database.write(write, [(0, 2, NEW)]) == ()  # as a restarted StorageActor gets it
    assert database.reservations() == [(coin(1), "a"), (coin(2), "a"), (coin(3), "a")]


def test_a_claim_may_name_a_coin_twice(database: Database) -> None:
    assert database.write(new_pegout("a", coin(1), coin(1)), [(0, 2, NEW)]) == ()
    assert database.reservations() == [(coin(1), "a")]


def test_a_replacement_shares_the_coins_of_the_peg_out_it_replaces_until_a_transfer(
        database: Database) -> None:
    database.write(new_pegout("orig", coin(1), coin(2)), [(0, 2, NEW)])
    found = database.write(new_pegout("repl", coin(2), coin(3), shares_with="orig"),
                           [(0, 2, NEW)])
    assert found == ()
    assert database.reservations() == [(coin(1), "orig"), (coin(2), "orig"), (coin(3), "repl")]
    # Shared with the replacement only: a third peg-out still finds the coin held.
    assert database.write(new_pegout("other", coin(2), shares_with="repl"), [(0, 2, NEW)]) == (
        (0, Held(coin(2), "orig")),)

    database.write([Transfer("orig", "repl", (coin(2), coin(3)))])
    database.write([Transfer("orig", "repl", (coin(2), coin(3)))])  # a second copy
    database.write([Release("orig")])
    assert database.reservations() == [(coin(2), "repl"), (coin(3), "repl")]


def test_a_token_is_reserved_like_a_coin_so_a_peg_out_has_one_open_replacement(
        database: Database) -> None:
    token = "replacement-of:orig"
    database.write(new_pegout("orig", coin(1), coin(2)), [(0, 2, NEW)])
    assert database.write(new_pegout("first", coin(1), token, shares_with="orig"),
                          [(0, 2, NEW)]) == ()
    assert database.write(new_pegout("second", coin(2), token, shares_with="orig"),
                          [(0, 2, NEW)]) == ((0, Held(token, "first")),)
    assert database.reservations("first") == [(token, "first")]


def test_a_transfer_moves_only_what_the_giver_holds(database: Database) -> None:
    database.write([*new_pegout("from", coin(1)), *new_pegout("other", coin(2))],
                   [(0, 2, NEW), (2, 4, NEW)])
    database.write([Transfer("from", "to", (coin(1), coin(2), coin(3)))])
    assert database.reservations() == [(coin(1), "to"), (coin(2), "other")]


def test_a_released_coin_can_be_claimed_by_another_peg_out(database: Database) -> None:
    database.write([*new_pegout("a", coin(1), coin(2)), *new_pegout("b", coin(3))],
                   [(0, 2, NEW), (2, 4, NEW)])
    database.write([Release("a")])
    database.write([Release("a"), Release("never-held")])  # nothing left: nothing changes
    assert database.reservations() == [(coin(3), "b")]
    assert database.write(new_pegout("c", coin(2)), [(0, 2, NEW)]) == ()
    assert database.reservations("c") == [(coin(2), "c")]


def test_a_retry_whose_claim_conflicts_leaves_the_stored_peg_out_unchanged(
        database: Database) -> None:
    failed = pegout("p", state="failed", revision=2)
    database.write([failed, *new_pegout("z", coin(1))], [(1, 3, NEW)])
    retried = pegout("p", revision=3)
    claim = Claim("p", (coin(2), coin(1)), at=5.0)
    assert database.write([claim, retried], [(0, 2, RETRY)]) == ((0, Held(coin(1), "z")),)
    assert database.pegouts(request_id="p") == [failed]
    assert database.reservations() == [(coin(1), "z")]

    # Once the coin is free, the same retry is an upsert like any other: a stored record
    # under its id is not a conflict.
    database.write([Release("z")])
    assert database.write([claim, retried], [(0, 2, RETRY)]) == ()
    assert database.pegouts(request_id="p") == [retried]
    assert database.reservations() == [(coin(1), "p"), (coin(2), "p")]


def test_a_claim_outside_a_first_write_is_refused_and_nothing_is_written(
        database: Database) -> None:
    with pytest.raises(StorageRefused, match="Claim 'a' cannot be stored: TypeError: a Claim "
                       "is written only in a first write"):
        database.write([MetaValue("bridge.x", "1"), Claim("a", (coin(1),))])
    assert database.reservations() == [] and database.meta() == []


@pytest.mark.parametrize("groups", [[(0, 2, NEW), (1, 3, NEW)], [(0, 4, NEW)], [(2, 1, NEW)]])
def test_groups_that_overlap_or_lie_outside_the_write_are_refused(
        database: Database, groups: list[tuple[int, int, bool]]) -> None:
    with pytest.raises(StorageRefused, match="overlaps another or lies outside the 3 records"):
        database.write([*new_pegout("a", coin(1)), MetaValue("bridge.x", "1")], groups)
    assert database.reservations() == [] and database.meta() == []


def test_an_empty_group_finds_nothing(database: Database) -> None:
    assert database.write([MetaValue("bridge.x", "1")], [(0, 0, NEW), (1, 1, NEW)]) == ()
    assert len(database.meta()) == 1


# -- the owner's DurableStore against a StorageActor -----------------------------------------


class RecordingStorage(StorageActor):
    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[Any, Any]] = []

    def send(self, targetAddr: Any, msg: object) -> None:
        self.sent.append((targetAddr, msg))


class Node:
    """A DurableStore and a StorageActor, their messages carried by hand."""

    def __init__(self, path: Path, *, checked: bool = True) -> None:
        self.storage = RecordingStorage()
        self.storage.peers = {"bridge": "owner"}  # as the tree's `_Peers` sets them
        self.storage.database = Database.open(str(path))
        self.persists: list[_Persist] = []
        self.events: list[object] = []
        self.store = DurableStore("bridge", self._to_storage, **(
            {} if checked else {"check": lambda records: None}))

    @property
    def database(self) -> Database:
        assert self.storage.database is not None
        return self.storage.database

    def _to_storage(self, address: Any, message: object) -> None:
        assert isinstance(message, _Persist)
        self.persists.append(message)

    def write(self, name: str, records: list[Record], *, first: bool = False,
              insert_new: bool = True) -> None:
        def found(taken: Taken) -> None:
            self.events.append((name, taken))

        self.store.write(records, then=lambda: self.events.append(name),
                         otherwise=lambda reason: self.events.append(f"{name} refused"),
                         found=found if first else None, insert_new=insert_new)

    def run(self) -> None:
        """Flush and answer until nothing is left to send."""
        while True:
            sent = len(self.persists)
            self.store.flush("storage")
            if len(self.persists) == sent:
                return
            self.storage.receiveMessage(self.persists[-1], "owner")
            answer = self.storage.sent.pop()[1]
            if isinstance(answer, _Persisted):
                self.store.persisted(answer.seq, answer.found)
            else:
                assert isinstance(answer, _PersistFailed)
                self.store.failed(answer.seq, answer.reason, permanent=answer.permanent)


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    running = Node(tmp_path / "node.sqlite3")
    yield running
    running.database.close()


def test_the_durable_store_routes_found_and_then_to_each_write_of_a_mixed_batch(
        node: Node) -> None:
    node.database.write([*new_pegout("held", coin(1)), pegout("retried", state="failed")],
                        [(0, 2, NEW)])
    node.write("plain", [MetaValue("bridge.x", "1")])
    node.write("conflicts", new_pegout("a", coin(2), coin(1)), first=True)
    node.write("fresh", new_pegout("b", coin(3)), first=True)
    node.write("retry", [Claim("retried", (coin(4),)), pegout("retried", revision=2)],
               first=True, insert_new=False)
    node.write("plain after", [Release("held")])
    node.run()

    [message] = node.persists
    assert message.groups == ((1, 3, NEW), (3, 5, NEW), (5, 7, RETRY))
    assert node.events == ["plain", ("conflicts", Held(coin(1), "held")), "fresh", "retry",
                           "plain after"]
    assert node.database.reservations() == [(coin(3), "b"), (coin(4), "retried")]
    assert [p.request_id for p in node.database.pegouts()] == ["b", "held", "retried"]


def test_a_claim_without_found_is_refused_before_it_is_sent(node: Node) -> None:
    node.write("unheard", [Claim("a", (coin(1),))])
    node.run()
    assert node.events == ["unheard refused"] and node.persists == []


def test_bisection_finds_a_refused_write_among_first_writes_without_cutting_one(
        tmp_path: Path) -> None:
    node = Node(tmp_path / "node.sqlite3", checked=False)  # only the storage refuses
    try:
        node.database.write(new_pegout("held", coin(1)), [(0, 2, NEW)])
        node.write("a", new_pegout("a", coin(2)), first=True)
        node.write("b", new_pegout("b", coin(1)), first=True)
        node.write("bad", [MetaValue("bridge.bad", "v", revision=INT64_MAX + 1)])
        node.write("c", new_pegout("c", coin(3), coin(4)), first=True)
        node.run()

        assert node.events == ["a", ("b", Held(coin(1), "held")), "bad refused", "c"]
        assert node.database.reservations() == [(coin(1), "held"), (coin(2), "a"),
                                                (coin(3), "c"), (coin(4), "c")]
        # Halves of the batch, then of the half that held the bad write; each piece's groups
        # are its first writes, whole.
        assert [(len(m.records), m.groups) for m in node.persists] == [
            (7, ((0, 2, NEW), (2, 4, NEW), (5, 7, NEW))),
            (4, ((0, 2, NEW), (2, 4, NEW))),
            (3, ((1, 3, NEW),)),
            (1, ()),
            (2, ((0, 2, NEW),)),
        ]
    finally:
        node.database.close()
