"""The peg-out workflow, pure: a peg-out's current record and an event in, its new record and
the effects to carry out.

    InitiatePegout --checked--> awaiting_signatures (attempt 1)
        persist; then reply PegoutAccepted and ask governance for signatures
    a complete answer that verifies --> signed
        persist; then Handled to the stream, and broadcast
    a final bad answer (FAILED, PARTIAL, signatures that do not verify, an error that
    says the request itself is wrong) --> awaiting_signatures (attempt + 1)
        persist; then ask again ... or, once `signature_retries` are spent --> failed
    a transient failure ("later": rate limited, unavailable, a timeout, no session, or
    no answer within `attempt_timeout_s`) --> awaiting_signatures (attempt + 1)
        persist; then ask again after a pause; costs time, not retries
      ... or, past `signature_deadline_s` since the series began --> failed
    its federation version retired (convention 10) --> failed, at its next answer or expiry
    broadcast taken --> broadcast; persist; then tell the chain
    broadcast refused for good --> failed
    RetryPegout of a failed peg-out never signed --> awaiting_signatures (a new series)

Liveness: every attempt ends, answered or not, within `attempt_timeout_s` (the
bridge keeps its own clock, `actors.bridge.attempts`), and a series
within `signature_deadline_s` plus one attempt, whatever governance sends,
withholds or repeats; an emergency halt does not stop that clock.

Nothing here sends, stores, reads a clock or logs: the BridgeActor turns each
message into a call, with the `Situation` it is in (federation, rules, time),
and carries out the returned effects (`actors.bridge.effects`) in order. The
record transitions themselves are `ledger`'s.
"""

from __future__ import annotations

from typing import Any

from actors.bridge.admission import REPLACEMENT_OF, Refusal, admit
from actors.bridge.effects import (
    AskSignatures,
    Broadcast,
    CountOutflow,
    Drop,
    Effect,
    Effects,
    Event,
    Note,
    Persist,
    Reply,
)
from actors.bridge.ledger import governance_id, request_id_problem, same_request, transition
from actors.bridge.situation import Rules, Situation, Step, parse_record
from actors.messages import (
    ApplySignatures,
    Handled,
    InitiatePegout,
    PegoutAccepted,
    PegoutRejected,
    PegoutState,
    RequestSignatures,
)
from actors.storage.records import Claim, Held, PegoutRecord, Release
from btc.errors import BtcError, SignaturesInvalid
from btc.pegout import parse_pegout
from btc.policy import outpoints
from btc.signing import assemble

__all__ = ["FINAL_ERROR_CODES", "Rules", "Situation", "Step", "parse_record"]

AWAITING = PegoutState.AWAITING_SIGNATURES
SIGNED = PegoutState.SIGNED


# Governance error codes that say the request itself is wrong: asking again as it is cannot
# help, so they spend a retry. Every other error says "later" and costs time only.
FINAL_ERROR_CODES = frozenset({"invalid_request", "authorization_failed", "invalid_signature",
                               "insufficient_signatures", "federation_error"})



# -- a client's request -------------------------------------------------------------


