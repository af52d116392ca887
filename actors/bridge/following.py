"""A peg-out from its signed transaction on: handed over, followed until it confirms,
replaced, or parked for an operator (pure).

    signed --(the broadcaster took it)--> broadcast
    signed --(refused for good)--> failed          the network proved it unpaid
    signed --(found already `bridge.confirmations` deep)--> confirmed
    signed | broadcast --("inputs missing or spent")--> broadcast | needs_review
        the bridge asks Bitcoin Core about its own txid: found, it was paid (or is in the
        mempool); not found, the node cannot tell, and an operator decides
    broadcast --(followed: `bridge.confirmations` deep)--> confirmed
    broadcast --(left the mempool unconfirmed)--> broadcast, handed over again
    needs_review --(ResolvePegout paid | not_paid)--> confirmed | failed
    any but confirmed --(its replacement was broadcast)--> replaced

A paid peg-out is never recorded `failed`: only a refusal that proves the transaction was
not taken (a policy or script verdict, a decode error) fails it, and a signed one keeps
its coins reserved even then, so that paying it again needs a replacement that conflicts
with it. What Bitcoin Core saw of a transaction comes in as a `Seen`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from actors.bridge.effects import (
    BroadcastLater,
    Event,
    Note,
    NotifyChain,
    Persist,
    Rebroadcast,
    Reply,
    Supersede,
)
from actors.bridge.ledger import transition
from actors.bridge.rpc import Seen
from actors.bridge.situation import Situation, Step
from actors.bridge.workflow import refuse, uncounted
from actors.messages import PAID, RESOLUTIONS, PegoutResolved, PegoutState
from actors.storage.records import PegoutRecord, Transfer
from btc.policy import outpoints

BROADCAST = PegoutState.BROADCAST
CONFIRMED = PegoutState.CONFIRMED
NEEDS_REVIEW = PegoutState.NEEDS_REVIEW


def broadcastable(records: Sequence[PegoutRecord]) -> list[PegoutRecord]:
    """The signed ones among `records`, each once."""
    seen: dict[str, PegoutRecord] = {}
    for record in records:
        if record.state == PegoutState.SIGNED.value:
            seen.setdefault(record.request_id, record)
    return list(seen.values())


def broadcast_taken(record: PegoutRecord, situation: Situation,
                    seen: Seen | None = None) -> Step:
    """The broadcaster has the transaction (new or already known: both are success), or
    Bitcoin Core was found to have it (`seen`; already `bridge.confirmations` deep, it is
    `confirmed` at once). Either way the chain hears of it, and a replacement's original
    becomes `replaced`, once the record is durable."""
    now = situation.now_s
    confirmations = seen.confirmations if seen is not None else 0
    state = CONFIRMED if confirmations >= situation.rules.confirmations else BROADCAST
    record = transition(record, state, now, broadcast_at=now, confirmations=confirmations,
                        error=None)
    notes = [Note(Event.BROADCAST, record.request_id, detail=record.txid or "",
                  since_accepted_s=_since_accepted(record))]
    if state is CONFIRMED:
        notes.append(_confirmed_note(record))
    # The txid is in the spool (or Core has it): the state is recovery's to redo if this
    # commit is lost, and only the chain's notice waits for it, so it can wait for company.
    return Step(record, (*notes, Persist(record, then=_paid(record, situation),
                                         can_wait=True)))


def _paid(record: PegoutRecord, situation: Situation) -> tuple[Any, ...]:
    """What follows once a peg-out is known to be out there: the chain is told, and the
    peg-out it replaces, if any, is `replaced`."""
    then: tuple[Any, ...] = (NotifyChain(record.request_id, record.txid or ""),)
    if record.replaces is not None:
        then += (Supersede(record.replaces, record.request_id, _coins(record, situation)),)
    return then


def broadcast_failed(record: PegoutRecord, reason: str, retryable: bool,
                     situation: Situation, seen: Seen | None = None) -> Step:
    """The broadcaster did not take the transaction. `seen`: it answered that the inputs
    are missing or spent, and this is what Bitcoin Core knows of our own txid."""
    rid = record.request_id
    if seen is not None:
        return spent_elsewhere(record, reason, seen, situation)
    if retryable:
        return Step(record, (Note(Event.BROADCAST_DEFERRED, rid, detail=reason),
                             BroadcastLater()))
    failed = transition(record, PegoutState.FAILED, situation.now_s,
                        error=f"broadcast refused: {reason}")
    # Signed: its coins stay reserved, and it stays counted against the outflow window.
    return Step(failed, (Note(Event.BROADCAST_REFUSED, rid, detail=reason),
                         Note(Event.FAILED, rid, detail=failed.error or ""),
                         Persist(failed)))


def spent_elsewhere(record: PegoutRecord, reason: str, seen: Seen,
                    situation: Situation) -> Step:
    """Its coins are spent: by this very transaction (found: it is `broadcast`, or deeper),
    or by something the node cannot see (`needs_review`)."""
    rid = record.request_id
    if seen.state in ("mempool", "confirmed"):
        note = Note(Event.SPENT_ELSEWHERE, rid,
                    detail=f"{reason}; its own transaction {record.txid} is in the "
                           f"{'chain' if seen.state == 'confirmed' else 'mempool'}")
        step = (followed(record, seen, situation) if record.state == BROADCAST.value
                else broadcast_taken(record, situation, seen))
        return Step(step.record, (note, *step.effects))
    parked = transition(record, NEEDS_REVIEW, situation.now_s, confirmations=0,
                        error=f"{reason}; Bitcoin Core does not know its transaction "
                              f"{record.txid}: it may have been paid. An operator decides "
                              "(ResolvePegout)")
    return Step(parked, (Note(Event.NEEDS_REVIEW, rid, detail=parked.error or ""),
                         Persist(parked)))


def followed(record: PegoutRecord, seen: Seen, situation: Situation) -> Step:
    """What Bitcoin Core says now of a broadcast peg-out's transaction."""
    if record.state != BROADCAST.value:
        return Step(record)
    rid = record.request_id
    if seen.state == "confirmed":
        if seen.confirmations >= situation.rules.confirmations:
            return _confirmed(record, seen.confirmations, situation)
        if seen.confirmations == record.confirmations:
            return Step(record)
        deeper = transition(record, BROADCAST, situation.now_s,
                            confirmations=seen.confirmations)
        return Step(deeper, (Note(Event.CONFIRMATIONS, rid, attempt=seen.confirmations),
                             Persist(deeper)))
    effects: list[Any] = []
    if record.confirmations > 0:
        # A reorg took its block out of the chain: it counts from nothing again.
        record = transition(record, BROADCAST, situation.now_s, confirmations=0)
        effects += [Note(Event.UNCONFIRMED, rid, detail=f"txid {record.txid}"),
                    Persist(record)]
    if seen.state == "unknown":
        effects += [Note(Event.LEFT_MEMPOOL, rid, detail=f"txid {record.txid}"),
                    Rebroadcast(rid)]
    return Step(record, tuple(effects))


