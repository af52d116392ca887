"""The peg-out ledger: the state table, governance ids and the status a record reports."""

from __future__ import annotations

import dataclasses
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.bridge.ledger import (
    IllegalTransition,
    PegoutState,
    governance_id,
    same_request,
    split_governance_id,
    status_of,
    transition,
)
from actors.messages import PegoutStatus
from actors.storage.records import PegoutRecord

# The module docstring's diagram, written out by hand (not read from the table under test).
DIAGRAM = {
    ("awaiting_signatures", "signed"),
    ("signed", "broadcast"),
    ("awaiting_signatures", "awaiting_signatures"),
    ("awaiting_signatures", "failed"),
    ("signed", "failed"),
    ("failed", "awaiting_signatures"),
    ("signed", "needs_review"),
    ("broadcast", "needs_review"),
    ("broadcast", "broadcast"),
    ("broadcast", "confirmed"),
    ("signed", "confirmed"),
    ("signed", "replaced"),
    ("broadcast", "replaced"),
    ("needs_review", "replaced"),
    ("failed", "replaced"),
    ("needs_review", "confirmed"),
    ("needs_review", "failed"),
}
ALL_PAIRS = list(itertools.product(PegoutState, repeat=2))
ALLOWED_PAIRS = [(a, b) for a, b in ALL_PAIRS if (a.value, b.value) in DIAGRAM]
FORBIDDEN_PAIRS = [(a, b) for a, b in ALL_PAIRS if (a.value, b.value) not in DIAGRAM]


def pair_id(pair: tuple[PegoutState, PegoutState]) -> str:
    return f"{pair[0].value}->{pair[1].value}"


def record(state: PegoutState = PegoutState.AWAITING_SIGNATURES, **changes: object) -> PegoutRecord:
    base = PegoutRecord(
        request_id="req-1", tx_hex="00ab", input_indices=(0, 1), amounts=(1000, 2000),
        state=state.value, attempt=1, signatures_required=3, created_at=10.0,
        updated_at=10.0, revision=4,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_the_diagram_names_only_known_states_and_every_allowed_pair_is_in_it() -> None:
    assert len(ALLOWED_PAIRS) == len(DIAGRAM)


@pytest.mark.parametrize("pair", ALLOWED_PAIRS, ids=pair_id)
def test_a_transition_in_the_diagram_is_allowed(pair: tuple[PegoutState, PegoutState]) -> None:
    source, target = pair
    assert transition(record(source), target, now_s=20.0).state == target.value


@pytest.mark.parametrize("pair", FORBIDDEN_PAIRS, ids=pair_id)
def test_a_transition_outside_the_diagram_raises_illegal_transition(
    pair: tuple[PegoutState, PegoutState],
) -> None:
    source, target = pair
    with pytest.raises(IllegalTransition, match=f"{source.value} -> {target.value}"):
        transition(record(source), target, now_s=20.0)


def test_a_transition_raises_the_revision_by_one_and_stamps_updated_at() -> None:
    before = record(PegoutState.AWAITING_SIGNATURES)
    after = transition(before, PegoutState.SIGNED, now_s=42.5)
    assert after.revision == before.revision + 1
    assert after.updated_at == 42.5
    assert after.created_at == before.created_at


def test_a_transition_applies_the_other_changes_and_leaves_the_record_it_was_given() -> None:
    before = record(PegoutState.AWAITING_SIGNATURES)
    after = transition(before, PegoutState.AWAITING_SIGNATURES, now_s=20.0, attempt=2,
                       failures=("bad signature",))
    assert (after.attempt, after.failures) == (2, ("bad signature",))
    assert (before.attempt, before.failures, before.revision) == (1, (), 4)


def test_an_illegal_transition_names_the_peg_out() -> None:
    with pytest.raises(IllegalTransition, match="req-1"):
        transition(record(PegoutState.BROADCAST), PegoutState.SIGNED, now_s=20.0)


@pytest.mark.parametrize(
    ("governance_request_id", "expected"),
    [("a/1", ("a", 1)), ("a/b/12", ("a/b", 12)), ("a/0", ("a", 0)), ("a//3", ("a/", 3))],
)
def test_split_governance_id_splits_at_the_last_slash(
    governance_request_id: str, expected: tuple[str, int],
) -> None:
    assert split_governance_id(governance_request_id) == expected


@pytest.mark.parametrize("governance_request_id", ["a", "a/", "/1", "a/x", "a/-1", "", "a/1 "])
def test_split_governance_id_is_none_for_any_other_shape(governance_request_id: str) -> None:
    assert split_governance_id(governance_request_id) is None


@pytest.mark.parametrize("governance_request_id", ["a/01", "a/\u0661"])
def test_split_governance_id_accepts_only_the_ids_governance_id_produces(
    governance_request_id: str,
) -> None:
    parsed = split_governance_id(governance_request_id)
    assert parsed is None or governance_id(*parsed) == governance_request_id


request_ids_with_slashes = st.lists(st.text(max_size=8), min_size=2, max_size=5).map("/".join)


@given(request_id=request_ids_with_slashes | st.text(min_size=1), attempt=st.integers(0, 10**6))
def test_governance_id_round_trips_through_split(request_id: str, attempt: int) -> None:
    assert split_governance_id(governance_id(request_id, attempt)) == (request_id, attempt)


def test_same_request_ignores_the_case_of_the_hex() -> None:
    assert same_request(record(tx_hex="00abCD"), "00ABcd", (0, 1), (1000, 2000))


@pytest.mark.parametrize(
    ("tx_hex", "input_indices", "amounts"),
    [
        ("00abce", (0, 1), (1000, 2000)),
        (" 00abcd", (0, 1), (1000, 2000)),
        ("00abcd", (1, 0), (1000, 2000)),
        ("00abcd", (0,), (1000, 2000)),
        ("00abcd", (0, 1), (1000, 2001)),
        ("00abcd", (0, 1), (2000, 1000)),
    ],
)
def test_same_request_tells_apart_any_other_difference(
    tx_hex: str, input_indices: tuple[int, ...], amounts: tuple[int, ...],
) -> None:
    assert not same_request(record(tx_hex="00abcd"), tx_hex, input_indices, amounts)


def test_same_request_compares_lists_as_the_tuples_on_record() -> None:
    indices: list[int] = [0, 1]
    amounts: list[int] = [1000, 2000]
    assert same_request(record(), "00ab", indices, amounts)  # type: ignore[arg-type]


def test_status_of_maps_every_field_of_the_record() -> None:
    full = record(
        PegoutState.SIGNED, request_id="req-9", txid="ff" * 32, signatures_collected=2,
        signatures_required=3, error="late answer", signed_tx_hex="beef", attempt=5,
    )
    assert status_of(full) == PegoutStatus(
        request_id="req-9", state="signed", txid="ff" * 32, signatures_collected=2,
        signatures_required=3, error="late answer", signed_tx_hex="beef", attempts=5,
    )


def test_status_of_leaves_no_status_field_at_its_default() -> None:
    full = record(
        PegoutState.SIGNED, txid="aa", signatures_collected=2, error="e",
        signed_tx_hex="beef", attempt=5, fee_sat=700, payout_sat=99_000, confirmations=2,
        replaces="req-0", replaced_by="req-2", resolution="paid", resolved_at=30.0,
    )
    status = status_of(full)
    defaults = PegoutStatus(request_id="", state="")
    for field in dataclasses.fields(PegoutStatus):
        assert getattr(status, field.name) != getattr(defaults, field.name), field.name