def requested(existing: PegoutRecord | None, request: InitiatePegout, client: Any,
              situation: Situation, original: PegoutRecord | None = None) -> Step:
    """An `InitiatePegout`. `existing` is the record under its id, from memory or storage;
    `original`, for a replacement, the record of the peg-out it names (None: none)."""
    rid = request.request_id
    replaces = getattr(request, "replaces", None)  # absent from an older sender's pickle
    named = getattr(request, "federation_version", None)  # absent from an older pickle
    if existing is not None:
        # Naming no version repeats any; naming one, only a peg-out stored under it.
        if same_request(existing, request.tx_hex, request.input_indices, request.amounts,
                        replaces) and named in (None, existing.federation_version):
            # The same request again: accepted again, once what is stored is durable.
            return Step(existing, (Persist(None, then=(Reply(client, PegoutAccepted(rid)),)),))
        return refuse(existing, client, rid, "duplicate",
                      f"request id {rid!r} is already used by a different peg-out")
    federation = situation.federation
    problem = request_id_problem(rid)
    if problem is None and replaces is not None:
        problem = request_id_problem(replaces)
        problem = problem and f"replaces: {problem}"
    if problem is not None:
        return refuse(None, client, rid, "request_id", problem)
    if situation.drain is not None:
        return refuse(None, client, rid, "draining", situation.drain.refusal())
    if federation is None:
        return refuse(None, client, rid, "no_federation", "no federation yet")
    if federation.halted:
        return refuse(None, client, rid, "halted",
                      f"emergency halt in force (federation version {federation.version})")
    if original is not None and original.federation_version is not None:
        # A replacement spends a coin of its original, so every input is a coin of the
        # original's federation (convention 10): it is signed under that version.
        if named is None:
            named = original.federation_version
        elif named != original.federation_version:
            return refuse(None, client, rid, "replacement",
                          f"peg-out {replaces!r} spends coins of federation version "
                          f"{original.federation_version}, and its replacement names "
                          f"version {named!r}")
    # The federation whose coins it spends: the one in force, or an earlier one it names.
    spent = situation.federation_for(named)
    if isinstance(spent, str):
        return refuse(None, client, rid, "federation_version", spent)
    try:
        pegout = parse_pegout(request.tx_hex, request.input_indices, request.amounts,
                              max_pegout_sat=situation.rules.max_pegout_sat)
    except BtcError as exc:
        return refuse(None, client, rid, "invalid", str(exc))
    admitted = admit(rid, pegout, situation, original, replaces, spent)
    if isinstance(admitted, Refusal):
        return refuse(None, client, rid, admitted.kind, admitted.reason)
    now = situation.now_s
    spend = admitted.spend
    record = PegoutRecord(
        request_id=rid, tx_hex=pegout.tx_hex, input_indices=pegout.input_indices,
        amounts=pegout.amounts, state=AWAITING.value, attempt=1,
        signatures_required=spent.threshold * len(pegout.input_indices),
        txid=pegout.txid, created_at=now, updated_at=now, replaces=replaces,
        # The version resolved, not as asked: a peg-out that names none spends coins of the
        # version in force now, and a later switch must not sign it under another script.
        payout_sat=spend.payout_sat, fee_sat=spend.fee_sat, federation_version=spent.version,
    )
    accepted = (Note(Event.ACCEPTED, rid), Reply(client, PegoutAccepted(rid)),
                AskSignatures(rid, 1))
    counted = (CountOutflow(now, spend.payout_sat),)
    return Step(record, (*counted, Persist(record, then=accepted, refused_for=client,
                                           request=request, extra=(admitted.claim,))),
                parsed=pegout)


def coin_held(held: Held, written: PegoutRecord, client: Any) -> Effects:
    """The new peg-out's first write found one of its coins reserved by another open
    peg-out: nothing was written, and it never existed."""
    return (Drop(written), *uncounted(written),
            *refuse(None, client, written.request_id, "coin_reserved",
                    f"coin {held.outpoint} is reserved by peg-out {held.request_id!r}"
                    if not held.outpoint.startswith(REPLACEMENT_OF) else
                    f"peg-out {written.replaces!r} is already being replaced by "
                    f"{held.request_id!r}").effects)


def uncounted(record: PegoutRecord) -> Effects:
    """Take a peg-out that will not pay back out of the outflow window, from where its
    series counted it (a retry counts anew when it starts)."""
    if not record.payout_sat:
        return ()
    return (CountOutflow(record.series_start, -record.payout_sat),)


def already_stored(existing: PegoutRecord, request: InitiatePegout, client: Any,
                   situation: Situation, written: PegoutRecord | None = None) -> Step:
    """The first write of the new peg-out `written` found its id in storage, under
    `existing` (a finished peg-out: the bridge keeps no ids of those). Nothing was written;
    `written` leaves memory, and the request is decided as `requested` decides it for an
    existing record: the same request is accepted again, other content is refused. The
    stored record is durable already, so the answer goes at once."""
    step = requested(existing, request, client, situation)
    effects: list[Effect] = [Drop(written), *uncounted(written)] if written is not None else []
    for effect in step.effects:
        if isinstance(effect, Persist) and effect.record is None:
            effects.extend(effect.then)  # waited for durability; it is durable
        else:
            effects.append(effect)
    return Step(existing, tuple(effects))


