"""Databases written by an earlier release open at the latest schema with their rows intact."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from actors.storage.database import Database
from actors.storage.errors import StorageCorrupt
from actors.storage.schema import LATEST, MIGRATIONS


def version_one_database(path: Path) -> None:
    """A database as the first release left it, holding one peg-out that failed twice."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as raw:
        raw.executescript(MIGRATIONS[0])
        raw.execute("PRAGMA user_version=1")
        raw.execute(
            "INSERT INTO pegouts (request_id, tx_hex, input_indices, amounts, state, attempt,"
            " signatures_required, signatures_collected, error, signed_tx_hex, txid, failures,"
            " created_at, updated_at, revision) VALUES"
            " ('po-1', '00', '[0]', '[1000]', 'failed', 2, 3, 0, 'x', NULL, NULL, ?, 5.0, 6.0,"
            " 3)", (json.dumps(["attempt 1: a", "attempt 2: b"]),))


def test_a_first_release_database_counts_its_failed_attempts_as_the_current_series(
        tmp_path: Path) -> None:
    path = tmp_path / "data" / "node.sqlite3"
    version_one_database(path)

    database = Database.open(str(path))
    try:
        (record,) = database.pegouts(request_id="po-1")
        assert database.schema_version == LATEST
    finally:
        database.close()

    assert record.series_failures == 2 and record.series_started_at == 0.0
    assert record.series_start == record.created_at == 5.0
    assert record.failures == ("attempt 1: a", "attempt 2: b")


def test_the_header_check_refuses_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "node.sqlite3"
    path.write_bytes(b"not a database, whatever it says" * 200)

    with pytest.raises(StorageCorrupt):
        Database.open(str(path), integrity="header")


def test_the_header_check_opens_a_sound_database_without_reading_every_page(
        tmp_path: Path) -> None:
    path = tmp_path / "data" / "node.sqlite3"
    version_one_database(path)

    database = Database.open(str(path), integrity="header")
    try:
        assert database.schema_version == LATEST
    finally:
        database.close()


def version_three_database(path: Path) -> None:
    """A database as the third schema left it: one peg-out broadcast, one failed unsigned."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as raw:
        for script in MIGRATIONS[:3]:
            raw.executescript(script)
        raw.execute("PRAGMA user_version=3")
        raw.executemany(
            "INSERT INTO pegouts (request_id, tx_hex, input_indices, amounts, state, attempt,"
            " signatures_required, signatures_collected, error, signed_tx_hex, txid, failures,"
            " created_at, updated_at, revision, series_failures, series_started_at) VALUES"
            " (?, '00', '[0]', '[1000]', ?, 1, 3, 3, NULL, ?, NULL, '[]', 5.0, 6.0, 2, 0, 0)",
            [("po-sent", "broadcast", "beef"), ("po-failed", "failed", None)])


def test_a_third_schema_database_reads_back_its_peg_outs_with_the_new_fields_at_rest(
        tmp_path: Path) -> None:
    path = tmp_path / "data" / "node.sqlite3"
    version_three_database(path)

    database = Database.open(str(path))
    try:
        assert database.schema_version == LATEST
        (record,) = database.pegouts(request_id="po-sent")
        assert database.reservations() == []
        outflow = database.outflow(since=0.0)
    finally:
        database.close()

    assert (record.state, record.signed_tx_hex, record.revision) == ("broadcast", "beef", 2)
    assert (record.replaces, record.replaced_by, record.resolution) == (None, None, None)
    assert (record.payout_sat, record.fee_sat, record.confirmations) == (0, 0, 0)
    assert (record.broadcast_at, record.resolved_at) == (0.0, 0.0)
    # Counted, at nothing paid: an earlier schema did not say what a peg-out paid out.
    assert [(entry.at, entry.payout_sat) for entry in outflow] == [(5.0, 0)]
