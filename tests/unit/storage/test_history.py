"""What keeps storage's answers from growing with history: a new record's first write is
an insert-if-absent that reports a taken id, retention prunes by age, and the outflow
window is read by age."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from actors.storage.actor import StorageActor
from actors.storage.client import DurableStore
from actors.storage.database import OUTFLOW, Database
from actors.storage.protocol import _Load, _Loaded, _Persist
from actors.storage.records import (
    OUTFLOW_RESET_AT,
    Expired,
    InboundHandled,
    MetaValue,
    OutflowEntry,
    PeginRecord,
    PegoutRecord,
    ProposalRecord,
    ProposalSeen,
)

pytestmark = pytest.mark.timeout(30)


def pegout(request_id: str = "p1", state: str = "awaiting_signatures", revision: int = 1,
           created_at: float = 1.0, **changes: Any) -> PegoutRecord:
    return PegoutRecord(request_id, "00" * 60, (0,), (5,), state, 1, 3, created_at=created_at,
                        updated_at=created_at, revision=revision, **changes)


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    db = Database.open(str(tmp_path / "node.sqlite3"))
    yield db
    db.close()


def test_a_first_write_of_a_free_id_inserts_and_reports_nothing(database: Database) -> None:
    assert database.write([pegout()], [(0, 1, True)]) == ()
    assert database.pegouts(request_id="p1") == [pegout()]


def test_a_first_write_of_a_taken_id_changes_nothing_and_reports_the_stored_record(
        database: Database) -> None:
    finished = pegout(state="broadcast", revision=3)
    database.write([finished])
    again = pegout(created_at=9.0)
    other = pegout("p2")
    assert database.write([other, again], [(0, 1, True), (1, 2, True)]) == ((1, finished),)
    assert database.pegouts(request_id="p1") == [finished]  # untouched
    assert database.pegouts(request_id="p2") == [other]


def test_a_first_write_re_sent_after_its_commit_finds_itself_and_reports_nothing(
        database: Database) -> None:
    database.write([pegout()], [(0, 1, True)])
    assert database.write([pegout()], [(0, 1, True)]) == ()  # its own earlier copy


def test_a_peg_in_first_write_reports_an_acknowledged_one(database: Database) -> None:
    acknowledged = PeginRecord("i1", "ab" * 32, 0, 7, "0x" + "1" * 40, 6, True, 2.0, 2)
    database.write([acknowledged])
    fresh = PeginRecord("i1", "ab" * 32, 0, 7, "0x" + "1" * 40, 6, False, 5.0)
    assert database.write([fresh], [(0, 1, True)]) == ((0, acknowledged),)


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
    assert isinstance(message, _Persist) and message.groups == ((1, 2, True), (2, 3, True))
    stored = dataclasses.replace(pegout("b"), state="failed", revision=2)
    store.persisted(message.seq, ((1, stored),))
    assert events == ["a committed", ("b taken", stored), "c committed"]


def test_the_bridge_loads_the_peg_outs_in_the_states_it_asks_for(database: Database) -> None:
    database.write([pegout("open", created_at=1.0), pegout("sent", "broadcast", created_at=2.0),
                    pegout("deep", "confirmed", created_at=3.0),
                    pegout("parked", "needs_review", created_at=4.0)])

    def loaded(**asked: Any) -> list[str]:
        return [r.request_id for r in database.load("bridge", **asked)
                if isinstance(r, PegoutRecord)]

    assert loaded() == ["open"]
    assert loaded(pegout_states=("awaiting_signatures", "broadcast", "needs_review")) == [
        "open", "sent", "parked"]


def test_the_outflow_window_counts_what_paid_out_or_may_still_since_it_began(
        database: Database) -> None:
    # Minutes: [60, 120) and [120, 180); each sum is dated by its latest peg-out.
    database.write([
        pegout("before", "confirmed", created_at=50.0, payout_sat=1),
        pegout("waiting", created_at=100.0, payout_sat=10),
        pegout("sent", "broadcast", created_at=101.0, payout_sat=20, signed_tx_hex="aa"),
        pegout("replaced", "replaced", created_at=102.0, payout_sat=40, signed_tx_hex="bb"),
        pegout("unsigned", "failed", created_at=103.0, payout_sat=80),
        pegout("refused", "failed", created_at=124.0, payout_sat=160, signed_tx_hex="cc"),
        pegout("parked", "needs_review", created_at=125.0, payout_sat=320, signed_tx_hex="dd"),
    ])
    assert database.outflow(since=100.0) == [OutflowEntry(101.0, 30), OutflowEntry(125.0, 480)]
    loaded = database.load("bridge", outflow_since=125.0)
    assert [r for r in loaded if isinstance(r, OutflowEntry)] == [OutflowEntry(125.0, 320)]
    assert not any(isinstance(r, OutflowEntry) for r in database.load("bridge"))


def test_a_peg_out_retried_inside_the_window_counts_from_the_start_of_its_series(
        database: Database) -> None:
    # Created long before the window; a RetryPegout at 130 counted its payout anew there.
    database.write([
        pegout("retried", created_at=10.0, series_started_at=130.0, payout_sat=5),
        pegout("old", created_at=20.0, payout_sat=7),  # not retried: out of the window
        pegout("retried_before", "failed", created_at=30.0, series_started_at=40.0,
               payout_sat=9, signed_tx_hex="aa"),  # its latest series began before it too
        pegout("new", "broadcast", created_at=125.0, payout_sat=20, signed_tx_hex="bb"),
    ])
    assert database.outflow(since=100.0) == [OutflowEntry(130.0, 25)]
    # Only from its series start on: a window beginning after it leaves it out.
    assert database.outflow(since=131.0) == []
    loaded = database.load("bridge", outflow_since=126.0)
    assert [r for r in loaded if isinstance(r, OutflowEntry)] == [OutflowEntry(130.0, 5)]


def test_a_stored_reset_leaves_what_it_forgave_out_of_the_minute_it_fell_in(
        database: Database) -> None:
    database.write([pegout("forgiven", "broadcast", created_at=100.0, payout_sat=10,
                           signed_tx_hex="aa"),
                    pegout("after", "broadcast", created_at=110.0, payout_sat=20,
                           signed_tx_hex="bb"),
                    MetaValue(OUTFLOW_RESET_AT, repr(105.0))])
    loaded = database.load("bridge", outflow_since=0.0)
    assert [r for r in loaded if isinstance(r, OutflowEntry)] == [OutflowEntry(110.0, 20)]


def test_the_outflow_window_is_read_by_age_not_by_a_scan_of_every_peg_out(
        database: Database) -> None:
    # The database's own plan for the query `outflow` runs: a search of the age index, by
    # its expression (max(created_at, series_started_at)), and no scan of the table.
    plan = [row["detail"] for row in database._query(f"EXPLAIN QUERY PLAN {OUTFLOW}",
                                                     (1.0, "replaced", "failed"))]
    assert "SEARCH pegouts USING INDEX pegouts_by_age (<expr>>?)" in plan
    assert not any(detail.startswith("SCAN pegouts") for detail in plan)


class RecordingStorage(StorageActor):
    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[Any, Any]] = []

    def send(self, targetAddr: Any, msg: object) -> None:
        self.sent.append((targetAddr, msg))


def test_the_storage_actor_answers_a_load_with_the_states_and_the_window_asked_for(
        database: Database) -> None:
    database.write([pegout("open", payout_sat=7), pegout("sent", "broadcast", payout_sat=9,
                                                          created_at=2.0)])
    storage = RecordingStorage()
    storage.peers = {"bridge": "bridge"}  # as the tree's `_Peers` sets them
    storage.database = database
    storage.receiveMessage(_Load("bridge", pegout_states=("broadcast",), outflow_since=2.0),
                           "bridge")
    [(to, answer)] = storage.sent
    assert to == "bridge" and isinstance(answer, _Loaded)
    assert answer.records == (pegout("sent", "broadcast", payout_sat=9, created_at=2.0),
                              OutflowEntry(2.0, 9))
