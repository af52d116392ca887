"""The database's first writes and reservations against a model made of two dicts.

Hypothesis writes batches of new peg-outs with their claims, retries, releases and
transfers, and sends a batch again as to a restarted StorageActor. After each batch the
database's answer (what each group found) and its rows must be the model's."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from actors.storage.database import Database, Group
from actors.storage.records import (
    Claim,
    Held,
    PegoutRecord,
    Record,
    Release,
    Taken,
    Transfer,
)

IDS = ("a", "b", "c", "d")
COINS = (*(f"{n:064x}:{n % 3}" for n in range(5)), "replacement-of:a")

ids = st.sampled_from(IDS)
coins = st.lists(st.sampled_from(COINS), max_size=3).map(tuple)
shares = st.none() | ids


def pegout(request_id: str, revision: int) -> PegoutRecord:
    return PegoutRecord(request_id, "00" * 60, (0,), (5,), "awaiting_signatures", 1, 3,
                        created_at=1.0, updated_at=1.0, revision=revision)


class Model:
    """Who holds each coin, and each peg-out's stored record: `Database.write` over dicts."""

    def __init__(self) -> None:
        self.holders: dict[str, str] = {}
        self.pegouts: dict[str, PegoutRecord] = {}

    def write(self, records: Sequence[Record],
              groups: Sequence[Group]) -> tuple[tuple[int, Taken], ...]:
        found: list[tuple[int, Taken]] = []
        spans = {start: (stop, new) for start, stop, new in groups if start < stop}
        index = 0
        while index < len(records):
            if index not in spans:
                self._one(records[index], first=False, insert_new=False)
                index += 1
                continue
            stop, insert_new = spans[index]
            holders, pegouts = dict(self.holders), dict(self.pegouts)
            for position in range(index, stop):
                taken = self._one(records[position], first=True, insert_new=insert_new)
                if taken is not None:
                    found.append((position, taken))
                    self.holders, self.pegouts = holders, pegouts
                    break
            index = stop
        return tuple(found)

    def _one(self, record: Record, *, first: bool, insert_new: bool) -> Taken | None:
        if isinstance(record, Claim):
            assert first
            for coin in record.outpoints:
                holder = self.holders.get(coin)
                if holder not in (None, record.request_id, record.shares_with):
                    assert holder is not None
                    return Held(coin, holder)
            for coin in record.outpoints:
                self.holders.setdefault(coin, record.request_id)
        elif isinstance(record, PegoutRecord):
            stored = self.pegouts.get(record.request_id)
            if first and insert_new:
                if stored is None:
                    self.pegouts[record.request_id] = record
                elif stored != record:
                    return stored
            elif stored is None or record.revision > stored.revision:
                self.pegouts[record.request_id] = record
        elif isinstance(record, Release):
            self.holders = {c: h for c, h in self.holders.items() if h != record.request_id}
        elif isinstance(record, Transfer):
            for coin in record.outpoints:
                if self.holders.get(coin) == record.from_id:
                    self.holders[coin] = record.to_id
        return None


class ReservationMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.directory = tempfile.TemporaryDirectory()
        self.database = Database.open(str(Path(self.directory.name) / "node.sqlite3"))
        self.model = Model()
        self.revision = 1  # a retry's revision: above every earlier one
        self.records: list[Record] = []
        self.groups: list[Group] = []
        self.last: tuple[tuple[Record, ...], tuple[Group, ...]] | None = None

    def teardown(self) -> None:
        self.database.close()
        self.directory.cleanup()

    # Writes gather until `commit`, as an owner's do until its flush.

    @rule(request_id=ids, outpoints=coins, shares_with=shares)
    def new_pegout(self, request_id: str, outpoints: tuple[str, ...],
                   shares_with: str | None) -> None:
        self._group([Claim(request_id, outpoints, shares_with, at=1.0), pegout(request_id, 1)],
                    insert_new=True)

    @rule(request_id=ids, outpoints=coins)
    def retry(self, request_id: str, outpoints: tuple[str, ...]) -> None:
        self.revision += 1
        self._group([Claim(request_id, outpoints, at=2.0), pegout(request_id, self.revision)],
                    insert_new=False)

    @rule(request_id=ids)
    def release(self, request_id: str) -> None:
        self.records.append(Release(request_id))

    @rule(from_id=ids, to_id=ids, outpoints=coins)
    def transfer(self, from_id: str, to_id: str, outpoints: tuple[str, ...]) -> None:
        self.records.append(Transfer(from_id, to_id, outpoints))

    @rule()
    def commit(self) -> None:
        self._write(tuple(self.records), tuple(self.groups))
        self.records, self.groups = [], []

    @precondition(lambda self: self.last is not None)
    @rule()
    def send_the_last_batch_again(self) -> None:
        assert self.last is not None
        self._write(*self.last)

    @invariant()
    def the_rows_are_the_models(self) -> None:
        assert self.database.reservations() == sorted(self.model.holders.items())
        assert {p.request_id: p for p in self.database.pegouts()} == self.model.pegouts

    def _group(self, records: list[Record], *, insert_new: bool) -> None:
        start = len(self.records)
        self.records.extend(records)
        self.groups.append((start, len(self.records), insert_new))

    def _write(self, records: tuple[Record, ...], groups: tuple[Group, ...]) -> None:
        expected = self.model.write(records, groups)
        assert self.database.write(records, groups) == expected
        self.last = (records, groups)


TestReservationMachine = ReservationMachine.TestCase
TestReservationMachine.settings = settings(max_examples=60, stateful_step_count=30,
                                           deadline=None)
