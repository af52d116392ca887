"""BridgeActor: carries out the peg-out and peg-in workflows, every step persisted first.

The decisions are the pure workflows' (`workflow`, `pegins`): this actor turns each
message into a call, with the `Situation` it is in, and carries out the effects that
come back, in order (`_carry_out`); what waits inside `Persist.then` runs only once
its record is committed. Besides, it keeps the federation in force, batches
broadcasts per turn (`broadcasting`), watches attempts (`attempts`), re-sends open
requests to a restarted stream (`resends`) and `PegoutCompleted` to a restarted
chain. Two mixins hold the rest: `lookups` (peg-outs read back from storage, statuses
and listings) and `settlement` (following broadcast transactions, replacements, an
operator's verdicts, the outflow breaker).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from thespian.actors import ActorExitRequest

from actors.bridge import metrics, outcomes, pegins, workflow
from actors.bridge.attempts import AttemptsDue, AttemptWatch
from actors.bridge.book import Book
from actors.bridge.broadcast import (
    BroadcastError,
    make_broadcaster,
)
from actors.bridge.broadcasting import Broadcasting
from actors.bridge.drain import Drain
from actors.bridge.effects import (
    AskSignatures,
    Broadcast,
    BroadcastLater,
    CountOutflow,
    Drop,
    Effects,
    Note,
    NotifyChain,
    Persist,
    Rebroadcast,
    Reply,
    SendNotice,
    Supersede,
)
from actors.bridge.first_federation import FirstFederation
from actors.bridge.firstwrites import FirstWrites, first_key
from actors.bridge.follower import Follower
from actors.bridge.ledger import split_governance_id
from actors.bridge.lookups import Lookups
from actors.bridge.maintenance import Maintenance
from actors.bridge.observe import observe, pegout_key
from actors.bridge.outflow import OutflowWindow
from actors.bridge.resends import ResendDue, Resends
from actors.bridge.settlement import FollowDue, Settlement
from actors.bridge.workflow import Rules, Situation
from actors.lifecycle import _FatalError, _Start
from actors.messages import (
    ApplySignatures,
    Batch,
    Delivered,
    DrainPegouts,
    FederationChanged,
    GetDrainState,
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
    RequestSignatures,
    RequestTimedOut,
    ResetOutflowWindow,
    ResolvePegout,
    RetryPegout,
    UndrainPegouts,
)
from actors.owner import OwnerActor
from actors.storage.records import (
    Held,
    PeginRecord,
    PegoutRecord,
)
from btc.federation import Federation
from runtime import tracing

BROADCAST_RETRY_S = 2.0
# `PegoutCompleted` notices go to the chain together, at most this long after the first:
# the chain only counts them, and one send for many saves two hops per peg-out.
COMPLETIONS_EVERY_S = 0.1
OLDEST_AWAITING_EVERY_S = 1.0  # how often the oldest waiting peg-out is looked for, at most


def _traced(request: RequestSignatures) -> RequestSignatures:
    """The request with its peg-out's span context, while tracing is on."""
    parsed = split_governance_id(request.request_id) if tracing.active else None
    if parsed is None:
        return request
    return replace(request, traceparent=tracing.traceparent_of(pegout_key(parsed[0])))


class _BroadcastDue:
    """Wakeup payload: try the signed, not yet broadcast peg-outs again."""


class _CompletionsDue:
    """Wakeup payload: send the chain the `PegoutCompleted` notices gathered since."""


class _FederationWaitOver:
    """Wakeup payload: peg-outs held for the first federation are decided without one."""


class _RequestDue:
    """Wakeup payload: (re)send the current attempt of these peg-outs or peg-ins."""

    def __init__(self, request_ids: tuple[str, ...]) -> None:
        self.request_ids = request_ids