def _confirmed(record: PegoutRecord, confirmations: int, situation: Situation) -> Step:
    done = transition(record, CONFIRMED, situation.now_s, confirmations=confirmations,
                      error=None)
    return Step(done, (_confirmed_note(done), Persist(done)))


def _confirmed_note(record: PegoutRecord) -> Note:
    return Note(Event.CONFIRMED, record.request_id,
                detail=f"txid {record.txid}, {record.confirmations} confirmations",
                since_accepted_s=_since_accepted(record))


def _since_accepted(record: PegoutRecord) -> float | None:
    """From acceptance to the transition just made (a clock stepped back counts as 0);
    None for a record without its acceptance time."""
    if record.created_at <= 0:
        return None
    return max(0.0, record.updated_at - record.created_at)


def superseded(original: PegoutRecord | None, by: str, coins: tuple[str, ...],
               situation: Situation) -> Step:
    """The replacement `by` was broadcast: its original is `replaced`, and the coins they
    share are held by the replacement from now on (so that it can be replaced in turn)."""
    if original is None or PegoutState(original.state) in (CONFIRMED, PegoutState.REPLACED):
        # Confirmed first: the replacement cannot confirm; following it will tell.
        return Step(original)
    replaced = transition(original, PegoutState.REPLACED, situation.now_s, replaced_by=by)
    # Its payout leaves the window: the replacement's is the one that counts now.
    transfer = Transfer(original.request_id, by, coins)
    return Step(replaced, (Note(Event.REPLACED, original.request_id, detail=f"by {by!r}"),
                           *uncounted(original), Persist(replaced, extra=(transfer,))))


def resolve(record: PegoutRecord | None, request_id: str, outcome: str, client: Any,
            situation: Situation) -> Step:
    """An operator's `ResolvePegout` of a peg-out parked `needs_review`."""
    if outcome not in RESOLUTIONS:
        return refuse(record, client, request_id, "resolution",
                      f"outcome must be one of {', '.join(RESOLUTIONS)}, got {outcome!r}")
    if record is None:
        return refuse(None, client, request_id, "unknown", f"no peg-out {request_id!r}")
    if record.state != NEEDS_REVIEW.value:
        return refuse(record, client, request_id, "not_in_review",
                      f"peg-out {request_id!r} is {record.state}, not {NEEDS_REVIEW.value}")
    now = situation.now_s
    then: tuple[Any, ...] = ()
    if outcome == PAID:
        done = transition(record, CONFIRMED, now, resolution=outcome, resolved_at=now)
        then = _paid(done, situation)
    else:
        # Signed once: its coins stay reserved; paying it again takes a replacement.
        done = transition(record, PegoutState.FAILED, now, resolution=outcome, resolved_at=now,
                          error="; ".join(filter(None, (record.error, "resolved by an "
                                                        "operator: not paid"))))
    reply = Reply(client, PegoutResolved(request_id, done.state))
    return Step(done, (Note(Event.RESOLVED, request_id, kind=outcome,
                            detail=f"{record.state} -> {done.state}"),
                       Persist(done, then=(*then, reply))))


def _coins(record: PegoutRecord, situation: Situation) -> tuple[str, ...]:
    return outpoints(situation.unsigned(record))
