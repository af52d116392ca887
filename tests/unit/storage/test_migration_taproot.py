"""Schema 5 (Taproot federations): a database of schema 4 opens with its federations P2WSH
and its peg-outs spending the federation in force, as they did."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from actors.storage.database import Database
from actors.storage.schema import LATEST, MIGRATIONS


def version_four_database(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as raw:
        for script in MIGRATIONS[:4]:
            raw.executescript(script)
        raw.execute("PRAGMA user_version=4")
        raw.execute(
            "INSERT INTO pegouts (request_id, tx_hex, input_indices, amounts, state, attempt,"
            " signatures_required, signatures_collected, error, signed_tx_hex, txid, failures,"
            " created_at, updated_at, revision) VALUES"
            " ('po-1', '00', '[0]', '[1000]', 'awaiting_signatures', 1, 3, 0, NULL, NULL,"
            " NULL, '[]', 5.0, 6.0, 1)")
        raw.execute(
            "INSERT INTO federations (version, update_type, members, threshold,"
            " effective_height, witness_script, address, state, request_id, recorded_at,"
            " revision) VALUES (0, 'config_change', '[]', 1, 0, x'51', 'bcrt1q', 'applied',"
            " NULL, 1.0, 1)")


def test_a_fourth_schema_database_keeps_p2wsh_federations_and_pegouts_without_a_version(
        tmp_path: Path) -> None:
    path = tmp_path / "data" / "node.sqlite3"
    version_four_database(path)

    database = Database.open(str(path))
    try:
        assert database.schema_version == LATEST
        (pegout,) = database.pegouts(request_id="po-1")
        (federation,) = database.federations()
    finally:
        database.close()

    assert pegout.federation_version is None
    assert federation.script_type == "p2wsh"