class BridgeActor(Maintenance, Settlement, Lookups, OwnerActor):
    name = "bridge"
    owner = "bridge"
    needs_state = (InitiatePegout, RetryPegout, ApplySignatures, NotifyPegin, Delivered,
                   GetPegoutStatus, ListPegouts, RequestTimedOut, RequestRejected, GovernanceError,
                   FederationChanged, ResolvePegout, ResetOutflowWindow, DrainPegouts,
                   UndrainPegouts, GetDrainState)

    def __init__(self) -> None:
        super().__init__()
        self.book = Book()
        self._oldest_awaiting_due = 0.0  # monotonic: the next look for the oldest waiting one
        self.attempts = AttemptWatch(
            lambda delay_s, payload: self.wakeupAfter(delay_s, payload=payload), time.time)
        self.federation: Federation[Member] | None = None
        # Applied versions before it whose coins peg-outs may still spend (convention 10).
        self.earlier: dict[int, Federation[Member]] = {}
        self.rules = Rules(max_pegout_sat=0, signature_retries=0)  # from the config at start
        self.broadcasting: Broadcasting | None = None  # from the config at start
        self.resends = Resends(self.send,
                               lambda delay_s, payload: self.wakeupAfter(delay_s, payload=payload))
        # PegoutCompleted notices the ChainActor has not confirmed yet: sent again to a
        # restarted chain. Kept in memory only: the chain's use of them is a count.
        self._completions: dict[str, str] = {}
        self._unsent_completions: list[str] = []  # gathered until `_CompletionsDue`
        self.first_writes = FirstWrites()  # new records whose first write is unanswered
        self.outflow = OutflowWindow(86_400.0, 0)  # from the config at start
        self._reset_revision = 0  # of the stored `OUTFLOW_RESET_AT`
        self._outflow_moved = False  # the gauge is set once per turn, not per peg-out
        self.follower: Follower | None = None  # from the config at start
        self.drain: Drain | None = None  # an operator's, loaded from storage
        self._drain_revision = 0  # of the stored `drain.DRAINED`
        self.first_federation = FirstFederation()  # peg-outs that came before any federation

    def on_start(self, start: _Start) -> None:
        self.rules = Rules.of(self.config)
        for retryable in ("true", "false"):  # a 0 to see the first failure increase
            metrics.BROADCAST_ERRORS.labels(retryable=retryable)
        outflow = self.config.bridge.outflow
        self.outflow = OutflowWindow(outflow.window_s, outflow.max_sat)
        # A spool is opened and locked here, and read (from where the stored offset says)
        # once the state is loaded.
        broadcaster = make_broadcaster(self.config.bridge.broadcaster)
        self.broadcasting = Broadcasting(broadcaster, self.log)
        self.follower = Follower(broadcaster, self.log)
        self.book = Book(following=self.follower.enabled)

    def on_stop(self) -> None:
        close = getattr(self.broadcasting and self.broadcasting.broadcaster, "close", None)
        if close is not None:
            close()

    def situation(self) -> Situation:
        return Situation(self.federation, self.rules, time.time(), self.book.unsigned,
                         self.outflow.refusal, self.drain, earlier=self.earlier)

    # -- carrying out ---------------------------------------------------------------

    def _carry_out(self, effects: Effects) -> None:
        for effect in effects:
            match effect:
                case Note():
                    observe(effect, self.log)
                case Reply(to=to, message=message, can_wait=True):
                    self.send_soon(to, message)
                case Reply(to=to, message=message):
                    self.send(to, message)
                case Persist():
                    self._persist(effect)
                case AskSignatures():
                    self._ask(effect)
                case Broadcast(request_id=request_id):
                    self._broadcasting().queue((request_id,))
                case BroadcastLater():
                    if not self._broadcasting().retry_armed:
                        self._broadcasting().retry_armed = True
                        self.wakeupAfter(BROADCAST_RETRY_S, payload=_BroadcastDue())
                case NotifyChain(request_id=request_id, txid=txid):
                    self._completions[request_id] = txid
                    if not self._unsent_completions:
                        self.wakeupAfter(COMPLETIONS_EVERY_S, payload=_CompletionsDue())
                    self._unsent_completions.append(request_id)
                case SendNotice(record=record, delay_s=delay_s):
                    self._send_notice(record, delay_s)
                case Drop(record=record):
                    self.book.drop(record)
                case CountOutflow(at=at, sat=sat):
                    self._count_outflow(at, sat)
                case Rebroadcast(request_id=request_id):
                    self._rebroadcast(request_id)
                case Supersede():
                    self._supersede(effect)

    def _persist(self, effect: Persist) -> None:
        record = effect.record
        if record is not None:
            self.book.put(record)
        first = first_key(record) if effect.request is not None else None
        if first is not None:
            self.first_writes.started(first)

        def committed() -> None:
            self._carry_out(effect.then)
            if record is not None:
                self.book.committed(record)
                if isinstance(record, PegoutRecord) and self.broadcasting is not None:
                    self.broadcasting.committed(record)
            self.first_writes.settled(first)

        def refused(reason: str) -> None:
            assert record is not None
            self._carry_out(outcomes.not_stored(record, effect.refused_for, reason))
            self.first_writes.settled(first)

        def found(stored: Any) -> None:
            self._carry_out(outcomes.already_stored(record, stored, effect.request,
                                                    effect.refused_for, self.situation()))
            self.first_writes.settled(first)
            if tracing.active and isinstance(record, PegoutRecord):
                # The trace its InitiatePegout began is that request's alone, and the id
                # is a finished peg-out's: a repeat accepted again ends here (a refusal
                # ended it already), rather than stay open until evicted.
                tracing.end(pegout_key(record.request_id), outcome="already_stored")

        def reclaim_refused(held: Any) -> None:
            assert isinstance(record, PegoutRecord) and isinstance(held, Held)
            self._carry_out(workflow.reclaim_refused(record, held, effect.refused_for,
                                                     self.situation()).effects)

        new = record is not None and effect.refused_for is not None and not effect.reclaim
        records = [*effect.extra, *([record] if record is not None else [])]
        trace = (tracing.traceparent_of(pegout_key(record.request_id))
                 if tracing.active and isinstance(record, PegoutRecord) else None)
        if effect.reclaim:
            self.store.write(records, then=committed, found=reclaim_refused, insert_new=False,
                             trace=trace)
            return
        self.store.write(records, then=committed, otherwise=refused if new else None,
                         found=found if first is not None else None, trace=trace,
                         can_wait=effect.can_wait)

    def _ask(self, effect: AskSignatures) -> None:
        record = self.book.pegouts.get(effect.request_id)
        if record is None or record.attempt != effect.attempt:
            return  # finished meanwhile, or a newer attempt asks for itself
        self.attempts.watch(record, self.rules.attempt_timeout_s, effect.delay_s)
        if effect.delay_s > 0:
            self.wakeupAfter(effect.delay_s, payload=_RequestDue((effect.request_id,)))
            return
        self._request_signatures(record)

    def _attempts_due(self) -> None:
        situation = self.situation()
        for request_id, attempt in self.attempts.due(situation.now_s):
            record = self.book.pegouts.get(request_id)
            if record is not None:
                self._carry_out(workflow.expired(record, attempt, situation).effects)

    def _request_signatures(self, record: PegoutRecord) -> None:
        stream = self.peers.get("stream")
        request = workflow.signature_request(record, self.situation())
        if stream is not None and request is not None:
            self.send(stream, _traced(request))
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
        federations = self.book.load(records)
        if federations:
            *earlier, current = federations
            self._set_federation(current.federation())
            self.earlier = {r.version: r.federation() for r in earlier}
        self._load_settlement(records)
        self._load_drain(records)
        self._index_spool()
        self.log.info("loaded %d open peg-outs (%s) and %d unacknowledged peg-ins; finished "
                      "peg-outs and acknowledged peg-ins stay in storage; federation version "
                      "%s", len(self.book.pegouts), self.book.counts(), len(self.book.pegins),
                      self.federation.version if self.federation else "none")
        self._broadcasting().queue(r.request_id for r in self.book.in_state(PegoutState.SIGNED))
        self._queue_resends()

    def _index_spool(self) -> None:
        try:
            self._broadcasting().index(self.book.spool_read_from,
                                       self.book.in_state(PegoutState.SIGNED))
        except BroadcastError as exc:
            # A malformed line: nothing can be broadcast safely until a person looks.
            self.log.error("cannot go on: spool: %s", exc)
            if self.supervisor_address is not None:
                self.send(self.supervisor_address, _FatalError(self.name, str(exc)))
            self.send(self.myAddress, ActorExitRequest())

    def _broadcasting(self) -> Broadcasting:
        assert self.broadcasting is not None  # made in on_start, before any message
        return self.broadcasting

    def _set_federation(self, federation: Federation[Member]) -> None:
        self.federation = federation
        metrics.HALTED.set(1 if federation.halted else 0)

    def on_peer_changed(self, name: str, address: Any) -> None:
        if name == "stream" and self.loaded:
            self._queue_resends()
        if name == "chain" and self._completions:
            self.send(address, Batch(tuple(PegoutCompleted(rid, txid)
                                           for rid, txid in self._completions.items())))
            self._unsent_completions = []  # sent with all the others; the wakeup finds none

    def after_messages(self) -> None:
        if self.broadcasting:
            effects, offset = self.broadcasting.turn(self.book, self.situation())
            self._carry_out(effects)
            if offset is not None:  # with the broadcast states, whose commit can wait
                self.store.write([offset], can_wait=True)
        metrics.AWAITING.set(self.book.awaiting)
        self._export_oldest_awaiting()
        metrics.NEEDS_REVIEW.set(self.book.by_state[PegoutState.NEEDS_REVIEW.value])
        self._settlement_turn()

    def _export_oldest_awaiting(self) -> None:
        """The look costs one pass over the open peg-outs: at most once a second while any
        waits (a waiting peg-out's attempt timer brings a turn at least every
        bridge.attempt_timeout_s), and at once, for nothing, when none does."""
        now = time.monotonic()
        if self.book.awaiting and now < self._oldest_awaiting_due:
            return
        self._oldest_awaiting_due = now + OLDEST_AWAITING_EVERY_S
        metrics.OLDEST_AWAITING.set(self.book.oldest_awaiting_since())

    # -- peg-outs -------------------------------------------------------------------

    def receiveMsg_InitiatePegout(self, message: InitiatePegout, sender: Any) -> None:
        # Drained, a request is refused at once (`draining` comes before `no_federation`):
        # holding it would only delay the refusal, or accept it after an undrain.
        if (self.federation is None and self.drain is None
                and self.first_federation.hold(message, sender)):
            if len(self.first_federation) == 1:
                self.wakeupAfter(self.first_federation.wait_s, payload=_FederationWaitOver())
            return  # decided when the chain announces the first federation
        # An id memory does not know is decided as new: its first write, inserted only if
        # the id is free in storage, finds a finished peg-out's (`workflow.already_stored`).
        # The id's trace open already is a live peg-out's: this request (a repeat, or other
        # content refused as a duplicate) must not end it. Carried in the decision, which
        # may come in a later turn (after a read, or the id's first write).
        ours = not tracing.active or tracing.begin(pegout_key(message.request_id), "pegout",
                                                    request_id=message.request_id)
        with tracing.span("bridge.InitiatePegout",
                          tracing.traceparent_of(pegout_key(message.request_id))):
            self._initiate(message, sender, ours)

    def _initiate(self, message: InitiatePegout, sender: Any, ours: bool) -> None:
        # Drained, an id memory does not know is read back first: a finished peg-out's
        # request sent again is answered as taken (or a duplicate), not refused as new.
        read_back = self.drain is not None
        replaces = getattr(message, "replaces", None)
        if replaces is None or not isinstance(replaces, str):
            self._with_record(message.request_id, sender, lambda record: self._initiated(
                workflow.requested(record, message, sender, self.situation()), ours),
                read_back=read_back)
            return

        def decide(original: PegoutRecord | None) -> None:
            self._with_record(message.request_id, sender, lambda record: self._initiated(
                workflow.requested(record, message, sender, self.situation(), original),
                ours), read_back=read_back)
        # A replacement is decided with its original, from memory or read back.
        self._read(replaces, decide, sender)

    def _initiated(self, step: workflow.Step, ours: bool) -> workflow.Step:
        """The decision on an InitiatePegout, as its trace needs it: kept from ending a live
        peg-out's trace unless its request began it (`_trace_kept`); and, for a finished
        peg-out's request again, read back (while drained), ending the trace the request
        began, as `already_stored` ends it after a first write."""
        if not ours:
            return _trace_kept(step)
        if (tracing.active and step.record is not None
                and step.record.request_id not in self.book.pegouts
                and not any(isinstance(e, Note) or (isinstance(e, Persist) and e.record)
                            for e in step.effects)):
            tracing.end(pegout_key(step.record.request_id), outcome="already_stored")
        return step

    def receiveMsg_RetryPegout(self, message: RetryPegout, sender: Any) -> None:
        self._with_record(message.request_id, sender, lambda record: workflow.retry(
            record, message.request_id, sender, self.situation()), read_back=True)

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
        self._carry_out(outcomes.unanswered(self.book, request_id, request_kind, kind, reason,
                                            self.situation(), delay_s, code))

    def receiveMsg_Handled(self, message: Handled, sender: Any) -> None:
        self._completions.pop(message.request_id, None)  # the chain has the PegoutCompleted

    def receiveMsg_RequestQueued(self, message: RequestQueued, sender: Any) -> None:
        pass  # the stream has it; the answer comes as ApplySignatures or Delivered

    # -- peg-ins --------------------------------------------------------------------

    def receiveMsg_NotifyPegin(self, message: NotifyPegin, sender: Any) -> None:
        if self.first_writes.wait(("pegin", message.request_id),
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
        self._set_federation(_federation_of(message))
        self.earlier = {e.version: _federation_of(e) for e in getattr(message, "earlier", ())}
        self.log.info("federation version %d: %d-of-%d at %s%s", message.version,
                      message.threshold, sum(1 for m in message.members if m.active),
                      message.address, " (EMERGENCY HALT)" if message.halted else "")
        self._decide_held(self.first_federation.release())
        if was_halted and not message.halted:
            situation = self.situation()
            open_ones = list(self.book.pegouts.values())
            self.log.info("emergency halt lifted: %d peg-outs ask for signatures again, "
                          "signed ones are broadcast",
                          sum(1 for r in open_ones if r.state == workflow.AWAITING.value))
            for record in open_ones:
                self._carry_out(workflow.halt_lifted(record, situation).effects)

    def _decide_held(self, held: list[tuple[Any, Any]]) -> None:
        if held:
            self.log.info("deciding %d peg-outs that arrived before %s", len(held),
                          "the first federation" if self.federation else
                          f"a federation, after waiting {self.first_federation.wait_s:g}s")
        with self.coalesced_sends():  # thousands of refusals or repeats: a Batch per client
            for message, sender in held:
                self.receiveMsg_InitiatePegout(message, sender)

    def _send_completions(self) -> None:
        unsent, self._unsent_completions = self._unsent_completions, []
        notices = tuple(PegoutCompleted(rid, self._completions[rid])
                        for rid in dict.fromkeys(unsent) if rid in self._completions)
        chain = self.peers.get("chain")
        if chain is not None and notices:  # else: all sent to the chain when it appears
            self.send(chain, notices[0] if len(notices) == 1 else Batch(notices))

    # -- re-sending -----------------------------------------------------------------

    def _queue_resends(self) -> None:
        """Queue every open request for the stream; sent a slice per turn."""
        situation = self.situation()
        awaiting = list(self.book.in_state(PegoutState.AWAITING_SIGNATURES))
        for record in awaiting:  # asked again now (or, halted, still on the clock)
            self.attempts.watch(record, self.rules.attempt_timeout_s)
        requests = (workflow.signature_request(record, situation) for record in awaiting)
        self.resends.queue(_traced(request) for request in requests if request is not None)
        self.resends.queue(pegins.notice_of(r) for r in self.book.unacknowledged())
        if self.resends:
            self.log.info("sending %d open requests to the stream", len(self.resends))
            self.resends.pump(self.peers.get("stream"))

    def on_wakeup(self, payload: Any) -> None:
        if isinstance(payload, AttemptsDue):
            self._attempts_due()
        elif isinstance(payload, ResendDue):
            self.resends.due(self.peers.get("stream"))
        elif isinstance(payload, FollowDue):
            self._follow()
        elif isinstance(payload, _BroadcastDue):
            self._broadcasting().retry_armed = False
            self._broadcasting().queue(r.request_id
                                       for r in self.book.in_state(PegoutState.SIGNED))
        elif isinstance(payload, _CompletionsDue):
            self._send_completions()
        elif isinstance(payload, _FederationWaitOver):
            self._decide_held(self.first_federation.give_up())
        elif isinstance(payload, _RequestDue):
            for rid in payload.request_ids:
                if rid in self.book.pegins:
                    self._send_notice(self.book.pegins[rid])
                elif rid in self.book.pegouts:
                    self._request_signatures(self.book.pegouts[rid])


def _trace_kept(step: workflow.Step) -> workflow.Step:
    """The decision, with its notes kept from ending the peg-out's trace."""
    return replace(step, effects=tuple(replace(e, ends_trace=False) if isinstance(e, Note)
                                       else e for e in step.effects))


def _federation_of(message: FederationChanged) -> Federation[Member]:
    return Federation(message.version, message.members, message.threshold,
                      halted=message.halted,
                      script_type=getattr(message, "script_type", "p2wsh"))  # older pickles
