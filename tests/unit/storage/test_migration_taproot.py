"""Schema 5 (Taproot federations): a database of schema 4 opens with its federations P2WSH
and its peg-outs pinned to the federation in force at the upgrade, which they were signed
under; a later switch cannot move one still in flight to another script."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from actors.storage.database import Database
from actors.storage.schema import LATEST, MIGRATIONS
from tests.unit.storage.test_migrations import version_three_database

FOURTH_SCHEMA_FEDERATION = """
    PRAGMA user_version=4;
    INSERT INTO federations (version, update_type, members, threshold, effective_height,
        witness_script, address, state, request_id, recorded_at, revision)
    VALUES (0, 'config_change', '[]', 1, 0, x'51', 'bcrt1q', 'applied', NULL, 1.0, 1);
"""


def version_four_database(path: Path) -> None:
    """The third schema's database, taken to the fourth, with a federation on record."""
    version_three_database(path)
    with sqlite3.connect(path) as raw:
        raw.executescript(MIGRATIONS[3] + FOURTH_SCHEMA_FEDERATION)


def test_a_fourth_schema_database_keeps_p2wsh_federations_and_pins_pegouts_to_the_one_in_force(
        tmp_path: Path) -> None:
    path = tmp_path / "data" / "node.sqlite3"
    version_four_database(path)

    with closing(Database.open(str(path))) as database:
        assert database.schema_version == LATEST
        (pegout,) = database.pegouts(request_id="po-sent")
        (federation,) = database.federations()

    assert pegout.federation_version == federation.version == 0
    assert federation.script_type == "p2wsh"


def test_pegouts_are_pinned_to_the_newest_applied_version_not_a_scheduled_one(
        tmp_path: Path) -> None:
    path = tmp_path / "data" / "node.sqlite3"
    version_four_database(path)
    with sqlite3.connect(path) as raw:
        raw.executescript("""
            INSERT INTO federations (version, update_type, members, threshold,
                effective_height, witness_script, address, state, request_id, recorded_at,
                revision)
            VALUES (1, 'member_add', '[]', 1, 5, x'51', 'bcrt1q', 'applied', NULL, 2.0, 1),
                   (2, 'member_add', '[]', 1, 900, x'51', 'bcrt1q', 'scheduled', NULL, 3.0, 1);
        """)

    with closing(Database.open(str(path))) as database:
        (pegout,) = database.pegouts(request_id="po-sent")

    assert pegout.federation_version == 1


def test_without_an_applied_federation_a_pegout_keeps_no_version(tmp_path: Path) -> None:
    path = tmp_path / "data" / "node.sqlite3"
    version_four_database(path)
    with sqlite3.connect(path) as raw:
        raw.execute("DELETE FROM federations")

    with closing(Database.open(str(path))) as database:
        (pegout,) = database.pegouts(request_id="po-sent")

    assert pegout.federation_version is None