def not_stored(record: PegoutRecord, client: Any, reason: str) -> Effects:
    """The new peg-out's first write failed: it never existed."""
    return (Drop(record), *uncounted(record),
            *refuse(None, client, record.request_id, "storage", f"not stored: {reason}").effects)


def unreadable(request_id: str, client: Any, error: str) -> Effects:
    """The id belongs to a finished peg-out, and storage could not be read back."""
    return refuse(None, client, request_id, "storage",
                  f"could not read peg-out {request_id!r}: {error}").effects


def refuse(record: PegoutRecord | None, client: Any, request_id: str, kind: str,
           reason: str) -> Step:
    return Step(record, (Note(Event.REJECTED, request_id, kind=kind, detail=reason),
                         Reply(client, PegoutRejected(request_id, reason, kind))))


# -- governance's answers ---------------------------------------------------------------


def signature_request(record: PegoutRecord, situation: Situation) -> RequestSignatures | None:
    """What to send governance for the record's current attempt; None when nothing may be
    asked now (the peg-out is past its signatures, or signing is halted)."""
    if record.state != AWAITING.value or situation.federation is None or situation.halted:
        return None
    federation = situation.federation_for(record.federation_version)
    if isinstance(federation, str):
        return None  # retired since: the attempt runs out, and `answered` says why
    return RequestSignatures(
        request_id=governance_id(record.request_id, record.attempt),
        tx_hex=record.tx_hex, input_indices=record.input_indices, amounts=record.amounts,
        tx_type="pegout", required_signatures=federation.threshold,
        notify_queued=False,  # the attempt's timer watches it; RequestQueued would say nothing
    )


def answered(record: PegoutRecord | None, finished: bool, answer: ApplySignatures,
             attempt: int, stream: Any, situation: Situation) -> Step:
    """Governance's `ApplySignatures` for attempt `attempt` of `record`. `finished`: the id
    is a peg-out whose last state is in storage only. Every answer is confirmed `Handled`
    to the stream once what it caused is durable."""
    gid = answer.request_id
    # The stream holds the answer until then, and sends it again only if the bridge is
    # replaced or silent for half a minute: the confirmation can ride with the next
    # request to the stream rather than cost a send of its own.
    handled = Reply(stream, Handled(gid), can_wait=True)
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
        if answer.status == "timeout":  # its signers did not answer in time: later
            return transient(record, attempt, answer.status, reason, situation, then=(handled,))
        return attempt_failed(record, attempt, answer.status, reason, situation, then=(handled,))
    federation = situation.federation_for(record.federation_version)
    if isinstance(federation, str):
        return _unsignable(record, federation, situation, then=(handled,))
    try:
        signed = assemble(situation.unsigned(record), federation,
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
               situation: Situation, delay_s: float = 0.0, code: str = "") -> Step:
    """The attempt got no answer: it timed out, the stream did not take it, or governance
    answered with an error (`code`; `delay_s`: its `retry_after`)."""
    if record is None or record.state != AWAITING.value:
        return Step(record)
    if situation.halted:
        return Step(record, (Note(Event.SET_ASIDE, governance_id(record.request_id, attempt)),))
    if code in FINAL_ERROR_CODES:
        return attempt_failed(record, attempt, kind, reason, situation)
    return transient(record, attempt, kind, reason, situation, delay_s=delay_s)


def expired(record: PegoutRecord, attempt: int, situation: Situation) -> Step:
    """The bridge's own clock: the attempt has had `attempt_timeout_s` and no answer, or
    no usable one (nothing else may have reached the bridge: a lost frame, a lost timeout).
    During a halt nothing is asked, but the series deadline still runs."""
    if record.state != AWAITING.value or attempt != record.attempt:
        return Step(record)
    reason = f"no answer within {situation.rules.attempt_timeout_s:g}s"
    retired = None if situation.halted else situation.federation_for(record.federation_version)
    if isinstance(retired, str):
        return _unsignable(record, retired, situation, ())
    if situation.halted:
        if _past_deadline(record, situation):
            return _out_of_time(record, reason, situation, ())
        return Step(record, (AskSignatures(record.request_id, attempt),))  # watched again
    return transient(record, attempt, "deadline", reason, situation)


