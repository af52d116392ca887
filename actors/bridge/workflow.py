"""The peg-out workflow, pure: a peg-out's current record and an event in, its new record and
the effects to carry out.

    InitiatePegout --checked--> awaiting_signatures (attempt 1)
        persist; then reply PegoutAccepted and ask governance for signatures
    a complete answer that verifies --> signed
        persist; then Handled to the stream, and broadcast
    a bad answer, a governance error, a timeout --> awaiting_signatures (attempt + 1)
        persist; then ask again (after retry_after when governance gave one)
      ... or, once `signature_retries` are spent --> failed
    broadcast taken --> broadcast; persist; then tell the chain
    broadcast refused for good --> failed

Nothing here sends, stores, reads a clock or logs: the BridgeActor turns each
message into a call, with the `Situation` it is in (federation, rules, time),
and carries out the returned effects (`actors.bridge.effects`) in order. The
record transitions themselves are `ledger`'s.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from actors.bridge.effects import (
    AskSignatures,
    Broadcast,
    BroadcastLater,
    Drop,
    Effects,
    Event,
    Note,
    NotifyChain,
    Persist,
    Reply,
)
from actors.bridge.ledger import governance_id, same_request, transition
from actors.messages import (
    ApplySignatures,
    Handled,
    InitiatePegout,
    PegoutAccepted,
    PegoutRejected,
    PegoutState,
    RequestSignatures,
)
from actors.storage.records import PegoutRecord
from btc.errors import BtcError, SignaturesInvalid
from btc.federation import Federation
from btc.pegout import UnsignedPegout, parse_pegout
from btc.signing import assemble

AWAITING = PegoutState.AWAITING_SIGNATURES
SIGNED = PegoutState.SIGNED


def parse_record(record: PegoutRecord) -> UnsignedPegout:
    """The stored unsigned transaction, parsed again (it was checked when it was accepted)."""
    return parse_pegout(record.tx_hex, record.input_indices, record.amounts,
                        max_pegout_sat=max(sum(record.amounts), 1))


@dataclass(frozen=True)
class Rules:
    """The config the workflow decides by (`bridge.*`)."""

    max_pegout_sat: int
    signature_retries: int


@dataclass(frozen=True)
class Situation:
    """What a decision may read besides the record: the federation in force, the rules, the
    time, and how to get a record's parsed transaction (the actor keeps a cache)."""

    federation: Federation | None
    rules: Rules
    now_s: float
    unsigned: Callable[[PegoutRecord], UnsignedPegout] = parse_record

    @property
    def halted(self) -> bool:
        """Nothing is signed or broadcast without a federation or during an emergency halt."""
        return self.federation is None or self.federation.halted


@dataclass(frozen=True)
class Step:
    """A decision: the peg-out's record afterwards (None: there is none to keep) and the
    effects, in order. `parsed` is the transaction a new peg-out was checked with."""

    record: PegoutRecord | None
    effects: Effects = ()
    parsed: UnsignedPegout | None = field(default=None, compare=False)


# -- a client's request -------------------------------------------------------------


def requested(existing: PegoutRecord | None, request: InitiatePegout, client: Any,
              situation: Situation) -> Step:
    """An `InitiatePegout`. `existing` is the record under its id, from memory or storage."""
    rid = request.request_id
    if existing is not None:
        if same_request(existing, request.tx_hex, request.input_indices, request.amounts):
            # The same request again: accepted again, once what is stored is durable.
            return Step(existing, (Persist(None, then=(Reply(client, PegoutAccepted(rid)),)),))
        return refuse(existing, client, rid, "duplicate",
                      f"request id {rid!r} is already used by a different peg-out")
    federation = situation.federation
    if not rid:
        return refuse(None, client, rid, "request_id", "request_id is empty")
    if federation is None:
        return refuse(None, client, rid, "no_federation", "no federation yet")
    if federation.halted:
        return refuse(None, client, rid, "halted",
                      f"emergency halt in force (federation version {federation.version})")
    try:
        pegout = parse_pegout(request.tx_hex, request.input_indices, request.amounts,
                              max_pegout_sat=situation.rules.max_pegout_sat)
    except BtcError as exc:
        return refuse(None, client, rid, "invalid", str(exc))
    now = situation.now_s
    record = PegoutRecord(
        request_id=rid, tx_hex=pegout.tx_hex, input_indices=pegout.input_indices,
        amounts=pegout.amounts, state=AWAITING.value, attempt=1,
        signatures_required=federation.threshold * len(pegout.input_indices),
        txid=pegout.txid, created_at=now, updated_at=now,
    )
    accepted = (Note(Event.ACCEPTED, rid), Reply(client, PegoutAccepted(rid)),
                AskSignatures(rid, 1))
    return Step(record, (Persist(record, then=accepted, refused_for=client),), parsed=pegout)


