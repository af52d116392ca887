"""The earlier federation versions the chain announces as spendable, and the script type an
update without one keeps (convention 10)."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

from actors.bridge.book import Book
from actors.chain.book import APPLIED, FederationBook, changed_message, record_for
from actors.messages import Member
from actors.storage.database import Database
from actors.storage.records import FederationRecord
from btc.federation import P2TR, SPENDABLE_VERSIONS, Federation
from mock_governance.federation import federation_keys

MEMBERS = tuple(Member(f"m{i}", key) for i, key in enumerate(federation_keys("t", 5)))


def applied(version: int, script_type: str = "p2wsh",
            effective_height: int = 0) -> FederationRecord:
    federation = Federation(version, MEMBERS, 3, script_type=script_type)
    return record_for(federation, update_type="config_change", effective_height=effective_height,
                      height=10, network="regtest", request_id=None, now_s=0.0)


def test_the_versions_before_the_one_in_force_are_announced_newest_first_within_the_window(
) -> None:
    book = FederationBook()
    for version in range(12):
        book.add(applied(version))
    assert book.current is not None and book.current.version == 11
    earlier = [record.version for record in book.earlier()]
    assert earlier == list(range(10, 11 - SPENDABLE_VERSIONS, -1))
    message = changed_message(book.current, book.earlier())
    assert [e.version for e in message.earlier] == earlier
    assert all(e.earlier == () for e in message.earlier)


def test_a_p2tr_version_is_recorded_and_announced_with_its_script_type() -> None:
    record = applied(1, P2TR)
    assert record.state == APPLIED and record.script_type == P2TR
    assert record.address.startswith("bcrt1p")
    assert record.federation().witness_script == record.witness_script
    assert changed_message(record).script_type == P2TR


def test_an_update_without_a_script_type_keeps_the_latest_versions() -> None:
    book = FederationBook()
    assert book.latest_script_type() == "p2wsh"
    book.add(applied(0))
    book.add(applied(1, P2TR, effective_height=50))  # scheduled, and the latest known
    assert book.latest_script_type() == P2TR


def test_a_version_that_could_not_be_stored_gives_back_the_window_it_took() -> None:
    book = FederationBook()
    for version in range(SPENDABLE_VERSIONS + 1):
        book.add(applied(version))
    before = [record.version for record in book.earlier()]
    previous = book.current
    unstored = applied(SPENDABLE_VERSIONS + 1)
    book.add(unstored)
    book.remove(unstored, previous)
    assert [record.version for record in book.earlier()] == before


def test_a_restarted_bridge_loads_the_spendable_versions_from_storage(tmp_path: Path) -> None:
    with closing(Database.open(str(tmp_path / "node.sqlite3"))) as database:
        database.write([applied(version, P2TR if version % 2 else "p2wsh")
                        for version in range(SPENDABLE_VERSIONS + 3)])
        loaded = database.load("bridge")
    federations = Book(following=False).load(loaded)
    assert [record.version for record in federations] == list(
        range(3, SPENDABLE_VERSIONS + 3))
    assert [record.script_type for record in federations[-2:]] == [P2TR, "p2wsh"]  # 9, 10
