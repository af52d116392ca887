"""The federation book: scheduled and applied versions, and which one is in force."""

from __future__ import annotations

import dataclasses

import pytest

from actors.chain.book import (
    APPLIED,
    SCHEDULED,
    FederationBook,
    changed_message,
    record_for,
)
from actors.messages import FederationChanged, Member
from actors.storage.records import FederationRecord
from btc.federation import Federation
from mock_governance.federation import federation_keys

NETWORK = "regtest"
KEYS = federation_keys("t", 5)


def members(*, inactive: tuple[int, ...] = ()) -> tuple[Member, ...]:
    # Listed in reverse key order, so a sorted result is the code's doing, not the input's.
    return tuple(
        Member(f"m{index}", key, active=index not in inactive)
        for index, key in reversed(list(enumerate(KEYS)))
    )


def federation(version: int, *, inactive: tuple[int, ...] = ()) -> Federation:
    return Federation(version, members(inactive=inactive), threshold=3)


def recorded(version: int, *, effective_height: int = 100, height: int = 0,
             update_type: str = "config_change", inactive: tuple[int, ...] = ()
             ) -> FederationRecord:
    return record_for(federation(version, inactive=inactive), update_type=update_type,
                      effective_height=effective_height, height=height, network=NETWORK,
                      request_id=f"update-{version}", now_s=5.0)


def scheduled(version: int, effective_height: int) -> FederationRecord:
    return recorded(version, effective_height=effective_height, height=0)


def applied(version: int, **kwargs: object) -> FederationRecord:
    return recorded(version, effective_height=0, height=0, **kwargs)  # type: ignore[arg-type]


def test_record_for_a_future_height_is_scheduled() -> None:
    assert recorded(1, effective_height=101, height=100).state == SCHEDULED


@pytest.mark.parametrize("effective_height", [100, 99, 0])
def test_record_for_a_height_already_reached_is_applied(effective_height: int) -> None:
    assert recorded(1, effective_height=effective_height, height=100).state == APPLIED


def test_record_for_carries_the_script_and_address_of_the_federation() -> None:
    source = federation(3)
    record = record_for(source, update_type="member_add", effective_height=7, height=1,
                        network=NETWORK, request_id="update-3", now_s=12.5)
    assert record == FederationRecord(
        version=3, update_type="member_add", members=source.members, threshold=3,
        effective_height=7, witness_script=source.witness_script,
        address=source.address(NETWORK), state=SCHEDULED, request_id="update-3",
        recorded_at=12.5, revision=1,
    )


def test_record_for_derives_the_address_on_the_network_it_is_given() -> None:
    source = federation(1)
    record = record_for(source, update_type="config_change", effective_height=0, height=0,
                        network="mainnet", request_id=None, now_s=0.0)
    assert record.address == source.address("mainnet") != source.address(NETWORK)


def test_an_empty_book_has_no_latest_version_and_no_keys() -> None:
    book = FederationBook()
    assert book.latest_version is None
    assert book.current is None
    assert book.active_keys_hex() == ()
    assert book.schedule_summary() == ()


def test_latest_version_is_the_highest_of_current_and_scheduled() -> None:
    book = FederationBook()
    book.add(applied(2))
    assert book.latest_version == 2
    book.add(scheduled(5, 200))
    book.add(scheduled(4, 300))
    assert book.latest_version == 5


def test_latest_version_counts_scheduled_versions_when_none_is_applied() -> None:
    book = FederationBook()
    book.add(scheduled(3, 200))
    assert book.latest_version == 3 and book.current is None


def test_load_keeps_the_highest_applied_version_as_current() -> None:
    book = FederationBook()
    book.load([applied(2), applied(4), applied(3), scheduled(6, 500)])
    assert book.current == applied(4)
    assert set(book.scheduled) == {6}


def test_due_applies_the_versions_whose_height_came_in_version_order() -> None:
    book = FederationBook()
    book.add(applied(1))
    book.load([scheduled(4, 150), scheduled(2, 120), scheduled(3, 90), scheduled(5, 151)])
    due = book.due(150)
    assert [record.version for record in due] == [2, 3, 4]
    assert all(record.state == APPLIED and record.revision == 2 for record in due)
    assert book.schedule_summary() == ((5, 151),)
    assert book.current == due[-1]