def not_stored(record: PegoutRecord, client: Any, reason: str) -> Effects:
    """The new peg-out's first write failed: it never existed."""
    return (Drop(record),
            *refuse(None, client, record.request_id, "storage", f"not stored: {reason}").effects)


def unreadable(request: InitiatePegout, client: Any, error: str) -> Effects:
    """The id may belong to a finished peg-out, and storage could not be read to tell."""
    rid = request.request_id
    return refuse(None, client, rid, "storage", f"could not read peg-out {rid!r}: {error}").effects


def refuse(record: PegoutRecord | None, client: Any, request_id: str, kind: str,
           reason: str) -> Step:
    return Step(record, (Note(Event.REJECTED, request_id, kind=kind, detail=reason),
                         Reply(client, PegoutRejected(request_id, reason))))


# -- governance's answers ---------------------------------------------------------------


def signature_request(record: PegoutRecord, situation: Situation) -> RequestSignatures | None:
    """What to send governance for the record's current attempt; None when nothing may be
    asked now (the peg-out is past its signatures, or signing is halted)."""
    if record.state != AWAITING.value or situation.federation is None or situation.halted:
        return None
    return RequestSignatures(
        request_id=governance_id(record.request_id, record.attempt),
        tx_hex=record.tx_hex, input_indices=record.input_indices, amounts=record.amounts,
        tx_type="pegout", required_signatures=situation.federation.threshold,
    )


def answered(record: PegoutRecord | None, finished: bool, answer: ApplySignatures,
             attempt: int, stream: Any, situation: Situation) -> Step:
    """Governance's `ApplySignatures` for attempt `attempt` of `record`. `finished`: the id
    is a peg-out whose last state is in storage only. Every answer is confirmed `Handled`
    to the stream once what it caused is durable."""
    gid = answer.request_id
    handled = Reply(stream, Handled(gid))
    if record is None:
        if finished:
            return Step(None, (Note(Event.DUPLICATE_ANSWER, gid, detail="finished"), handled))
        return Step(None, (Note(Event.UNKNOWN_ANSWER, gid), handled))
    if record.state != AWAITING.value:
        return Step(record, (Note(Event.DUPLICATE_ANSWER, gid, detail=record.state), handled))
    if situation.halted:
        # Nothing is signed during a halt; the lift asks every open peg-out again.
        return Step(record, (Note(Event.SET_ASIDE, gid), handled))
    if answer.status == "pending":
        return Step(record, (handled,))  # not an answer yet
    if answer.status != "complete":
        reason = f"governance answered {answer.status}"
        if answer.failure_reason:
            reason += f": {answer.failure_reason}"
        return attempt_failed(record, attempt, answer.status, reason, situation, then=(handled,))
    assert situation.federation is not None  # not halted
    try:
        signed = assemble(situation.unsigned(record), situation.federation,
                          [(w.signature, w.public_key, w.sig_type) for w in answer.signatures])
    except SignaturesInvalid as exc:
        return attempt_failed(record, attempt, exc.kind, f"unusable signatures: {exc}",
                              situation, then=(handled,))
    # A complete answer that verifies is used even if it answers an earlier attempt
    # (a late answer to a request that timed out): the signatures are as good.
    record = transition(record, SIGNED, situation.now_s, signed_tx_hex=signed.tx_hex,
                        txid=signed.txid, signatures_collected=len(answer.signatures), error=None)
    return Step(record, (Note(Event.SIGNED, record.request_id),
                         Persist(record, then=(handled, Broadcast(record.request_id)))))


