"""The SQLite layer on its own: migrations, keyed revisioned writes, and the errors."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from actors.messages import Member
from actors.storage.database import Database
from actors.storage.errors import SchemaTooNew, StorageCorrupt, StorageFull
from actors.storage.records import (
    FederationRecord,
    InboundHandled,
    MetaValue,
    PeginRecord,
    PegoutRecord,
    ProposalRecord,
    ProposalSeen,
)
from actors.storage.schema import LATEST

pytestmark = pytest.mark.timeout(30)


def pegout(request_id: str = "p1", revision: int = 1, state: str = "awaiting_signatures",
           **changes: object) -> PegoutRecord:
    fields: dict[str, object] = dict(
        request_id=request_id, tx_hex="00" * 60, input_indices=(0, 1), amounts=(5, 6),
        state=state, attempt=1, signatures_required=6, created_at=1.0, updated_at=1.0,
        revision=revision)
    fields.update(changes)
    return PegoutRecord(**fields)  # type: ignore[arg-type]


def federation(version: int, state: str = "applied", revision: int = 1) -> FederationRecord:
    members = (Member("a", b"\x02" * 33, 2, True), Member("b", b"\x03" * 33, 1, False))
    return FederationRecord(version, "member_add", members, 1, 10 * version, b"\x51\xae",
                            "bcrt1qexample", state, f"fed-{version}", 2.0, revision)


@pytest.fixture
def path(tmp_path: Path) -> str:
    return str(tmp_path / "data" / "node.sqlite3")


def test_a_new_database_is_created_in_wal_mode_at_the_latest_schema(path: str) -> None:
    database = Database.open(path)
    try:
        assert database.schema_version == LATEST
    finally:
        database.close()
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_every_record_kind_survives_a_reopen(path: str) -> None:
    records = [
        pegout(failures=("attempt 1: timeout",), txid="ab" * 32, signed_tx_hex="beef"),
        PeginRecord("in-1", "cd" * 32, 1, 7000, "0x" + "11" * 20, 6, True, 3.0, 2),
        federation(1), federation(2, state="scheduled"),
        ProposalRecord("prop-1", "upgrade", b"\x00\x01", 99, 3, 4.0),
        InboundHandled("fed-1", "chain", "applied", 5.0),
        MetaValue("height", "42", 42),
    ]
    database = Database.open(path)
    database.write(records)
    database.close()

    database = Database.open(path)
    try:
        bridge = database.load("bridge")
        chain = database.load("chain")
    finally:
        database.close()
    # The open peg-out, not the acknowledged peg-in, and only the applied federation.
    assert bridge == (records[0], records[2])
    # The proposal's id and time, not its data, which is read when listed.
    assert chain == (records[2], records[3], ProposalSeen("prop-1", 4.0), records[5],
                     records[6])
    database = Database.open(path)
    try:
        assert database.proposals() == [records[4]]
        assert database.pegins(request_id="in-1") == [records[1]]
    finally:
        database.close()


def test_the_bridge_loads_open_peg_outs_and_nothing_of_finished_ones(path: str) -> None:
    database = Database.open(path)
    try:
        database.write([pegout(request_id="open-1"), pegout(request_id="done-1", state="broadcast"),
                        pegout(request_id="open-2", state="signed"),
                        pegout(request_id="done-2", state="failed")])
        loaded = database.load("bridge")
        assert [r.request_id for r in loaded if isinstance(r, PegoutRecord)] == ["open-1",
                                                                                 "open-2"]
        assert all(not isinstance(r, str) and getattr(r, "request_id", "") not in
                   ("done-1", "done-2") for r in loaded)
        assert [p.state for p in database.pegouts(request_id="done-1")] == ["broadcast"]
        assert database.pegouts(request_id="nowhere") == []
        assert [p.request_id for p in database.pegouts(states=("failed", "broadcast"))] == [
            "done-1", "done-2"]
    finally:
        database.close()


def test_a_listing_reads_only_the_newest_peg_outs_still_oldest_first(path: str) -> None:
    database = Database.open(path)
    try:
        database.write([pegout(request_id=f"p{n}", state="broadcast" if n % 2 else "failed",
                               created_at=float(100 - n)) for n in range(10)])
        assert [p.request_id for p in database.pegouts(newest=3)] == ["p2", "p1", "p0"]
        assert [p.request_id for p in database.pegouts(states=("broadcast",), newest=2)] == [
            "p3", "p1"]
        assert len(database.pegouts(newest=1000)) == 10
    finally:
        database.close()


def test_a_federation_listing_reads_only_the_newest_versions_still_oldest_first(
        path: str) -> None:
    database = Database.open(path)
    try:
        database.write([federation(v, "scheduled" if v == 30 else "applied")
                        for v in range(1, 31)])
        assert [f.version for f in database.federations(newest=3)] == [28, 29, 30]
        assert [f.version for f in database.federations("applied", newest=2)] == [28, 29]
        assert len(database.federations()) == 30
    finally:
        database.close()


def test_a_write_only_replaces_an_older_revision(path: str) -> None:
    database = Database.open(path)
    try:
        database.write([pegout(revision=2, state="signed")])
        database.write([pegout(revision=1)])  # overtaken: an older copy arriving late
        assert database.pegouts()[0].state == "signed"
        database.write([pegout(revision=3, state="broadcast")])
        database.write([pegout(revision=3, state="failed")])  # the same revision again
        assert [p.state for p in database.pegouts()] == ["broadcast"]
    finally:
        database.close()


def test_a_proposal_and_a_handled_id_are_written_once(path: str) -> None:
    database = Database.open(path)
    try:
        database.write([ProposalRecord("p", "upgrade", b"1", 1, 1, 1.0)])
        database.write([ProposalRecord("p", "upgrade", b"2", 1, 1, 2.0)])
        database.write([InboundHandled("r", "chain", "applied", 1.0)] * 2)
        assert [p.data for p in database.proposals()] == [b"1"]
        assert len(database.inbound_handled("chain")) == 1
    finally:
        database.close()


def test_a_schema_from_a_newer_node_is_refused(path: str) -> None:
    Database.open(path).close()
    with sqlite3.connect(path) as raw:
        raw.execute(f"PRAGMA user_version={LATEST + 1}")
    with pytest.raises(SchemaTooNew) as raised:
        Database.open(path)
    assert str(raised.value) == (
        f"storage {path}: schema version {LATEST + 1} is newer than this node's {LATEST}; "
        "run the node version that wrote it, or restore a backup")


def test_a_file_that_is_not_a_database_is_refused(path: str) -> None:
    Path(path).parent.mkdir(parents=True)
    Path(path).write_bytes(b"this is not sqlite, just some bytes " * 200)
    with pytest.raises(StorageCorrupt) as raised:
        Database.open(path)
    assert str(raised.value).startswith(f"storage {path}: not a usable SQLite database: ")
    assert "not a database" in str(raised.value)


def test_a_damaged_page_is_found_by_the_integrity_check(path: str) -> None:
    database = Database.open(path)
    database.write([pegout(f"p{i}", tx_hex="ab" * 400) for i in range(200)])
    database.close()
    with sqlite3.connect(path) as raw:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(Path(path).read_bytes())
    page = 4096
    for number in range(2, 6):  # an invalid b-tree page type in a few page headers
        data[(number - 1) * page] = 0x07
    Path(path).write_bytes(bytes(data))
    with pytest.raises(StorageCorrupt) as raised:
        Database.open(path)
    assert f"storage {path}: " in str(raised.value)


def test_a_full_database_fails_the_write_and_keeps_what_was_there(path: str) -> None:
    database = Database.open(path, max_size_mb=0.1)  # about 25 pages
    try:
        database.write([pegout("kept")])
        with pytest.raises(StorageFull) as raised:
            database.write([pegout(f"big-{i}", tx_hex="ab" * 2000) for i in range(200)])
        assert "database or disk is full; nothing was written" in str(raised.value)
        assert [p.request_id for p in database.pegouts()] == ["kept"]
        database.write([pegout("kept", revision=2, state="failed")])  # still usable
        assert database.pegouts()[0].state == "failed"
    finally:
        database.close()


def test_migrations_run_once_and_keep_rows(path: str) -> None:
    database = Database.open(path)
    database.write([pegout()])
    database.close()
    database = Database.open(path)  # no migration left to run: nothing is recreated
    try:
        assert database.schema_version == LATEST
        assert len(database.pegouts()) == 1
    finally:
        database.close()