def transient(record: PegoutRecord, attempt: int, kind: str, reason: str,
              situation: Situation, then: Effects = (), delay_s: float = 0.0) -> Step:
    """A failure that says "later": ask again under a new attempt, after a pause, without
    spending a retry, until the series deadline has passed."""
    rid = record.request_id
    if attempt != record.attempt:
        return Step(record, (Note(Event.DUPLICATE_ANSWER, governance_id(rid, attempt)), *then))
    if _past_deadline(record, situation):
        return _out_of_time(record, reason, situation, then)
    rules = situation.rules
    # A timeout has waited already; anything else waits at least `transient_retry_s`, and
    # governance's retry_after is honoured only up to `max_retry_after_s`.
    pause = 0.0 if kind in ("timeout", "deadline") else rules.transient_retry_s
    pause = min(max(pause, delay_s), rules.max_retry_after_s)
    retry = transition(record, AWAITING, situation.now_s, attempt=attempt + 1, error=reason)
    return Step(retry, (
        Note(Event.TRANSIENT_FAILURE, rid, kind=kind, detail=reason, attempt=attempt,
             delay_s=pause),
        Persist(retry, then=(*then, AskSignatures(rid, retry.attempt, pause)))))


def _past_deadline(record: PegoutRecord, situation: Situation) -> bool:
    return situation.now_s - record.series_start >= situation.rules.signature_deadline_s


def _out_of_time(record: PegoutRecord, reason: str, situation: Situation,
                 then: Effects) -> Step:
    deadline = situation.rules.signature_deadline_s
    failed = transition(record, PegoutState.FAILED, situation.now_s,
                        error=f"no usable signatures within {deadline:g}s; last: {reason}")
    assert failed.error is not None
    return Step(failed, (Note(Event.FAILED, record.request_id, detail=failed.error),
                         *uncounted(failed),
                         Persist(failed, then=then, extra=(Release(record.request_id),))))


def _unsignable(record: PegoutRecord, reason: str, situation: Situation,
                then: Effects) -> Step:
    """The peg-out's federation version was retired after it was accepted: no answer can
    ever be used, so it fails now, and its coins are free again."""
    failed = transition(record, PegoutState.FAILED, situation.now_s,
                        error=f"cannot be signed: {reason}")
    assert failed.error is not None
    return Step(failed, (Note(Event.FAILED, record.request_id, detail=failed.error),
                         *uncounted(failed),
                         Persist(failed, then=then, extra=(Release(record.request_id),))))


def attempt_failed(record: PegoutRecord, attempt: int, kind: str, reason: str,
                   situation: Situation, then: Effects = (), delay_s: float = 0.0) -> Step:
    """One attempt's answer was unusable: try again, or give up when retries are spent."""
    rid = record.request_id
    if attempt != record.attempt:
        # An older attempt's bad answer: the current attempt is already on its way.
        return Step(record, (Note(Event.DUPLICATE_ANSWER, governance_id(rid, attempt)), *then))
    failures = (*record.failures, f"attempt {attempt}: {reason}")
    spent = record.series_failures + 1
    failure = Note(Event.SIGNATURE_FAILURE, rid, kind=kind, detail=reason, attempt=attempt)
    if spent <= situation.rules.signature_retries:
        retry = transition(record, AWAITING, situation.now_s, attempt=attempt + 1,
                           failures=failures, series_failures=spent, error=reason)
        ask = AskSignatures(rid, retry.attempt, delay_s)
        return Step(retry, (failure, Note(Event.RETRIED, rid, detail=reason, attempt=attempt),
                            Persist(retry, then=(*then, ask))))
    failed = transition(record, PegoutState.FAILED, situation.now_s, failures=failures,
                        series_failures=spent,
                        error=f"no usable signatures after {spent} failed attempts;"
                              f" last: {reason}")
    assert failed.error is not None
    # Never signed, so never paid: its coins are free again, and it leaves the window.
    return Step(failed, (failure, Note(Event.FAILED, rid, detail=failed.error),
                         *uncounted(failed), Persist(failed, then=then,
                                                      extra=(Release(rid),))))


