"""BridgeActor: the peg-out signature flow and peg-in notices, every step persisted first.

Peg-outs: `InitiatePegout` is checked (btc.pegout), stored as
`awaiting_signatures`, answered `PegoutAccepted`, and only then is
`RequestSignatures` (governance id `<request_id>/<attempt>`) sent to the
StreamActor. Governance's `ApplySignatures` is verified against the
federation in force (btc.signing); a usable answer is stored as `signed`,
broadcast, stored as `broadcast`, and reported to the ChainActor with
`PegoutCompleted`. An unusable answer, a governance error or a timeout uses
up an attempt until `bridge.signature_retries` are spent, then `failed`.

Peg-ins: `NotifyPegin` is checked (btc.pegin), stored, answered, and sent to
the StreamActor until governance acknowledges it (`Delivered`).

After its own start and after every StreamActor restart the bridge re-sends
what is still open (peg-outs awaiting signatures, unacknowledged peg-ins), in
batches, paced. During an emergency halt nothing is signed or broadcast.

Only open peg-outs are held in memory. Once a peg-out's `broadcast` or
`failed` state is committed, the bridge keeps just its request id; a status
query, a listing of finished peg-outs, or a request that reuses the id reads
the record back from storage (`_Fetch`).
"""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from typing import Any

from actors.bridge import metrics
from actors.bridge.broadcast import BroadcastError, make_broadcaster
from actors.bridge.ledger import (
    PegoutState,
    governance_id,
    same_request,
    split_governance_id,
    status_of,
    transition,
)
from actors.lifecycle import _Start
from actors.messages import (
    ApplySignatures,
    Batch,
    Delivered,
    FederationChanged,
    GetPegoutStatus,
    GovernanceError,
    Handled,
    InitiatePegout,
    ListPegouts,
    NotifyPegin,
    PeginAccepted,
    PeginRejected,
    PegoutAccepted,
    PegoutCompleted,
    PegoutList,
    PegoutRejected,
    PegoutStatus,
    RequestQueued,
    RequestRejected,
    RequestSignatures,
    RequestTimedOut,
)
from actors.owner import OwnerActor
from actors.storage.records import (
    FINISHED_PEGOUT_STATES,
    FederationRecord,
    FinishedPegouts,
    PeginRecord,
    PegoutRecord,
)
from btc.errors import BtcError, SignaturesInvalid
from btc.federation import Federation
from btc.pegin import validate_pegin
from btc.pegout import UnsignedPegout, parse_pegout
from btc.signing import assemble

AWAITING = PegoutState.AWAITING_SIGNATURES.value
SIGNED = PegoutState.SIGNED.value
# Re-sends after a StreamActor restart go out this many per Thespian send, one
# send per turn: thousands may be open, and a burst of single sends from one
# receiveMessage is throttled and then dropped by Thespian.
RESEND_BATCH = 250
RESEND_PAUSE_S = 0.02
BROADCAST_RETRY_S = 2.0
PEGIN_RETRY_S = 5.0


class _ResendDue:
    """Wakeup payload: send the next slice of re-sends."""


class _BroadcastDue:
    """Wakeup payload: try the signed, not yet broadcast peg-outs again."""


class _RequestDue:
    """Wakeup payload: (re)send the current attempt of these peg-outs or peg-ins."""

    def __init__(self, request_ids: tuple[str, ...]) -> None:
        self.request_ids = request_ids


