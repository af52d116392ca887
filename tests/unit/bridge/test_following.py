"""A peg-out from its signed transaction on (`actors.bridge.following`), without an actor:
handed over, followed through what Bitcoin Core sees, replaced, parked for an operator and
resolved; and every transition these decisions make is one the ledger allows."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from functools import partial

import pytest

from actors.bridge import following, ledger, workflow
from actors.bridge.effects import (
    CountOutflow,
    Event,
    Note,
    NotifyChain,
    Persist,
    Rebroadcast,
    Reply,
    Supersede,
)
from actors.bridge.ledger import B, C, F, N, R, S
from actors.bridge.rpc import Seen
from actors.bridge.workflow import Step
from actors.messages import InitiatePegout, PegoutRejected, PegoutResolved, PegoutState
from actors.storage.records import PegoutRecord, Release, Transfer
from btc.policy import outpoints
from btc.testing import make_unsigned_pegout
from tests.unit.bridge.test_workflow import (
    CLIENT,
    FED,
    NOW,
    RULES,
    STREAM,
    complete,
    failed_record,
    kinds,
    notes,
    persisted,
    signed_record,
    situation,
)

DEEP = RULES.confirmations  # 6: confirmed from here on
LATER = NOW + 60


def seen(record: PegoutRecord, state: str, confirmations: int = 0) -> Seen:
    return Seen(record.txid or "", state, confirmations)  # type: ignore[arg-type]


def broadcast(confirmations: int = 0) -> PegoutRecord:
    record = following.broadcast_taken(signed_record(), situation()).record
    assert record is not None and record.state == "broadcast"
    return dataclasses.replace(record, confirmations=confirmations)


def in_review() -> PegoutRecord:
    record = signed_record()
    parked = following.broadcast_failed(record, "inputs spent", False, situation(),
                                        seen(record, "unknown")).record
    assert parked is not None and parked.state == "needs_review"
    return parked


def refused_by_network() -> PegoutRecord:
    failed = following.broadcast_failed(signed_record(), "bad-txns", False, situation()).record
    assert failed is not None and failed.state == "failed"
    return failed


def signed_replacement() -> PegoutRecord:
    """`po-2`, replacing `po-1` (the coins of `request()`, a higher fee), signed."""
    tx, indices, amounts = make_unsigned_pegout(FED.witness_script, fee_rate_sat_vb=5.0)
    asked = InitiatePegout("po-2", tx, indices, amounts, replaces="po-1")
    record = workflow.requested(None, asked, CLIENT, situation(), signed_record()).record
    assert record is not None
    signed = workflow.answered(record, False, complete(record), 1, STREAM, situation()).record
    assert signed is not None and signed.state == "signed"
    return signed


def coins(record: PegoutRecord) -> tuple[str, ...]:
    return outpoints(workflow.parse_record(record))


def unchanged(step: Step, record: PegoutRecord | None) -> bool:
    return step.record == record and step.effects == ()


# -- handed over -----------------------------------------------------------------------


def test_a_taken_broadcast_is_stored_broadcast_before_the_chain_is_told() -> None:
    record = signed_record()

    step = following.broadcast_taken(record, situation(now=LATER))

    done = step.record
    assert done is not None and done.state == "broadcast"
    assert done.broadcast_at == LATER and done.confirmations == 0 and done.error is None
    # Accepted at NOW, broadcast at LATER: the accepted-to-broadcast histogram's sample.
    assert step.effects == (Note(Event.BROADCAST, "po-1", detail=record.txid or "",
                                 since_accepted_s=LATER - NOW),
                            Persist(done, then=(NotifyChain("po-1", record.txid or ""),),
                                    can_wait=True))


def test_a_record_without_its_acceptance_time_is_not_timed() -> None:
    record = dataclasses.replace(signed_record(), created_at=0.0)

    (note, *_) = following.broadcast_taken(record, situation(now=LATER)).effects

    assert note == Note(Event.BROADCAST, "po-1", detail=record.txid or "",
                        since_accepted_s=None)


def test_a_taken_replacement_also_supersedes_its_original_once_stored() -> None:
    record = signed_replacement()

    step = following.broadcast_taken(record, situation())

    assert persisted(step).then == (NotifyChain("po-2", record.txid or ""),
                                    Supersede("po-1", "po-2", coins(record)))


def test_a_broadcast_core_has_seen_shallow_starts_at_its_confirmations() -> None:
    record = signed_record()

    step = following.broadcast_taken(record, situation(), seen(record, "confirmed", 2))

    assert step.record is not None and step.record.state == "broadcast"
    assert step.record.confirmations == 2


@pytest.mark.parametrize("depth", [DEEP, DEEP + 3])
def test_a_broadcast_core_has_seen_deep_enough_is_confirmed_at_once(depth: int) -> None:
    record = signed_record()

    step = following.broadcast_taken(record, situation(now=LATER),
                                     seen(record, "confirmed", depth))

    done = step.record
    assert done is not None and done.state == "confirmed"
    assert done.confirmations == depth and done.broadcast_at == LATER
    assert done.revision == record.revision + 1
    assert notes(step.effects) == [Event.BROADCAST, Event.CONFIRMED]
    assert persisted(step) == Persist(done, then=(NotifyChain("po-1", record.txid or ""),),
                                      can_wait=True)


def test_a_replacement_found_confirmed_still_tells_the_chain_and_supersedes_its_original(
) -> None:
    record = signed_replacement()

    step = following.broadcast_taken(record, situation(), seen(record, "confirmed", DEEP))

    assert step.record is not None and step.record.state == "confirmed"
    assert persisted(step).then == (NotifyChain("po-2", record.txid or ""),
                                    Supersede("po-1", "po-2", coins(record)))


# -- "inputs missing or spent": what Core knows of the peg-out's own txid ------------------


@pytest.mark.parametrize(("state", "depth", "where"), [
    ("mempool", 0, "mempool"),
    ("confirmed", 2, "chain"),
])
def test_inputs_spent_by_its_own_transaction_make_a_signed_peg_out_broadcast(
        state: str, depth: int, where: str) -> None:
    record = signed_record()

    step = following.broadcast_failed(record, "inputs spent", False, situation(),
                                      seen(record, state, depth))

    assert step.record is not None and step.record.state == "broadcast"
    assert step.record.confirmations == depth
    assert notes(step.effects) == [Event.SPENT_ELSEWHERE, Event.BROADCAST]
    assert step.effects[0] == Note(Event.SPENT_ELSEWHERE, "po-1", detail=(
        f"inputs spent; its own transaction {record.txid} is in the {where}"))
    assert persisted(step).then == (NotifyChain("po-1", record.txid or ""),)


def test_inputs_spent_by_its_own_deep_transaction_confirm_a_signed_peg_out() -> None:
    record = signed_record()

    step = following.broadcast_failed(record, "inputs spent", True, situation(),
                                      seen(record, "confirmed", DEEP))

    assert step.record is not None and step.record.state == "confirmed"
    assert notes(step.effects) == [Event.SPENT_ELSEWHERE, Event.BROADCAST, Event.CONFIRMED]
    assert persisted(step).then == (NotifyChain("po-1", record.txid or ""),)


def test_inputs_spent_by_its_own_transaction_follow_a_broadcast_peg_out() -> None:
    record = broadcast()

    step = following.broadcast_failed(record, "inputs spent", False, situation(now=LATER),
                                      seen(record, "confirmed", 3))

    deeper = step.record
    assert deeper is not None and deeper.state == "broadcast" and deeper.confirmations == 3
    # The note says why Core was asked, then what following it says.
    assert step.effects == (
        Note(Event.SPENT_ELSEWHERE, "po-1",
             detail=f"inputs spent; its own transaction {record.txid} is in the chain"),
        Note(Event.CONFIRMATIONS, "po-1", attempt=3), Persist(deeper))


def test_inputs_spent_by_its_own_transaction_in_the_mempool_change_no_broadcast_peg_out(
) -> None:
    record = broadcast()

    step = following.broadcast_failed(record, "inputs spent", False, situation(),
                                      seen(record, "mempool"))

    assert step.record == record
    assert step.effects == (Note(
        Event.SPENT_ELSEWHERE, "po-1",
        detail=f"inputs spent; its own transaction {record.txid} is in the mempool"),)


def test_inputs_spent_by_its_own_deep_transaction_confirm_a_broadcast_peg_out_once() -> None:
    record = broadcast(confirmations=DEEP - 1)

    step = following.broadcast_failed(record, "inputs spent", False, situation(),
                                      seen(record, "confirmed", DEEP))

    done = step.record
    assert done is not None and done.state == "confirmed"
    # The chain heard of it when it was broadcast: not again.
    assert step.effects == (
        Note(Event.SPENT_ELSEWHERE, "po-1",
             detail=f"inputs spent; its own transaction {record.txid} is in the chain"),
        Note(Event.CONFIRMED, "po-1", detail=f"txid {record.txid}, {DEEP} confirmations",
             since_accepted_s=0.0),
        Persist(done))


@pytest.mark.parametrize("record", [
    pytest.param(signed_record, id="signed"),
    pytest.param(broadcast, id="broadcast"),
    pytest.param(partial(broadcast, confirmations=3), id="broadcast_confirmed_3"),
])
def test_inputs_spent_by_what_core_cannot_see_park_the_peg_out_for_an_operator(
        record: Callable[[], PegoutRecord]) -> None:
    before = record()

    step = following.broadcast_failed(before, "bad-txns-inputs-missingorspent", True,
                                      situation(), seen(before, "unknown"))

    parked = step.record
    assert parked is not None and parked.state == "needs_review"
    # Core does not know it: whatever depth it had is not known any more.
    assert parked.confirmations == 0
    assert parked.error is not None
    assert parked.error.startswith("bad-txns-inputs-missingorspent; ")
    assert str(before.txid) in parked.error and "ResolvePegout" in parked.error
    assert step.effects == (Note(Event.NEEDS_REVIEW, "po-1", detail=parked.error),
                            Persist(parked))


# -- followed ------------------------------------------------------------------------------


def test_a_confirmation_more_is_stored() -> None:
    record = broadcast(confirmations=1)

    step = following.followed(record, seen(record, "confirmed", 2), situation(now=LATER))

    deeper = step.record
    assert deeper is not None and deeper.state == "broadcast" and deeper.confirmations == 2
    assert deeper.updated_at == LATER and deeper.revision == record.revision + 1
    assert step.effects == (Note(Event.CONFIRMATIONS, "po-1", attempt=2), Persist(deeper))


@pytest.mark.parametrize(("state", "depth"), [("confirmed", 3), ("mempool", 0)])
def test_the_same_depth_again_changes_nothing_and_writes_nothing(state: str,
                                                                 depth: int) -> None:
    record = broadcast(confirmations=depth)

    assert unchanged(following.followed(record, seen(record, state, depth), situation()),
                     record)


@pytest.mark.parametrize("depth", [DEEP, DEEP + 1])
def test_deep_enough_is_confirmed(depth: int) -> None:
    record = broadcast(confirmations=DEEP - 1)

    step = following.followed(record, seen(record, "confirmed", depth), situation(now=LATER))

    assert step.record is not None and step.record.state == "confirmed"
    assert step.record.confirmations == depth and step.record.error is None
    assert step.effects == (
        Note(Event.CONFIRMED, "po-1", detail=f"txid {record.txid}, {depth} confirmations",
             since_accepted_s=LATER - NOW),
        Persist(step.record))


def test_a_reorg_back_to_the_mempool_counts_its_confirmations_from_nothing() -> None:
    record = broadcast(confirmations=3)

    step = following.followed(record, seen(record, "mempool"), situation())

    back = step.record
    assert back is not None and back.state == "broadcast" and back.confirmations == 0
    assert step.effects == (Note(Event.UNCONFIRMED, "po-1", detail=f"txid {record.txid}"),
                            Persist(back))


def test_a_transaction_that_left_the_mempool_is_handed_over_again() -> None:
    record = broadcast()

    step = following.followed(record, seen(record, "unknown"), situation())

    assert step.record == record
    assert step.effects == (Note(Event.LEFT_MEMPOOL, "po-1", detail=f"txid {record.txid}"),
                            Rebroadcast("po-1"))


def test_a_reorg_that_loses_the_transaction_stores_the_reset_and_hands_it_over_again() -> None:
    record = broadcast(confirmations=2)

    step = following.followed(record, seen(record, "unknown"), situation())

    assert step.record is not None and step.record.confirmations == 0
    assert notes(step.effects) == [Event.UNCONFIRMED, Event.LEFT_MEMPOOL]
    assert kinds(step.effects) == ["Note", "Persist", "Note", "Rebroadcast"]


def confirmed() -> PegoutRecord:
    record = broadcast()
    done = following.followed(record, seen(record, "confirmed", DEEP), situation()).record
    assert done is not None
    return done


def replaced() -> PegoutRecord:
    record = following.superseded(broadcast(), "po-2", (), situation()).record
    assert record is not None
    return record


NOT_BROADCAST = [
    pytest.param(signed_record, id="signed"),
    pytest.param(confirmed, id="confirmed"),
    pytest.param(replaced, id="replaced"),
    pytest.param(in_review, id="needs_review"),
    pytest.param(refused_by_network, id="failed"),
]


@pytest.mark.parametrize("record", NOT_BROADCAST)
@pytest.mark.parametrize(("state", "depth"), [("confirmed", DEEP), ("mempool", 0),
                                              ("unknown", 0)])
def test_what_core_says_changes_nothing_of_a_peg_out_not_broadcast(
        record: Callable[[], PegoutRecord], state: str, depth: int) -> None:
    before = record()

    assert unchanged(following.followed(before, seen(before, state, depth), situation()),
                     before)


# -- superseded ---------------------------------------------------------------------------


RETRIED_AT = NOW + 7_200
REPLACED_AT = RETRIED_AT + 60


def retried_then_signed() -> PegoutRecord:
    """`po-1`, failed unsigned, retried at `RETRIED_AT` and signed in that series."""
    again = workflow.retry(failed_record(), "po-1", CLIENT, situation(now=RETRIED_AT)).record
    assert again is not None and again.series_start == RETRIED_AT
    signed = workflow.answered(again, False, complete(again), again.attempt, STREAM,
                               situation(now=RETRIED_AT)).record
    assert signed is not None and signed.state == "signed"
    return signed


@pytest.mark.parametrize(("original", "counted_at"), [
    pytest.param(signed_record, NOW, id="signed"),
    pytest.param(broadcast, NOW, id="broadcast"),
    pytest.param(in_review, NOW, id="needs_review"),
    pytest.param(refused_by_network, NOW, id="failed_after_signing"),
    pytest.param(retried_then_signed, RETRIED_AT, id="signed_in_a_retried_series"),
])
def test_a_broadcast_replacement_makes_its_original_replaced_takes_its_coins_and_its_count(
        original: Callable[[], PegoutRecord], counted_at: float) -> None:
    before = original()
    shared = coins(before)

    step = following.superseded(before, "po-2", shared, situation(now=REPLACED_AT))

    after = step.record
    assert after is not None and after.state == "replaced" and after.replaced_by == "po-2"
    assert after.updated_at == REPLACED_AT
    # Its payout leaves the outflow window from where its series counted it, before the
    # write: the replacement's own count stands for both from now on.
    assert before.payout_sat > 0
    assert step.effects == (Note(Event.REPLACED, "po-1", detail="by 'po-2'"),
                            CountOutflow(counted_at, -before.payout_sat),
                            Persist(after, extra=(Transfer("po-1", "po-2", shared),)))


@pytest.mark.parametrize("original", [
    pytest.param(confirmed, id="confirmed"),
    pytest.param(replaced, id="already_replaced"),
    pytest.param(lambda: None, id="none"),
])
def test_an_original_paid_or_replaced_already_or_missing_stays_as_it_is(
        original: Callable[[], PegoutRecord | None]) -> None:
    before = original()

    assert unchanged(following.superseded(before, "po-3", ("ab" * 32 + ":0",), situation()),
                     before)


# -- an operator's word -------------------------------------------------------------------


def test_an_operators_paid_confirms_tells_the_chain_and_is_answered_once_stored() -> None:
    record = in_review()

    step = following.resolve(record, "po-1", "paid", CLIENT, situation(now=LATER))

    done = step.record
    assert done is not None and done.state == "confirmed"
    assert done.resolution == "paid" and done.resolved_at == LATER
    assert step.effects == (
        Note(Event.RESOLVED, "po-1", kind="paid", detail="needs_review -> confirmed"),
        Persist(done, then=(NotifyChain("po-1", record.txid or ""),
                            Reply(CLIENT, PegoutResolved("po-1", "confirmed")))))


def test_an_operators_paid_for_a_replacement_supersedes_its_original() -> None:
    record = signed_replacement()
    parked = following.broadcast_failed(record, "inputs spent", False, situation(),
                                        seen(record, "unknown")).record
    assert parked is not None

    step = following.resolve(parked, "po-2", "paid", CLIENT, situation())

    assert persisted(step).then == (NotifyChain("po-2", record.txid or ""),
                                    Supersede("po-1", "po-2", coins(record)),
                                    Reply(CLIENT, PegoutResolved("po-2", "confirmed")))


def test_an_operators_not_paid_fails_it_and_keeps_its_coins_reserved() -> None:
    record = in_review()

    step = following.resolve(record, "po-1", "not_paid", CLIENT, situation(now=LATER))

    done = step.record
    assert done is not None and done.state == "failed"
    assert done.resolution == "not_paid" and done.resolved_at == LATER
    assert done.error == f"{record.error}; resolved by an operator: not paid"
    persist = persisted(step)
    assert persist.extra == ()  # signed once: no Release
    assert persist.then == (Reply(CLIENT, PegoutResolved("po-1", "failed")),)  # no chain
    # Paying it again takes a replacement; a retry is refused.
    assert notes(workflow.retry(done, "po-1", CLIENT, situation()).effects) == [Event.REJECTED]


def test_an_operators_not_paid_of_a_peg_out_without_an_error_says_only_that() -> None:
    record = dataclasses.replace(in_review(), error=None)

    done = following.resolve(record, "po-1", "not_paid", CLIENT, situation()).record

    assert done is not None and done.state == "failed"
    assert done.error == "resolved by an operator: not paid"


@pytest.mark.parametrize(("record", "outcome", "kind", "reason"), [
    pytest.param(in_review, "maybe", "resolution",
                 "outcome must be one of paid, not_paid, got 'maybe'", id="bad_outcome"),
    pytest.param(lambda: None, "paid", "unknown", "no peg-out 'po-1'", id="unknown_id"),
    pytest.param(broadcast, "paid", "not_in_review",
                 "peg-out 'po-1' is broadcast, not needs_review", id="broadcast"),
    pytest.param(refused_by_network, "not_paid", "not_in_review",
                 "peg-out 'po-1' is failed, not needs_review", id="failed"),
])
def test_a_resolution_that_does_not_apply_is_refused_and_changes_nothing(
        record: Callable[[], PegoutRecord | None], outcome: str, kind: str,
        reason: str) -> None:
    before = record()

    step = following.resolve(before, "po-1", outcome, CLIENT, situation())

    assert step.record == before
    assert step.effects == (Note(Event.REJECTED, "po-1", kind=kind, detail=reason),
                            Reply(CLIENT, PegoutRejected("po-1", reason)))


# -- every transition made is one the ledger allows --------------------------------------


@pytest.fixture
def walked(monkeypatch: pytest.MonkeyPatch) -> Iterator[set[tuple[PegoutState, PegoutState]]]:
    """Every (from, to) that `following` asks the ledger for, as it asks."""
    pairs: set[tuple[PegoutState, PegoutState]] = set()
    real = ledger.transition

    def recording(record: PegoutRecord, state: PegoutState, now_s: float,
                  **changes: object) -> PegoutRecord:
        pairs.add((PegoutState(record.state), state))
        return real(record, state, now_s, **changes)  # type: ignore[arg-type]

    monkeypatch.setattr(following, "transition", recording)
    yield pairs


FOLLOWED = (signed_record, broadcast, confirmed, replaced, in_review, refused_by_network)


def _every_decision() -> Iterator[Callable[[], Step]]:
    """Each decision of `following` on each kind of record it may meet."""
    sit = situation()
    for depth in (0, 2, DEEP):
        for state in ("mempool", "confirmed", "unknown"):
            for make in (signed_record, broadcast):
                record = make()
                yield partial(following.broadcast_failed, record, "inputs spent", False, sit,
                              seen(record, state, depth))
            for make in FOLLOWED:
                record = dataclasses.replace(make(), confirmations=min(depth, 3))
                yield partial(following.followed, record, seen(record, state, depth), sit)
        record = signed_record()
        yield partial(following.broadcast_taken, record, sit, seen(record, "confirmed", depth))
    for retryable in (True, False):
        yield partial(following.broadcast_failed, signed_record(), "x", retryable, sit)
    for make in FOLLOWED:
        yield partial(following.superseded, make(), "po-2", (), sit)
        for outcome in ("paid", "not_paid"):
            yield partial(following.resolve, make(), "po-1", outcome, CLIENT, sit)


def test_every_transition_following_makes_is_in_the_ledgers_table(
        walked: set[tuple[PegoutState, PegoutState]]) -> None:
    for decide in _every_decision():
        decide()

    assert all(ledger.allowed(current, target) for current, target in walked)
    # And the other way round: every transition the table allows out of signed, broadcast
    # and needs_review, and a signed failure's replacement, is made by one of them.
    table = {(current, target) for current in (S, B, N) for target in PegoutState
             if ledger.allowed(current, target)}
    assert walked == table | {(F, R)}
    assert not any(current in (C, R) for current, _ in walked)


def test_a_peg_out_that_persists_a_change_persists_exactly_that_record() -> None:
    for decide in _every_decision():
        step = decide()
        writes = [effect for effect in step.effects if isinstance(effect, Persist)]
        assert all(write.record == step.record for write in writes)
        assert not any(isinstance(extra, Release) for write in writes for extra in write.extra)
