"""What keeps storage's answers from growing with history: a new record's first write is
an insert-if-absent that reports a taken id, and retention prunes by age."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from actors.storage.client import DurableStore
from actors.storage.database import Database
from actors.storage.protocol import _Persist
from actors.storage.records import (
    Expired,
    InboundHandled,
    PeginRecord,
    PegoutRecord,
    ProposalRecord,
    ProposalSeen,
    Record,
)

pytestmark = pytest.mark.timeout(30)


def pegout(request_id: str = "p1", state: str = "awaiting_signatures", revision: int = 1,
           created_at: float = 1.0) -> PegoutRecord:
    return PegoutRecord(request_id, "00" * 60, (0,), (5,), state, 1, 3, created_at=created_at,
                        updated_at=created_at, revision=revision)


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    db = Database.open(str(tmp_path / "node.sqlite3"))
    yield db
    db.close()


def test_a_first_write_of_a_free_id_inserts_and_reports_nothing(database: Database) -> None:
    assert database.write([pegout()], first={0}) == ()
    assert database.pegouts(request_id="p1") == [pegout()]


def test_a_first_write_of_a_taken_id_changes_nothing_and_reports_the_stored_record(
        database: Database) -> None:
    finished = pegout(state="broadcast", revision=3)
    database.write([finished])
    again = pegout(created_at=9.0)
    other = pegout("p2")
    assert database.write([other, again], first={0, 1}) == ((1, finished),)
    assert database.pegouts(request_id="p1") == [finished]  # untouched
    assert database.pegouts(request_id="p2") == [other]


def test_a_first_write_re_sent_after_its_commit_finds_itself_and_reports_nothing(
        database: Database) -> None:
    database.write([pegout()], first={0})
    assert database.write([pegout()], first={0}) == ()  # its own earlier copy


def test_a_peg_in_first_write_reports_an_acknowledged_one(database: Database) -> None:
    acknowledged = PeginRecord("i1", "ab" * 32, 0, 7, "0x" + "1" * 40, 6, True, 2.0, 2)
    database.write([acknowledged])
    fresh = PeginRecord("i1", "ab" * 32, 0, 7, "0x" + "1" * 40, 6, False, 5.0)
    assert database.write([fresh], first={0}) == ((0, acknowledged),)


def test_retention_prunes_handled_ids_and_proposals_by_age_and_load_leaves_them_out(
        database: Database) -> None:
    database.write([InboundHandled("old", "chain", "applied", 10.0),
                    InboundHandled("new", "chain", "rejected: x", 100.0),
                    ProposalRecord("p-old", "t", b"x" * 1000, 1, 1, 10.0),
                    ProposalRecord("p-new", "t", b"y", 1, 1, 100.0)])
    # Loading within retention leaves the old ones out even before they are pruned.
    loaded = database.load("chain", handled_since=50.0, proposals_since=50.0)
    assert [r for r in loaded if isinstance(r, InboundHandled | ProposalSeen)] == [
        ProposalSeen("p-new", 100.0), InboundHandled("new", "chain", "rejected: x", 100.0)]
    database.write([Expired("inbound_handled", "chain", 50.0),
                    Expired("proposals", "chain", 50.0)])
    assert [r.request_id for r in database.inbound_handled("chain")] == ["new"]
    assert [p.proposal_id for p in database.proposals()] == ["p-new"]


def test_an_expired_write_for_another_table_is_refused(database: Database) -> None:
    with pytest.raises(Exception, match="not a table that retention prunes"):
        database.write([Expired("pegouts", "bridge", 1e12)])
    assert database.pegouts() == []


def test_the_durable_store_runs_found_instead_of_then_for_a_taken_id() -> None:
    sent: list[object] = []
    store = DurableStore("bridge", lambda to, message: sent.append(message))
    events: list[object] = []
    store.write([pegout("a")], then=lambda: events.append("a committed"))
    store.write([pegout("b")], then=lambda: events.append("b committed"),
                found=lambda stored: events.append(("b taken", stored)))
    store.write([pegout("c")], then=lambda: events.append("c committed"),
                found=lambda stored: events.append(("c taken", stored)))
    store.flush("storage")
    [message] = sent
    assert isinstance(message, _Persist) and message.first == (1, 2)
    stored: Record = dataclasses.replace(pegout("b"), state="failed", revision=2)
    store.persisted(message.seq, ((1, stored),))
    assert events == ["a committed", ("b taken", stored), "c committed"]