class BridgeActor(OwnerActor):
    name = "bridge"
    owner = "bridge"
    needs_state = (InitiatePegout, ApplySignatures, NotifyPegin, Delivered, GetPegoutStatus,
                   ListPegouts, RequestTimedOut, RequestRejected, GovernanceError,
                   FederationChanged)

    def __init__(self) -> None:
        super().__init__()
        self.pegouts: dict[str, PegoutRecord] = {}  # open ones: awaiting, signed
        self.finished: set[str] = set()  # request ids of broadcast and failed ones (SQLite)
        self.pegins: dict[str, PeginRecord] = {}
        self.federation: Federation | None = None
        self._parsed: dict[str, UnsignedPegout] = {}
        self._to_broadcast: list[str] = []
        self._resend: deque[Any] = deque()
        self._resend_armed = False
        self._broadcast_armed = False
        self.broadcaster: Any = None
        self.awaiting = 0  # peg-outs awaiting signatures, for the gauge
        # PegoutCompleted notices the ChainActor has not confirmed yet: sent again to a
        # restarted chain. Kept in memory only: the chain's use of them is a count.
        self._completions: dict[str, str] = {}

    def on_start(self, start: _Start) -> None:
        self.broadcaster = make_broadcaster(self.config.bridge.broadcaster)

    def on_stop(self) -> None:
        close = getattr(self.broadcaster, "close", None)
        if close is not None:
            close()

    # -- state ----------------------------------------------------------------------

    def on_loaded(self, records: tuple[Any, ...]) -> None:
        for record in records:
            if isinstance(record, PegoutRecord):
                self.pegouts[record.request_id] = record
            elif isinstance(record, FinishedPegouts):
                self.finished.update(record.request_ids)
            elif isinstance(record, PeginRecord):
                self.pegins[record.request_id] = record
            elif isinstance(record, FederationRecord):
                self._set_federation(Federation(record.version, record.members,
                                                record.threshold,
                                                halted=record.update_type == "emergency_halt"))
        counts = self._counts()
        self.log.info("loaded %d open peg-outs (%s), %d finished ones (left in storage) and "
                      "%d peg-ins; federation version %s",
                      len(self.pegouts), counts, len(self.finished), len(self.pegins),
                      self.federation.version if self.federation else "none")
        self.awaiting = sum(1 for r in self.pegouts.values() if r.state == AWAITING)
        self._to_broadcast.extend(r for r, p in self.pegouts.items() if p.state == SIGNED)
        self._queue_resends()

    def _counts(self) -> str:
        counts: dict[str, int] = {}
        for record in self.pegouts.values():
            counts[record.state] = counts.get(record.state, 0) + 1
        return ", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "none"

    def _set_federation(self, federation: Federation) -> None:
        self.federation = federation
        metrics.HALTED.set(1 if federation.halted else 0)

    def on_peer_changed(self, name: str, address: Any) -> None:
        if name == "stream" and self.loaded:
            self._queue_resends()
        if name == "chain" and self._completions:
            self.send(address, Batch(tuple(PegoutCompleted(rid, txid)
                                           for rid, txid in self._completions.items())))

    def after_messages(self) -> None:
        if self._to_broadcast:
            self._broadcast_signed()
        metrics.AWAITING.set(self.awaiting)

    def _persist(self, record: PegoutRecord, then: Any = None, otherwise: Any = None) -> None:
        previous = self.pegouts.get(record.request_id)
        self.awaiting += ((record.state == AWAITING)
                          - (previous is not None and previous.state == AWAITING))
        self.pegouts[record.request_id] = record
        if record.state != AWAITING:
            # The parsed unsigned transaction serves only to check signatures: a peg-out
            # past them would otherwise keep it for the life of the process.
            self._parsed.pop(record.request_id, None)
        if record.state in FINISHED_PEGOUT_STATES:
            then = self._forget_when_committed(record, then)
        self.store.write([record], then=then, otherwise=otherwise)

    def _forget_when_committed(self, record: PegoutRecord, then: Any) -> Any:
        """A finished peg-out leaves memory once its last state is durable: from then on
        it is read back from storage when asked for."""
        def committed() -> None:
            if then is not None:
                then()
            if self.pegouts.get(record.request_id) is record:
                del self.pegouts[record.request_id]
                self.finished.add(record.request_id)
        return committed

    # -- peg-outs: accepting ----------------------------------------------------------

    def receiveMsg_InitiatePegout(self, message: InitiatePegout, sender: Any) -> None:
        rid = message.request_id
        existing = self.pegouts.get(rid)
        if existing is None and rid in self.finished:
            self.fetches.fetch(self._storage, self._reused(message, sender), request_id=rid)
            return
        if existing is not None:
            if same_request(existing, message.tx_hex, message.input_indices, message.amounts):
                # The same request again: accepted again, once what is stored is committed.
                self.store.write([], then=lambda: self.send(sender, PegoutAccepted(rid)))
            else:
                self._refuse(sender, rid, "duplicate",
                             f"request id {rid!r} is already used by a different peg-out")
            return
        if not rid:
            self._refuse(sender, rid, "request_id", "request_id is empty")
            return
        if self.federation is None:
            self._refuse(sender, rid, "no_federation", "no federation yet")
            return
        if self.federation.halted:
            self._refuse(sender, rid, "halted",
                         f"emergency halt in force (federation version {self.federation.version})")
            return
        try:
            pegout = parse_pegout(message.tx_hex, message.input_indices, message.amounts,
                                  max_pegout_sat=self.config.bridge.max_pegout_sat)
        except BtcError as exc:
            self._refuse(sender, rid, "invalid", str(exc))
            return
        now = time.time()
        record = PegoutRecord(
            request_id=rid, tx_hex=pegout.tx_hex, input_indices=pegout.input_indices,
            amounts=pegout.amounts, state=AWAITING, attempt=1,
            signatures_required=self.federation.threshold * len(pegout.input_indices),
            txid=pegout.txid, created_at=now, updated_at=now,
        )
        self._parsed[rid] = pegout

        def accepted() -> None:
            metrics.PEGOUTS.labels(event="accepted").inc()
            self.send(sender, PegoutAccepted(rid))
            self._request_signatures(self.pegouts[rid])

        def not_stored(reason: str) -> None:
            if self.pegouts.get(rid) is record:
                del self.pegouts[rid]
                self._parsed.pop(rid, None)
                self.awaiting -= 1
            self._refuse(sender, rid, "storage", f"not stored: {reason}")

        self._persist(record, then=accepted, otherwise=not_stored)

    def _reused(self, message: InitiatePegout, sender: Any) -> Any:
        """The answer to an `InitiatePegout` whose id belongs to a finished peg-out."""
        rid = message.request_id

        def answer(records: tuple[Any, ...] | None, error: str | None) -> None:
            if records is None:
                self._refuse(sender, rid, "storage", f"could not read peg-out {rid!r}: {error}")
            elif records and same_request(records[0], message.tx_hex, message.input_indices,
                                          message.amounts):
                self.send(sender, PegoutAccepted(rid))  # the same request again
            else:
                self._refuse(sender, rid, "duplicate",
                             f"request id {rid!r} is already used by a different peg-out")
        return answer

    def _refuse(self, sender: Any, rid: str, kind: str, reason: str) -> None:
        metrics.PEGOUTS.labels(event="rejected").inc()
        metrics.REJECTED.labels(reason=kind).inc()
        self.log.info("peg-out %s rejected: %s", rid, reason)
        self.send(sender, PegoutRejected(rid, reason))

    def _request_signatures(self, record: PegoutRecord) -> None:
        stream = self.peers.get("stream")
        if stream is None or record.state != AWAITING or self.federation is None:
            return  # sent when the stream appears, or when the halt is lifted
        if self.federation.halted:
            return
        self.send(stream, self._signature_request(record))

    def _signature_request(self, record: PegoutRecord) -> RequestSignatures:
        assert self.federation is not None
        return RequestSignatures(
            request_id=governance_id(record.request_id, record.attempt),
            tx_hex=record.tx_hex, input_indices=record.input_indices, amounts=record.amounts,
            tx_type="pegout", required_signatures=self.federation.threshold,
        )

    # -- peg-outs: governance's answers -----------------------------------------------

    def receiveMsg_ApplySignatures(self, message: ApplySignatures, sender: Any) -> None:
        target = self._open_pegout(message.request_id)
        if target is None:
            self.send(sender, Handled(message.request_id))
            return
        record, attempt = target
        assert self.federation is not None
        if message.status == "pending":
            self.send(sender, Handled(message.request_id))  # not an answer yet
            return
        if message.status != "complete":
            reason = f"governance answered {message.status}"
            if message.failure_reason:
                reason += f": {message.failure_reason}"
            self._attempt_failed(record, attempt, message.status, reason,
                                 then=self._handled(sender, message.request_id))
            return
        try:
            signed = assemble(self._unsigned(record), self.federation,
                              [(w.signature, w.public_key, w.sig_type)
                               for w in message.signatures])
        except SignaturesInvalid as exc:
            self._attempt_failed(record, attempt, exc.kind, f"unusable signatures: {exc}",
                                 then=self._handled(sender, message.request_id))
            return
        record = transition(record, PegoutState.SIGNED, time.time(),
                            signed_tx_hex=signed.tx_hex, txid=signed.txid,
                            signatures_collected=len(message.signatures), error=None)
        metrics.PEGOUTS.labels(event="signed").inc()
        self._persist(record, then=self._handled(sender, message.request_id, broadcast=record))

    def _handled(self, sender: Any, governance_request_id: str,
                 broadcast: PegoutRecord | None = None) -> Any:
        def committed() -> None:
            if broadcast is not None:
                self._to_broadcast.append(broadcast.request_id)
            self.send(sender, Handled(governance_request_id))
        return committed

    def _open_pegout(self, governance_request_id: str) -> tuple[PegoutRecord, int] | None:
        """The awaiting peg-out an answer is for, or None (answer is stale or unknown)."""
        parsed = split_governance_id(governance_request_id)
        record = self.pegouts.get(parsed[0]) if parsed else None
        if parsed is not None and record is None and parsed[0] in self.finished:
            metrics.DUPLICATE_ANSWERS.inc()
            self.log.debug("answer %s for a finished peg-out: ignored", governance_request_id)
            return None
        if parsed is None or record is None:
            self.log.warning("an answer for %r, which is no peg-out of this node",
                             governance_request_id)
            return None
        if record.state != AWAITING:
            metrics.DUPLICATE_ANSWERS.inc()
            self.log.debug("answer %s for peg-out already %s: ignored", governance_request_id,
                           record.state)
            return None
        if self.federation is None or self.federation.halted:
            # Nothing is signed during a halt; the lift re-requests every open peg-out.
            self.log.info("answer %s set aside: emergency halt", governance_request_id)
            return None
        return record, parsed[1]

    def _unsigned(self, record: PegoutRecord) -> UnsignedPegout:
        pegout = self._parsed.get(record.request_id)
        if pegout is None:
            pegout = parse_pegout(record.tx_hex, record.input_indices, record.amounts,
                                  max_pegout_sat=max(sum(record.amounts), 1))
            self._parsed[record.request_id] = pegout
        return pegout

    def _attempt_failed(self, record: PegoutRecord, attempt: int, kind: str, reason: str,
                        then: Any = None, delay_s: float = 0.0) -> None:
        """One attempt's answer was unusable: try again, or give up when retries are spent."""
        if attempt != record.attempt:
            # An older attempt's bad answer: the current attempt is already on its way.
            metrics.DUPLICATE_ANSWERS.inc()
            if then is not None:
                then()
            return
        metrics.SIGNATURE_FAILURES.labels(reason=kind).inc()
        failures = (*record.failures, f"attempt {attempt}: {reason}")
        if len(failures) <= self.config.bridge.signature_retries:
            metrics.PEGOUTS.labels(event="retried").inc()
            self.log.warning("peg-out %s attempt %d failed (%s); attempt %d follows",
                             record.request_id, attempt, reason, attempt + 1)
            self._next_attempt(record, then=then, delay_s=delay_s, failures=failures,
                               error=reason)
            return
        record = transition(record, PegoutState.FAILED, time.time(), failures=failures,
                            error=f"no usable signatures after {len(failures)} failed attempts;"
                                  f" last: {reason}")
        metrics.PEGOUTS.labels(event="failed").inc()
        self.log.error("peg-out %s failed: %s", record.request_id, record.error)
        self._persist(record, then=then)

    def _next_attempt(self, record: PegoutRecord, then: Any = None, delay_s: float = 0.0,
                      **changes: Any) -> None:
        """Ask governance again under a new id `<request_id>/<attempt + 1>`: the stream
        drops an answer to an id it has already routed, so a request is never re-used
        once its answer was handled."""
        record = transition(record, PegoutState.AWAITING_SIGNATURES, time.time(),
                            attempt=record.attempt + 1, **changes)

        def request() -> None:
            if then is not None:
                then()
            if delay_s > 0:
                self.wakeupAfter(delay_s, payload=_RequestDue((record.request_id,)))
            else:
                self._request_signatures(self.pegouts[record.request_id])
        self._persist(record, then=request)

    def receiveMsg_RequestTimedOut(self, message: RequestTimedOut, sender: Any) -> None:
        self._request_problem(message.request_id, "timeout", "governance did not answer in time")

    def receiveMsg_RequestRejected(self, message: RequestRejected, sender: Any) -> None:
        self._request_problem(message.request_id, "stream_rejected",
                              f"the stream did not take the request: {message.reason}")

    def receiveMsg_GovernanceError(self, message: GovernanceError, sender: Any) -> None:
        self._request_problem(message.request_id, "governance_error",
                              f"governance error {message.code}: {message.message}",
                              delay_s=message.retry_after_s or 0.0)

    def _request_problem(self, request_id: str, kind: str, reason: str,
                         delay_s: float = 0.0) -> None:
        if request_id in self.pegins:
            if not self.pegins[request_id].acknowledged:
                self.log.warning("peg-in notice %s: %s; sent again in %.0f s", request_id,
                                 reason, max(delay_s, PEGIN_RETRY_S))
                self.wakeupAfter(max(delay_s, PEGIN_RETRY_S), payload=_RequestDue((request_id,)))
            return
        target = self._open_pegout(request_id)
        if target is not None:
            self._attempt_failed(target[0], target[1], kind, reason, delay_s=delay_s)

    def receiveMsg_Handled(self, message: Handled, sender: Any) -> None:
        self._completions.pop(message.request_id, None)  # the chain has the PegoutCompleted

    def receiveMsg_RequestQueued(self, message: RequestQueued, sender: Any) -> None:
        pass  # the stream has it; the answer comes as ApplySignatures or Delivered

    # -- peg-outs: broadcasting -------------------------------------------------------

    def _broadcast_signed(self) -> None:
        ready = [record for r in dict.fromkeys(self._to_broadcast)
                 if (record := self.pegouts.get(r)) is not None and record.state == SIGNED]
        self._to_broadcast = []
        if not ready:
            return
        if self.federation is not None and self.federation.halted:
            self.log.info("%d signed peg-outs wait for the emergency halt to be lifted",
                          len(ready))
            return
        try:
            self.broadcaster.broadcast_many([(r.signed_tx_hex, r.txid) for r in ready])
            done = ready
        except BroadcastError:
            done = [r for r in ready if self._broadcast_one(r)]
        if done:
            self.log.info("broadcast %d peg-out%s: %s", len(done), "s" if len(done) > 1 else "",
                          ", ".join(f"{r.request_id} {r.txid}" for r in done[:3])
                          + (", …" if len(done) > 3 else ""))
        now = time.time()
        for record in done:
            record = transition(record, PegoutState.BROADCAST, now)
            metrics.PEGOUTS.labels(event="broadcast").inc()
            self._persist(record, then=self._completed(record))

    def _broadcast_one(self, record: PegoutRecord) -> bool:
        try:
            self.broadcaster.broadcast(record.signed_tx_hex, record.txid)
            return True
        except BroadcastError as exc:
            metrics.BROADCAST_ERRORS.labels(retryable=str(exc.retryable).lower()).inc()
            if not exc.retryable:
                failed = transition(record, PegoutState.FAILED, time.time(),
                                    error=f"broadcast refused: {exc}")
                metrics.PEGOUTS.labels(event="failed").inc()
                self.log.error("peg-out %s: broadcast refused: %s", record.request_id, exc)
                self._persist(failed)
                return False
            self.log.warning("peg-out %s: broadcast failed, retrying in %.0f s: %s",
                             record.request_id, BROADCAST_RETRY_S, exc)
            if not self._broadcast_armed:
                self._broadcast_armed = True
                self.wakeupAfter(BROADCAST_RETRY_S, payload=_BroadcastDue())
            return False

    def _completed(self, record: PegoutRecord) -> Any:
        def committed() -> None:
            # Per peg-out at DEBUG: at INFO, `_broadcast_signed`'s one line per batch is
            # enough, and a line per peg-out was a fifth of a busy bridge's time.
            self.log.debug("peg-out %s broadcast: txid %s", record.request_id, record.txid)
            self._completions[record.request_id] = record.txid or ""
            chain = self.peers.get("chain")
            if chain is not None:
                self.send(chain, PegoutCompleted(record.request_id, record.txid or ""))
        return committed

    # -- peg-ins ----------------------------------------------------------------------

    def receiveMsg_NotifyPegin(self, message: NotifyPegin, sender: Any) -> None:
        rid = message.request_id
        existing = self.pegins.get(rid)
        if existing is not None:
            same = (existing.btc_txid, existing.vout, existing.amount, existing.evm_address) == (
                message.btc_txid.lower(), message.vout, message.amount, message.evm_address)
            if same:
                self.store.write([], then=lambda: self.send(sender, PeginAccepted(rid)))
            else:
                metrics.PEGINS.labels(event="rejected").inc()
                self.send(sender, PeginRejected(
                    rid, f"request id {rid!r} is already used by a different peg-in"))
            return
        try:
            if not rid:
                raise BtcError("request_id is empty")
            validate_pegin(message.btc_txid, message.vout, message.amount, message.evm_address,
                           message.confirmations,
                           min_confirmations=self.config.bridge.min_pegin_confirmations)
        except BtcError as exc:
            metrics.PEGINS.labels(event="rejected").inc()
            self.log.info("peg-in %s rejected: %s", rid, exc)
            self.send(sender, PeginRejected(rid, str(exc)))
            return
        record = PeginRecord(rid, message.btc_txid.lower(), message.vout, message.amount,
                             message.evm_address, message.confirmations, created_at=time.time())
        self.pegins[rid] = record

        def accepted() -> None:
            metrics.PEGINS.labels(event="accepted").inc()
            self.send(sender, PeginAccepted(rid))
            stream = self.peers.get("stream")
            if stream is not None:
                self.send(stream, _notice(record))

        def not_stored(reason: str) -> None:
            self.pegins.pop(rid, None)
            self.send(sender, PeginRejected(rid, f"not stored: {reason}"))

        self.store.write([record], then=accepted, otherwise=not_stored)

    def receiveMsg_Delivered(self, message: Delivered, sender: Any) -> None:
        record = self.pegins.get(message.request_id)
        if record is None or record.acknowledged:
            return
        record = dataclasses.replace(record, acknowledged=True, revision=record.revision + 1)
        self.pegins[record.request_id] = record
        metrics.PEGINS.labels(event="delivered").inc()
        self.store.write([record])

    # -- federation -----------------------------------------------------------------

    def receiveMsg_FederationChanged(self, message: FederationChanged, sender: Any) -> None:
        self.send(sender, Handled(f"federation/{message.version}"))
        if self.federation is not None and message.version <= self.federation.version:
            return  # announced again (after a restart), or overtaken by a newer version
        was_halted = self.federation is not None and self.federation.halted
        self._set_federation(Federation(message.version, message.members, message.threshold,
                                        halted=message.halted))
        self.log.info("federation version %d: %d-of-%d at %s%s", message.version,
                      message.threshold, sum(1 for m in message.members if m.active),
                      message.address, " (EMERGENCY HALT)" if message.halted else "")
        if was_halted and not message.halted:
            # Answers that came during the halt were set aside (and confirmed to the
            # stream): each open peg-out asks again, under a new attempt.
            awaiting = [r for r in self.pegouts.values() if r.state == AWAITING]
            self.log.info("emergency halt lifted: %d peg-outs ask for signatures again, "
                          "signed ones are broadcast", len(awaiting))
            self._to_broadcast.extend(r for r, p in self.pegouts.items() if p.state == SIGNED)
            for record in awaiting:
                self._next_attempt(record)

    # -- re-sending -------------------------------------------------------------------

    def _queue_resends(self, pegins: bool = True) -> None:
        """Queue every open request for the stream; sent a slice per turn."""
        if self.federation is not None and not self.federation.halted:
            self._resend.extend(self._signature_request(r) for r in self.pegouts.values()
                                if r.state == AWAITING)
        if pegins:
            self._resend.extend(_notice(r) for r in self.pegins.values() if not r.acknowledged)
        if self._resend:
            self.log.info("sending %d open requests to the stream", len(self._resend))
            self._pump_resends()

    def _pump_resends(self) -> None:
        stream = self.peers.get("stream")
        if stream is None or not self._resend:
            return
        count = min(RESEND_BATCH, len(self._resend))
        self.send(stream, Batch(tuple(self._resend.popleft() for _ in range(count))))
        if self._resend and not self._resend_armed:
            self._resend_armed = True
            self.wakeupAfter(RESEND_PAUSE_S, payload=_ResendDue())

    def on_wakeup(self, payload: Any) -> None:
        if isinstance(payload, _ResendDue):
            self._resend_armed = False
            self._pump_resends()
        elif isinstance(payload, _BroadcastDue):
            self._broadcast_armed = False
            self._to_broadcast.extend(r for r, p in self.pegouts.items() if p.state == SIGNED)
        elif isinstance(payload, _RequestDue):
            stream = self.peers.get("stream")
            for rid in payload.request_ids:
                if rid in self.pegins and not self.pegins[rid].acknowledged and stream:
                    self.send(stream, _notice(self.pegins[rid]))
                elif rid in self.pegouts:
                    self._request_signatures(self.pegouts[rid])

    # -- queries ----------------------------------------------------------------------

    def receiveMsg_GetPegoutStatus(self, message: GetPegoutStatus, sender: Any) -> None:
        rid = message.request_id
        record = self.pegouts.get(rid)
        if record is not None or rid not in self.finished:
            self.send(sender, status_of(record) if record else PegoutStatus(rid, "unknown"))
            return

        def answer(records: tuple[Any, ...] | None, error: str | None) -> None:
            if records:
                self.send(sender, status_of(records[0]))
            else:
                self.send(sender, PegoutStatus(rid, "unknown", error=error and
                                               f"could not read peg-out {rid!r}: {error}"))
        self.fetches.fetch(self._storage, answer, request_id=rid)

    def receiveMsg_ListPegouts(self, message: ListPegouts, sender: Any) -> None:
        wanted = message.state
        if wanted is not None and wanted not in FINISHED_PEGOUT_STATES:
            # Every open peg-out is in memory.
            self.send(sender, PegoutList(tuple(status_of(r) for r in self.pegouts.values()
                                               if r.state == wanted)))
            return

        def answer(records: tuple[Any, ...] | None, error: str | None) -> None:
            merged = {r.request_id: r for r in records or ()}
            merged.update(self.pegouts)  # memory is as new as storage, or newer
            if error:
                self.log.error("listing peg-outs: could not read storage: %s", error)
            self.send(sender, PegoutList(tuple(status_of(r) for r in merged.values()
                                               if wanted in (None, r.state))))
        self.fetches.fetch(self._storage, answer, state=wanted)


def _notice(record: PeginRecord) -> NotifyPegin:
    return NotifyPegin(record.request_id, record.btc_txid, record.vout, record.amount,
                       record.evm_address, record.confirmations)
