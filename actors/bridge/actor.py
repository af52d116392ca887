"""BridgeActor: carries out the peg-out and peg-in workflows, every step persisted first.

The decisions are the pure workflows' (`workflow` for peg-outs, `pegins` for
peg-in notices): this actor turns each message into a call, with the
`Situation` it is in, and carries out the effects that come back, in order
(`_carry_out`). What must wait for durability waits inside `Persist.then`, so
nothing is acted on before its record is committed. Metrics and log lines come
from the workflows' `Note`s (`observe`).

Besides, the actor does what needs a process: it keeps the federation in force
(from the chain's `FederationChanged`), batches broadcasts per turn, re-sends
open requests after a StreamActor restart (paced, in slices), re-sends
`PegoutCompleted` notices to a restarted chain, and reads a finished peg-out
back from storage when a query or a reused id needs it (`book`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from thespian.actors import ActorExitRequest

from actors.bridge import metrics, pegins, queries, workflow
from actors.bridge.book import AttemptClock, Book
from actors.bridge.broadcast import (
    Broadcaster,
    BroadcastError,
    SpoolBroadcaster,
    make_broadcaster,
)
from actors.bridge.effects import (
    AskSignatures,
    Broadcast,
    BroadcastLater,
    Drop,
    Effects,
    Note,
    NotifyChain,
    Persist,
    Reply,
    SendNotice,
)
from actors.bridge.handover import hand_over
from actors.bridge.ledger import split_governance_id
from actors.bridge.observe import observe
from actors.bridge.resends import ResendDue, Resends
from actors.bridge.spoolmarks import SpoolMarks
from actors.bridge.workflow import Rules, Situation
from actors.lifecycle import _FatalError, _Start
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
    Member,
    NotifyPegin,
    PegoutCompleted,
    PegoutState,
    RequestQueued,
    RequestRejected,
    RequestTimedOut,
    RetryPegout,
)
from actors.owner import OwnerActor
from actors.storage.records import SPOOL_READ_FROM, MetaValue, PeginRecord, PegoutRecord
from btc.federation import Federation

BROADCAST_RETRY_S = 2.0
# The attempt clock is looked at no more often than this: a peg-out's attempt lasts a
# minute or more, so half a second late is nothing, and bursts share one wakeup.
ATTEMPT_SWEEP_MIN_S = 0.5


class _BroadcastDue:
    """Wakeup payload: try the signed, not yet broadcast peg-outs again."""


class _AttemptsDue:
    """Wakeup payload: end the attempts that had their time (`AttemptClock`)."""


class _RequestDue:
    """Wakeup payload: (re)send the current attempt of these peg-outs or peg-ins."""

    def __init__(self, request_ids: tuple[str, ...]) -> None:
        self.request_ids = request_ids


class BridgeActor(OwnerActor):
    name = "bridge"
    owner = "bridge"
    needs_state = (InitiatePegout, RetryPegout, ApplySignatures, NotifyPegin, Delivered,
                   GetPegoutStatus, ListPegouts, RequestTimedOut, RequestRejected, GovernanceError,
                   FederationChanged)

    def __init__(self) -> None:
        super().__init__()
        self.book = Book()
        self.clock = AttemptClock()
        self._sweep_armed = False
        self.federation: Federation[Member] | None = None
        self.rules = Rules(max_pegout_sat=0, signature_retries=0)  # from the config at start
        self.broadcaster: Broadcaster | None = None
        self._to_broadcast: list[str] = []
        self.resends = Resends(self.send,
                               lambda delay_s, payload: self.wakeupAfter(delay_s, payload=payload))
        self._broadcast_armed = False
        # PegoutCompleted notices the ChainActor has not confirmed yet: sent again to a
        # restarted chain. Kept in memory only: the chain's use of them is a count.
        self._completions: dict[str, str] = {}
        # New records whose first write (insert if absent) is not answered yet, by kind and
        # id: a request for the same id meanwhile waits here, to be decided once storage
        # has said whether the id was free.
        self._first_writes: dict[tuple[str, str], list[Callable[[], None]]] = {}
        self.marks: SpoolMarks | None = None  # spool broadcasters only
        self._read_from_written = -1

    def on_start(self, start: _Start) -> None:
        self.rules = Rules.of(self.config)
        # A spool is opened and locked here, and read (from where the stored offset says)
        # once the state is loaded.
        self.broadcaster = make_broadcaster(self.config.bridge.broadcaster)

    def on_stop(self) -> None:
        close = getattr(self.broadcaster, "close", None)
        if close is not None:
            close()

    def situation(self) -> Situation:
        return Situation(self.federation, self.rules, time.time(), self.book.unsigned)

    # -- carrying out ---------------------------------------------------------------

    def _carry_out(self, effects: Effects) -> None:
        for effect in effects:
            match effect:
                case Note():
                    observe(effect, self.log)
                case Reply(to=to, message=message):
                    self.send(to, message)
                case Persist():
                    self._persist(effect)
                case AskSignatures():
                    self._ask(effect)
                case Broadcast(request_id=request_id):
                    self._to_broadcast.append(request_id)
                case BroadcastLater():
                    if not self._broadcast_armed:
                        self._broadcast_armed = True
                        self.wakeupAfter(BROADCAST_RETRY_S, payload=_BroadcastDue())
                case NotifyChain(request_id=request_id, txid=txid):
                    self._completions[request_id] = txid
                    chain = self.peers.get("chain")
                    if chain is not None:
                        self.send(chain, PegoutCompleted(request_id, txid))
                case SendNotice(record=record, delay_s=delay_s):
                    self._send_notice(record, delay_s)
                case Drop(record=record):
                    self.book.drop(record)

    def _persist(self, effect: Persist) -> None:
        record = effect.record
        if record is not None:
            self.book.put(record)
        first = _first_key(record) if effect.request is not None else None
        if first is not None:
            self._first_writes.setdefault(first, [])

        def committed() -> None:
            self._carry_out(effect.then)
            if record is not None:
                self.book.committed(record)
                if (self.marks is not None and isinstance(record, PegoutRecord)
                        and record.state != PegoutState.SIGNED.value):
                    self.marks.committed(record.request_id)
            self._first_settled(first)

        def refused(reason: str) -> None:
            assert record is not None
            if isinstance(record, PegoutRecord):
                self._carry_out(workflow.not_stored(record, effect.refused_for, reason))
            else:
                self._carry_out(pegins.not_stored(record, effect.refused_for, reason))
            self._first_settled(first)

        def found(stored: Any) -> None:
            # The id was taken in storage: nothing was written, `then` is not carried out.
            if isinstance(record, PegoutRecord) and isinstance(stored, PegoutRecord):
                self._carry_out(workflow.already_stored(stored, effect.request,
                                                        effect.refused_for, self.situation(),
                                                        written=record).effects)
            elif isinstance(record, PeginRecord) and isinstance(stored, PeginRecord):
                self._carry_out(pegins.already_stored(stored, effect.request,
                                                      effect.refused_for, written=record))
            self._first_settled(first)

        new = record is not None and effect.refused_for is not None
        self.store.write([record] if record is not None else [], then=committed,
                         otherwise=refused if new else None,
                         found=found if first is not None else None)

    def _first_settled(self, key: tuple[str, str] | None) -> None:
        """Storage has answered a new record's first write: handle what waited for it."""
        if key is None:
            return
        for handle in self._first_writes.pop(key, ()):
            handle()

    def _waits_for_first_write(self, key: tuple[str, str], handle: Callable[[], None]) -> bool:
        """Whether the id's first write is unanswered; if so, `handle` runs once it is."""
        waiting = self._first_writes.get(key)
        if waiting is None:
            return False
        waiting.append(handle)
        return True

    def _ask(self, effect: AskSignatures) -> None:
        record = self.book.pegouts.get(effect.request_id)
        if record is None or record.attempt != effect.attempt:
            return  # finished meanwhile, or a newer attempt asks for itself
        self._watch(record, effect.delay_s)
        if effect.delay_s > 0:
            self.wakeupAfter(effect.delay_s, payload=_RequestDue((effect.request_id,)))
            return
        self._request_signatures(record)

    def _watch(self, record: PegoutRecord, delay_s: float = 0.0) -> None:
        """Start the bridge's own clock on the record's current attempt."""
        due_at = time.time() + delay_s + self.rules.attempt_timeout_s
        self.clock.watch(record.request_id, record.attempt, due_at)
        self._arm_sweep()

    def _arm_sweep(self) -> None:
        due_at = self.clock.next_due()
        if due_at is not None and not self._sweep_armed:
            self._sweep_armed = True
            self.wakeupAfter(max(ATTEMPT_SWEEP_MIN_S, due_at - time.time()),
                             payload=_AttemptsDue())

    def _sweep_attempts(self) -> None:
        self._sweep_armed = False
        situation = self.situation()
        for request_id, attempt in self.clock.overdue(situation.now_s):
            record = self.book.pegouts.get(request_id)
            if record is not None:
                self._carry_out(workflow.expired(record, attempt, situation).effects)
        self._arm_sweep()

    def _request_signatures(self, record: PegoutRecord) -> None:
        stream = self.peers.get("stream")
        request = workflow.signature_request(record, self.situation())
        if stream is not None and request is not None:
            self.send(stream, request)
        # else: sent when the stream appears, or when the halt is lifted

    def _send_notice(self, record: PeginRecord, delay_s: float = 0.0) -> None:
        if delay_s > 0:
            self.wakeupAfter(delay_s, payload=_RequestDue((record.request_id,)))
            return
        stream = self.peers.get("stream")
        if stream is not None and not record.acknowledged:
            self.send(stream, pegins.notice_of(record))

    # -- state ----------------------------------------------------------------------

    def on_loaded(self, records: tuple[Any, ...]) -> None:
        federation = self.book.load(records)
        if federation is not None:
            self._set_federation(Federation(federation.version, federation.members,
                                            federation.threshold,
                                            halted=federation.update_type == "emergency_halt"))
        self._index_spool()
        self.log.info("loaded %d open peg-outs (%s) and %d unacknowledged peg-ins; finished "
                      "peg-outs and acknowledged peg-ins stay in storage; federation version "
                      "%s", len(self.book.pegouts), self.book.counts(), len(self.book.pegins),
                      self.federation.version if self.federation else "none")
        self._to_broadcast.extend(r.request_id for r in self.book.in_state(PegoutState.SIGNED))
        self._queue_resends()

    def _index_spool(self) -> None:
        """Read the spool from the stored offset on: what may hold txids of peg-outs still
        `signed` here (spooled, then the commit lost), not the whole history."""
        spool = self.broadcaster
        if not isinstance(spool, SpoolBroadcaster):
            return
        read_from = self.book.spool_read_from
        try:
            spool.index(read_from)
        except BroadcastError as exc:
            # A malformed line: nothing can be broadcast safely until a person looks.
            self.log.error("cannot go on: spool %s: %s", spool.path, exc)
            if self.supervisor_address is not None:
                self.send(self.supervisor_address, _FatalError(self.name, str(exc)))
            self.send(self.myAddress, ActorExitRequest())
            return
        known = spool.txids()
        pending = [r.request_id for r in self.book.in_state(PegoutState.SIGNED)
                   if r.txid in known]
        self.marks = SpoolMarks(read_from, spool.offset, pending)
        self._read_from_written = read_from
        self.log.info("spool %s read from byte %d of %d: %d txids, %d of them signed "
                      "peg-outs not yet committed as broadcast", spool.path, read_from,
                      spool.offset, len(known), len(pending))

    def _set_federation(self, federation: Federation[Member]) -> None:
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
        metrics.AWAITING.set(self.book.awaiting)

    # -- peg-outs -------------------------------------------------------------------

    def receiveMsg_InitiatePegout(self, message: InitiatePegout, sender: Any) -> None:
        # An id memory does not know is decided as new: its first write, inserted only if
        # the id is free in storage, finds a finished peg-out's (`workflow.already_stored`).
        self._with_record(message.request_id, sender, lambda record: workflow.requested(
            record, message, sender, self.situation()), read_back=False)

    def receiveMsg_RetryPegout(self, message: RetryPegout, sender: Any) -> None:
        self._with_record(message.request_id, sender, lambda record: workflow.retry(
            record, message.request_id, sender, self.situation()), read_back=True)

    def _with_record(self, request_id: str, client: Any,
                     decide: Callable[[PegoutRecord | None], workflow.Step], *,
                     read_back: bool) -> None:
        """Decide on the peg-out under `request_id`, from memory, or, with `read_back`, read
        back from storage when memory has none (a finished one, or none at all). While the
        id's first write is unanswered, the decision waits for it."""
        if self._waits_for_first_write(("pegout", request_id), lambda: self._with_record(
                request_id, client, decide, read_back=read_back)):
            return
        record = self.book.lookup(request_id)
        if record is not None or not read_back:
            self._decide(decide(record))
            return

        def answer(records: tuple[Any, ...] | None, error: str | None) -> None:
            if records is None:
                self._carry_out(workflow.unreadable(request_id, client, error or "unknown"))
            else:
                self._decide(decide(records[0] if records else None))
        self._fetch(answer, request_id=request_id)

    def _decide(self, step: workflow.Step) -> None:
        if step.parsed is not None and step.record is not None:
            self.book.remember_parsed(step.record.request_id, step.parsed)
        self._carry_out(step.effects)

    def receiveMsg_ApplySignatures(self, message: ApplySignatures, sender: Any) -> None:
        parsed = split_governance_id(message.request_id)
        record = self.book.lookup(parsed[0]) if parsed else None
        attempt = parsed[1] if parsed else 0
        # Memory no longer tells a finished peg-out from no peg-out (it keeps no ids of
        # finished ones): an answer for either is taken as a late duplicate, which is what
        # it nearly always is, and confirmed Handled all the same.
        self._carry_out(workflow.answered(record, record is None and parsed is not None,
                                          message, attempt, sender,
                                          self.situation()).effects)

    def receiveMsg_RequestTimedOut(self, message: RequestTimedOut, sender: Any) -> None:
        self._unanswered(message.request_id, message.kind, "timeout",
                         "governance did not answer in time")

    def receiveMsg_RequestRejected(self, message: RequestRejected, sender: Any) -> None:
        self._unanswered(message.request_id, message.kind, "stream_rejected",
                         f"the stream did not take the request: {message.reason}")

    def receiveMsg_GovernanceError(self, message: GovernanceError, sender: Any) -> None:
        self._unanswered(message.request_id, message.kind, "governance_error",
                         f"governance error {message.code}: {message.message}",
                         delay_s=message.retry_after_s or 0.0, code=message.code)

    def _unanswered(self, request_id: str, request_kind: str, kind: str, reason: str,
                    delay_s: float = 0.0, code: str = "") -> None:
        # A peg-in notice and a peg-out attempt may share an id (`x/1`): the stream says
        # which kind of request it was; a sender that does not is taken by the id.
        pegin = request_kind == "pegin" or (not request_kind and request_id in self.book.pegins)
        if pegin:
            self._carry_out(pegins.unanswered(self.book.pegins.get(request_id), reason,
                                              delay_s))
            return
        parsed = split_governance_id(request_id)
        if parsed is not None:
            record = self.book.lookup(parsed[0])
            self._carry_out(workflow.unanswered(record, parsed[1], kind, reason,
                                                self.situation(), delay_s, code).effects)

    def receiveMsg_Handled(self, message: Handled, sender: Any) -> None:
        self._completions.pop(message.request_id, None)  # the chain has the PegoutCompleted

    def receiveMsg_RequestQueued(self, message: RequestQueued, sender: Any) -> None:
        pass  # the stream has it; the answer comes as ApplySignatures or Delivered

    def _broadcast_signed(self) -> None:
        ready = workflow.broadcastable([record for rid in self._to_broadcast
                                        if (record := self.book.pegouts.get(rid)) is not None])
        self._to_broadcast = []
        if self.broadcaster is None:
            return
        spool = self.broadcaster if isinstance(self.broadcaster, SpoolBroadcaster) else None
        start = spool.offset if spool is not None else 0
        effects = hand_over(self.broadcaster, ready, self.situation(), self.log)
        if spool is not None and self.marks is not None and spool.offset != start:
            self.marks.appended(start, spool.offset, (r.request_id for r in ready))
        self._carry_out(effects)
        self._write_read_from()

    def _write_read_from(self) -> None:
        """Store where the next start reads the spool from, with this turn's writes (one
        small row in the same transaction as the broadcast states: no round trip)."""
        if self.marks is None:
            return
        read_from = self.marks.read_from()
        if read_from != self._read_from_written:
            self._read_from_written = read_from
            # The offset is its own revision: a write that arrives late never moves it back.
            self.store.write([MetaValue(SPOOL_READ_FROM, str(read_from),
                                        revision=read_from + 1)])

    # -- peg-ins --------------------------------------------------------------------

    def receiveMsg_NotifyPegin(self, message: NotifyPegin, sender: Any) -> None:
        if self._waits_for_first_write(("pegin", message.request_id),
                                       lambda: self.receiveMsg_NotifyPegin(message, sender)):
            return
        # Memory holds unacknowledged peg-ins only; an id it does not know is decided as
        # new, and its first write finds an acknowledged one (`pegins.already_stored`).
        _, effects = pegins.notified(self.book.pegins.get(message.request_id), message, sender,
                                     self.config.bridge.min_pegin_confirmations, time.time())
        self._carry_out(effects)

    def receiveMsg_Delivered(self, message: Delivered, sender: Any) -> None:
        _, effects = pegins.delivered(self.book.pegins.get(message.request_id))
        self._carry_out(effects)

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
            situation = self.situation()
            open_ones = list(self.book.pegouts.values())
            self.log.info("emergency halt lifted: %d peg-outs ask for signatures again, "
                          "signed ones are broadcast",
                          sum(1 for r in open_ones if r.state == workflow.AWAITING.value))
            for record in open_ones:
                self._carry_out(workflow.halt_lifted(record, situation).effects)

    # -- re-sending -----------------------------------------------------------------

    def _queue_resends(self) -> None:
        """Queue every open request for the stream; sent a slice per turn."""
        situation = self.situation()
        awaiting = list(self.book.in_state(PegoutState.AWAITING_SIGNATURES))
        for record in awaiting:
            self._watch(record)  # asked again now (or, halted, still on the clock)
        requests = (workflow.signature_request(record, situation) for record in awaiting)
        self.resends.queue(request for request in requests if request is not None)
        self.resends.queue(pegins.notice_of(r) for r in self.book.unacknowledged())
        if self.resends:
            self.log.info("sending %d open requests to the stream", len(self.resends))
            self.resends.pump(self.peers.get("stream"))

    def on_wakeup(self, payload: Any) -> None:
        if isinstance(payload, _AttemptsDue):
            self._sweep_attempts()
        elif isinstance(payload, ResendDue):
            self.resends.due(self.peers.get("stream"))
        elif isinstance(payload, _BroadcastDue):
            self._broadcast_armed = False
            self._to_broadcast.extend(r.request_id
                                      for r in self.book.in_state(PegoutState.SIGNED))
        elif isinstance(payload, _RequestDue):
            for rid in payload.request_ids:
                if rid in self.book.pegins:
                    self._send_notice(self.book.pegins[rid])
                elif rid in self.book.pegouts:
                    self._request_signatures(self.book.pegouts[rid])

    # -- queries --------------------------------------------------------------------

    def receiveMsg_GetPegoutStatus(self, message: GetPegoutStatus, sender: Any) -> None:
        queries.pegout_status(self.book, message.request_id, lambda m: self.send(sender, m),
                              self._fetch)

    def receiveMsg_ListPegouts(self, message: ListPegouts, sender: Any) -> None:
        queries.pegout_list(self.book, message.state, lambda m: self.send(sender, m),
                            self._fetch, self.log)

    def _fetch(self, answer: queries.Answer, **query: Any) -> None:
        self.fetches.fetch(self._storage, answer, **query)


def _first_key(record: PegoutRecord | PeginRecord | None) -> tuple[str, str] | None:
    """A new record's id, by kind: peg-outs and peg-ins have ids of their own."""
    if isinstance(record, PegoutRecord):
        return ("pegout", record.request_id)
    if isinstance(record, PeginRecord):
        return ("pegin", record.request_id)
    return None