def unanswered(record: PegoutRecord | None, attempt: int, kind: str, reason: str,
               situation: Situation, delay_s: float = 0.0) -> Step:
    """The attempt got no answer: it timed out, the stream did not take it, or governance
    answered with an error (`delay_s`: its `retry_after`)."""
    if record is None or record.state != AWAITING.value:
        return Step(record)
    if situation.halted:
        return Step(record, (Note(Event.SET_ASIDE, governance_id(record.request_id, attempt)),))
    return attempt_failed(record, attempt, kind, reason, situation, delay_s=delay_s)


def attempt_failed(record: PegoutRecord, attempt: int, kind: str, reason: str,
                   situation: Situation, then: Effects = (), delay_s: float = 0.0) -> Step:
    """One attempt's answer was unusable: try again, or give up when retries are spent."""
    rid = record.request_id
    if attempt != record.attempt:
        # An older attempt's bad answer: the current attempt is already on its way.
        return Step(record, (Note(Event.DUPLICATE_ANSWER, governance_id(rid, attempt)), *then))
    failures = (*record.failures, f"attempt {attempt}: {reason}")
    failure = Note(Event.SIGNATURE_FAILURE, rid, kind=kind, detail=reason, attempt=attempt)
    if len(failures) <= situation.rules.signature_retries:
        retry = transition(record, AWAITING, situation.now_s, attempt=attempt + 1,
                           failures=failures, error=reason)
        ask = AskSignatures(rid, retry.attempt, delay_s)
        return Step(retry, (failure, Note(Event.RETRIED, rid, detail=reason, attempt=attempt),
                            Persist(retry, then=(*then, ask))))
    failed = transition(record, PegoutState.FAILED, situation.now_s, failures=failures,
                        error=f"no usable signatures after {len(failures)} failed attempts;"
                              f" last: {reason}")
    assert failed.error is not None
    return Step(failed, (failure, Note(Event.FAILED, rid, detail=failed.error),
                         Persist(failed, then=then)))


def next_attempt(record: PegoutRecord, situation: Situation, **changes: object) -> Step:
    """Ask governance again under a new id `<request_id>/<attempt + 1>`: the stream drops an
    answer to an id it has already routed, so a request id is never used twice."""
    record = transition(record, AWAITING, situation.now_s, attempt=record.attempt + 1,
                        **changes)
    return Step(record, (Persist(record, then=(AskSignatures(record.request_id,
                                                             record.attempt),)),))


def halt_lifted(record: PegoutRecord, situation: Situation) -> Step:
    """The emergency halt is over. Answers that came during it were set aside, so an open
    peg-out asks again under a new attempt; a signed one is broadcast."""
    if record.state == AWAITING.value:
        return next_attempt(record, situation)
    if record.state == SIGNED.value:
        return Step(record, (Broadcast(record.request_id),))
    return Step(record)


# -- broadcasting ---------------------------------------------------------------------


def broadcast_taken(record: PegoutRecord, situation: Situation) -> Step:
    """The broadcaster has the transaction (new or already known: both are success)."""
    record = transition(record, PegoutState.BROADCAST, situation.now_s)
    return Step(record, (Note(Event.BROADCAST, record.request_id, detail=record.txid or ""),
                         Persist(record, then=(NotifyChain(record.request_id,
                                                           record.txid or ""),))))


def broadcast_failed(record: PegoutRecord, reason: str, retryable: bool,
                     situation: Situation) -> Step:
    rid = record.request_id
    if retryable:
        return Step(record, (Note(Event.BROADCAST_DEFERRED, rid, detail=reason),
                             BroadcastLater()))
    failed = transition(record, PegoutState.FAILED, situation.now_s,
                        error=f"broadcast refused: {reason}")
    return Step(failed, (Note(Event.BROADCAST_REFUSED, rid, detail=reason),
                         Note(Event.FAILED, rid, detail=failed.error or ""),
                         Persist(failed)))


def broadcastable(records: Sequence[PegoutRecord]) -> list[PegoutRecord]:
    """The signed ones among `records`, each once."""
    seen: dict[str, PegoutRecord] = {}
    for record in records:
        if record.state == SIGNED.value:
            seen.setdefault(record.request_id, record)
    return list(seen.values())