def next_attempt(record: PegoutRecord, situation: Situation) -> Step:
    """Ask governance again under a new id `<request_id>/<attempt + 1>`: the stream drops an
    answer to an id it has already routed, so a request id is never used twice."""
    record = transition(record, AWAITING, situation.now_s, attempt=record.attempt + 1)
    return Step(record, (Persist(record, then=(AskSignatures(record.request_id,
                                                             record.attempt),)),))


def retry(record: PegoutRecord | None, request_id: str, client: Any,
          situation: Situation) -> Step:
    """A client's `RetryPegout`: a failed peg-out that was never signed asks again, as a new
    series (retries and deadline afresh) under its next attempt; its history stays."""
    if record is None:
        return refuse(None, client, request_id, "unknown", f"no peg-out {request_id!r}")
    if record.state != PegoutState.FAILED.value:
        return refuse(record, client, request_id, "not_failed",
                      f"peg-out {request_id!r} is {record.state}, not failed")
    if record.signed_tx_hex is not None:
        # It was signed once: that transaction may have been paid. Never sign it again.
        return refuse(record, client, request_id, "was_signed",
                      f"peg-out {request_id!r} was signed (txid {record.txid}); it may have "
                      "been paid, so it is not retried")
    if situation.drain is not None:
        return refuse(record, client, request_id, "draining", situation.drain.refusal())
    if situation.halted:
        return refuse(record, client, request_id, "halted", "signing is halted")
    spent = situation.federation_for(record.federation_version)
    if isinstance(spent, str):  # retired since it was accepted: no answer could be used
        return refuse(record, client, request_id, "federation_version", spent)
    # A retried replacement is held to the whole window, not only to what it adds to its
    # original: the original may be long settled.
    blocked = situation.outflow(situation.now_s, record.payout_sat)
    if blocked is not None:
        return refuse(record, client, request_id, "outflow", blocked)
    again = transition(record, AWAITING, situation.now_s, attempt=record.attempt + 1,
                       series_failures=0, series_started_at=situation.now_s, error=None)
    # Its coins were given back when it failed: they are claimed again with the new series
    # (`reclaim`); if another peg-out holds one now, nothing is written (`reclaim_refused`).
    coins = outpoints(situation.unsigned(record))
    if record.replaces is not None:
        coins = (*coins, REPLACEMENT_OF + record.replaces)
    claim = Claim(request_id, coins, shares_with=record.replaces, at=situation.now_s)
    counted = (CountOutflow(situation.now_s, record.payout_sat),)
    return Step(again, (Note(Event.RETRY_STARTED, request_id, attempt=again.attempt), *counted,
                        Persist(again, then=(Reply(client, PegoutAccepted(request_id)),
                                             AskSignatures(request_id, again.attempt)),
                                extra=(claim,), reclaim=True, refused_for=client)))


def reclaim_refused(again: PegoutRecord, held: Held, client: Any,
                    situation: Situation) -> Step:
    """A `RetryPegout`'s write found a coin of the peg-out held by another peg-out: nothing
    was written, and storage still holds it `failed` (which memory does not keep)."""
    reason = (f"coin {held.outpoint} is reserved by peg-out {held.request_id!r} now"
              if not held.outpoint.startswith(REPLACEMENT_OF) else
              f"peg-out {again.replaces!r} is being replaced by {held.request_id!r} now")
    return Step(None, (Drop(again), *uncounted(again),
                       *refuse(None, client, again.request_id, "coin_reserved",
                               reason).effects))


def halt_lifted(record: PegoutRecord, situation: Situation) -> Step:
    """The emergency halt is over. Answers that came during it were set aside, so an open
    peg-out asks again under a new attempt; a signed one is broadcast."""
    if record.state == AWAITING.value:
        return next_attempt(record, situation)
    if record.state == SIGNED.value:
        return Step(record, (Broadcast(record.request_id),))
    return Step(record)