def test_due_changes_only_state_and_revision() -> None:
    book = FederationBook()
    book.add(original := scheduled(2, 120))
    (record,) = book.due(120)
    assert record == dataclasses.replace(original, state=APPLIED, revision=original.revision + 1)


def test_due_before_any_height_is_reached_applies_nothing() -> None:
    book = FederationBook()
    book.add(applied(1))
    book.add(scheduled(2, 120))
    assert book.due(119) == []
    assert book.current == applied(1) and book.schedule_summary() == ((2, 120),)


def test_a_version_once_due_is_not_applied_twice() -> None:
    book = FederationBook()
    book.add(scheduled(2, 120))
    assert len(book.due(120)) == 1
    assert book.due(121) == []


def test_a_scheduled_version_lower_than_current_is_applied_on_record_but_not_in_force() -> None:
    book = FederationBook()
    book.add(scheduled(2, 120))
    book.add(scheduled(3, 90))
    assert [record.version for record in book.due(100)] == [3]
    (late,) = book.due(120)
    assert (late.version, late.state) == (2, APPLIED)
    assert book.current is not None and book.current.version == 3


def test_an_applied_record_lower_than_current_does_not_replace_it() -> None:
    book = FederationBook()
    book.add(applied(3))
    book.add(applied(2))
    assert book.current == applied(3)


def test_changed_message_carries_the_record() -> None:
    record = applied(4)
    assert changed_message(record) == FederationChanged(
        version=4, members=record.members, threshold=3,
        witness_script=record.witness_script, address=record.address, halted=False,
    )


@pytest.mark.parametrize(
    ("update_type", "halted"),
    [("emergency_halt", True), ("member_add", False), ("member_remove", False),
     ("config_change", False)],
)
def test_changed_message_is_halted_only_for_an_emergency_halt(update_type: str,
                                                               halted: bool) -> None:
    assert changed_message(applied(1, update_type=update_type)).halted is halted


def test_active_keys_hex_is_sorted_and_leaves_out_inactive_members() -> None:
    book = FederationBook()
    book.add(applied(1, inactive=(1, 3)))
    expected = sorted(key.hex() for index, key in enumerate(KEYS) if index not in (1, 3))
    assert book.active_keys_hex() == tuple(expected)


def test_active_keys_hex_follows_the_version_in_force() -> None:
    book = FederationBook()
    book.add(applied(1))
    book.add(scheduled(2, 50))
    book.due(50)
    assert len(book.active_keys_hex()) == 5
    book.add(applied(3, inactive=(0,)))
    assert book.active_keys_hex() == tuple(sorted(key.hex() for key in KEYS[1:]))


def test_schedule_summary_lists_version_and_height_sorted_by_version() -> None:
    book = FederationBook()
    book.load([scheduled(7, 300), scheduled(5, 400), scheduled(6, 100)])
    assert book.schedule_summary() == ((5, 400), (6, 100), (7, 300))


# -- a version that could not be stored ------------------------------------------------------


def test_a_removed_scheduled_version_is_forgotten_and_the_latest_version_goes_back() -> None:
    book = FederationBook()
    book.add(applied(1))
    before = book.current
    book.add(scheduled(2, effective_height=2**64 - 1))
    book.remove(scheduled(2, effective_height=2**64 - 1), before)  # an equal, other record
    assert book.scheduled and book.latest_version == 2  # only that very record is removed
    record = next(iter(book.scheduled.values()))
    book.remove(record, before)
    assert book.scheduled == {} and book.current is before and book.latest_version == 1


def test_a_removed_applied_version_gives_back_the_one_in_force_before_it() -> None:
    book = FederationBook()
    first = applied(1)
    book.add(first)
    second = applied(2)
    book.add(second)
    book.remove(second, first)
    assert book.current is first and book.latest_version == 1


def test_a_version_added_after_the_removed_one_keeps_its_place() -> None:
    book = FederationBook()
    first, second, third = applied(1), applied(2), scheduled(3, effective_height=500)
    book.add(first)
    book.add(second)
    book.add(third)
    newer = applied(4)
    book.add(newer)
    book.remove(second, first)
    assert book.current is newer and book.latest_version == 4
    assert book.scheduled == {3: third}
