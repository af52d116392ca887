"""ChainActor: federation updates validated, scheduled by height, persisted, announced.

- The federation in force starts as `chain.federation` (or local mode's
  mock federation), version 0, and changes only through valid
  `UpdateFederation`s, each handled once by request id.
- An update due now is applied; one whose `effective_height` is ahead is
  stored as scheduled and applied when the height gets there. Applying
  means: persist, then `FederationChanged` to the BridgeActor, log, count.
- An invalid update is rejected with its reason, logged and counted; the
  rejection is persisted too, so a re-delivery is not judged again. So is
  a valid one that cannot be stored (a version or an activation height past
  what SQLite holds): it is forgotten from memory, as if it never came.
- `Handled` goes back only after the outcome is committed, for a repeated
  update too (the stream acknowledges it to governance on that word).
- A height past what SQLite holds is ignored: the chain would run on a
  height it could not keep. A height set from outside (`AdvanceHeight`) is
  taken only where `chain.allow_advance_height` allows it (unset: local mode);
  otherwise the status it answers says `refused`.
- Handled ids (with their outcomes) and proposals are kept for
  `chain.retention` and pruned after it, in SQLite and in memory: the chain
  loads only what is within retention, and holds proposals' ids, never their
  data (`ListProposals` reads them back). An update re-sent after its id was
  pruned is judged again, and refused by its stale version; governance sends
  a push again only while it is unacknowledged, so days of retention suffice.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from thespian.actors import ActorAddress

from actors.chain import metrics
from actors.chain.book import (
    APPLIED,
    FederationBook,
    changed_message,
    federation_version,
    record_for,
    record_from_update,
)
from actors.chain.height import (
    EvmRpcHeight,
    HeightSource,
    HeightSourceError,
    make_height_source,
)
from actors.chain.initial import initial_federation
from actors.chain.retention import Retained
from actors.lifecycle import _Start
from actors.messages import (
    MAX_FEDERATIONS_LISTED,
    AdvanceHeight,
    ChainStatus,
    FederationHistory,
    GetChainStatus,
    Handled,
    HeightObserved,
    ListFederations,
    ListProposals,
    PegoutCompleted,
    Proposal,
    ProposalList,
    ProposalReceived,
    UpdateFederation,
)
from actors.owner import OwnerActor
from actors.senders import advance_height_allowed
from actors.storage.limits import INT64_MAX
from actors.storage.protocol import _Load
from actors.storage.records import (
    Expired,
    FederationRecord,
    InboundHandled,
    Loaded,
    MetaValue,
    ProposalRecord,
    ProposalSeen,
    Record,
)
from btc.errors import BtcError
from btc.federation import validate_update
from nodeconfig import NodeConfig
from runtime.metrics import MESSAGES_REFUSED


class _HeightTick:
    """Wakeup payload: read the height source again."""


class _PruneDue:
    """Wakeup payload: forget what is past its retention."""


class ChainActor(OwnerActor):
    name = "chain"
    owner = "chain"
    needs_state = (UpdateFederation, ProposalReceived, AdvanceHeight, GetChainStatus,
                   ListFederations, ListProposals)

    def __init__(self) -> None:
        super().__init__()
        self.book = FederationBook()
        self.height = 0
        # Placeholders until the config is known (on_start).
        self.handled: Retained[str] = Retained(0.0)  # request id -> outcome
        self.proposals: Retained[None] = Retained(0.0)  # the ids of stored proposals
        self.source: HeightSource | None = None  # made once the state is loaded
        self.governance_key: bytes | None = None

    def on_reconfigure(self, config: NodeConfig, changed: tuple[str, ...]) -> None:
        # A new EVM RPC URL: the next height is read from it (the clock has no URL).
        if "chain.height_source.rpc_url" in changed and isinstance(self.source, EvmRpcHeight):
            self.source = make_height_source(config.chain.height_source, 0.0)

    def on_start(self, start: _Start) -> None:
        key = self.config.chain.governance_pubkey
        self.governance_key = bytes.fromhex(key) if key else None
        retention = self.config.chain.retention
        self.handled = Retained(retention.handled_ids_s)
        self.proposals = Retained(retention.proposals_s)

    def load_request(self) -> _Load:
        now = time.time()
        return _Load(self.owner, handled_since=self.handled.cutoff(now),
                     proposals_since=self.proposals.cutoff(now))

    # -- state ----------------------------------------------------------------------

    def on_loaded(self, records: tuple[Loaded, ...]) -> None:
        meta = {r.key: r for r in records if isinstance(r, MetaValue)}
        self.book.load(r for r in records if isinstance(r, FederationRecord))
        for record in records:
            if isinstance(record, InboundHandled):
                self.handled.add(record.request_id, record.outcome, record.at)
            elif isinstance(record, ProposalSeen):
                self.proposals.add(record.proposal_id, None, record.received_at)
        self.log.info("loaded %d handled ids and %d proposal ids within retention",
                      len(self.handled), len(self.proposals))
        self.height = int(meta["height"].value) if "height" in meta else 0
        writes: list[Record] = []
        if "genesis" in meta:
            genesis = float(meta["genesis"].value)
        else:
            genesis = time.time()
            writes.append(MetaValue("genesis", repr(genesis)))
        if self.book.current is None and not self.book.scheduled:
            federation = initial_federation(self.config)
            record = record_for(federation, update_type="config_change", effective_height=0,
                                height=self.height, network=self.config.chain.network,
                                request_id=None, now_s=time.time())
            self.book.add(record)
            writes.append(record)
            self.log.info("federation version %d from the config: %d-of-%d, address %s",
                          record.version, record.threshold, len(federation.keys),
                          record.address)
        self.source = make_height_source(self.config.chain.height_source, genesis)
        self._prune()
        if writes:
            self.store.write(writes, then=self._announce)
        else:
            self._announce()
        self._read_height()

    def _announce(self) -> None:
        """Tell the BridgeActor which federation is in force."""
        current = self.book.current
        bridge = self.peers.get("bridge")
        if current is None or bridge is None:
            return
        metrics.VERSION.set(current.version)
        self.send(bridge, changed_message(current, self.book.earlier()))

    def on_peer_changed(self, name: str, address: ActorAddress) -> None:
        if name == "bridge" and self.loaded:
            self._announce()  # a restarted bridge learns the federation at once
        if name == "stream" and self.loaded:
            self.send(address, HeightObserved(self.height))

    # -- height ---------------------------------------------------------------------

    def _read_height(self) -> None:
        if self.source is None:
            return  # on_loaded makes the source, then starts the readings
        try:
            observed = self.source.height(time.time())
        except HeightSourceError as exc:
            metrics.HEIGHT_ERRORS.inc()
            self.log.warning("height source: %s", exc)
        else:
            self._set_height(observed)
        self.wakeupAfter(self.config.chain.height_source.slot_s, payload=_HeightTick())

    def on_wakeup(self, payload: object) -> None:
        if isinstance(payload, _HeightTick):
            self._read_height()
        elif isinstance(payload, _PruneDue):
            self._prune()

    # -- retention ------------------------------------------------------------------

    def _prune(self) -> None:
        """Forget what is past retention, in memory now and in SQLite with the next write
        (an index on the age keeps that delete proportional to what goes), then again
        after `prune_interval_s`."""
        now = time.time()
        handled, proposals = self.handled.prune(now), self.proposals.prune(now)
        if handled or proposals:
            self.log.info("retention: forgot %d handled ids and %d proposals", handled,
                          proposals)
        self.store.write([Expired("inbound_handled", self.owner, self.handled.cutoff(now)),
                          Expired("proposals", self.owner, self.proposals.cutoff(now))])
        self.wakeupAfter(self.config.chain.retention.prune_interval_s, payload=_PruneDue())

    def _set_height(self, height: int) -> None:
        """Heights only go up: a source that steps back is ignored."""
        if height <= self.height:
            return
        if height > INT64_MAX:
            # Stored as the height's revision too: refused here, before anything is due.
            metrics.HEIGHT_ERRORS.inc()
            self.log.warning("height %d ignored: past %d, the largest SQLite stores", height,
                             INT64_MAX)
            return
        self.height = height
        metrics.HEIGHT.set(height)
        writes: list[Record] = [MetaValue("height", str(height), revision=height)]
        due = self.book.due(height)
        writes.extend(due)
        for record in due:
            self.log.info("federation version %d reached its activation height %d",
                          record.version, record.effective_height)
        self.store.write(writes, then=(lambda: self._applied(due)) if due else None)
        stream = self.peers.get("stream")
        if stream is not None:
            self.send(stream, HeightObserved(height))

    def receiveMsg_AdvanceHeight(self, message: AdvanceHeight, sender: ActorAddress) -> None:
        if not advance_height_allowed(self.config):
            MESSAGES_REFUSED.labels(actor=self.name, message="AdvanceHeight").inc()
            self.log.warning("refused an AdvanceHeight to %d from %s: %s", message.height,
                             sender, ADVANCE_HEIGHT_REFUSED)
            self.send(sender, dataclasses.replace(self._status(),
                                                  refused=ADVANCE_HEIGHT_REFUSED))
            return
        self._set_height(message.height)
        self.send(sender, self._status())

    # -- federation updates ---------------------------------------------------------

    def receiveMsg_UpdateFederation(self, update: UpdateFederation, sender: ActorAddress) -> None:
        if update.request_id in self.handled:
            metrics.UPDATES.labels(outcome="duplicate").inc()
            self._handled_again(update.request_id, sender)
            return
        chain = self.config.chain
        try:
            federation = validate_update(update, latest_version=self.book.latest_version,
                                         network=chain.network,
                                         governance_pubkey=self.governance_key,
                                         current_script_type=self.book.latest_script_type())
        except BtcError as exc:
            self._reject(update, str(exc), sender)
            return
        record = record_from_update(update, federation, height=self.height,
                                    network=chain.network, now_s=time.time())
        previous = self.book.current
        self.book.add(record)
        outcome = record.state
        now = time.time()
        self.handled.add(update.request_id, outcome, now)
        metrics.UPDATES.labels(outcome=outcome).inc()
        self.log.info("federation update %s: version %d (%s) %s at height %d: %d-of-%d, %s",
                      update.request_id, record.version, record.update_type, outcome,
                      record.effective_height, record.threshold,
                      len(record.federation().keys), record.address)

        def committed() -> None:
            if record.state == APPLIED:
                self._applied([record])
            self.send(sender, Handled(update.request_id))

        def not_stored(reason: str) -> None:
            # Applied or scheduled in memory only: undone, then rejected like an invalid
            # update, so that the next version is judged against what is stored.
            self.book.remove(record, previous)
            self.handled.discard(update.request_id)
            self._reject(update, f"{NOT_STORED}{reason}", sender)

        self.store.write([record, InboundHandled(update.request_id, self.owner, outcome, now)],
                         then=committed, otherwise=not_stored)

    def _reject(self, update: UpdateFederation, reason: str, sender: ActorAddress) -> None:
        metrics.UPDATES.labels(outcome="rejected").inc()
        metrics.REJECTED.labels(reason=_reason_kind(reason)).inc()
        self.log.warning("federation update %s (version %d) rejected: %s", update.request_id,
                         update.version, reason)
        outcome = f"rejected: {reason}"
        now = time.time()
        self.handled.add(update.request_id, outcome, now)
        self.store.write([InboundHandled(update.request_id, self.owner, outcome, now)],
                         then=lambda: self.send(sender, Handled(update.request_id)))

    def _handled_again(self, request_id: str, sender: ActorAddress) -> None:
        """`Handled` for a push seen before, never ahead of its first outcome's commit.

        The stream acknowledges a `Handled` to governance, which then forgets the push
        (convention 8). A repeat that arrives while the first delivery's write is still
        on its way (a restarted stream routes what governance pushed again) must not be
        confirmed before that write is: an empty write joins the next transaction, so its
        `then` runs only after every write made before it has committed."""
        if len(self.store):
            self.store.write([], then=lambda: self.send(sender, Handled(request_id)))
        else:
            self.send(sender, Handled(request_id))

    def _applied(self, records: list[FederationRecord]) -> None:
        current = self.book.current
        for record in records:
            metrics.APPLIED.inc()
            if current is not None and record.version < current.version:
                self.log.info("federation version %d reached its height after version %d: "
                              "on record only", record.version, current.version)
                continue
            self.log.info("federation version %d in force%s", record.version,
                          " (emergency halt)" if record.halted else "")
        self._announce()

    # -- proposals and notices ------------------------------------------------------

    def receiveMsg_ProposalReceived(self, message: ProposalReceived, sender: ActorAddress) -> None:
        if message.proposal_id in self.proposals:
            self._handled_again(message.proposal_id, sender)
            return
        record = ProposalRecord(message.proposal_id, message.proposal_type, message.data,
                                message.voting_deadline, message.required_votes, time.time())
        # Only the id stays in memory: the data (up to 4 MB) goes to storage alone.
        self.proposals.add(record.proposal_id, None, record.received_at)
        self.log.info("proposal %s (%s) stored", record.proposal_id, record.proposal_type)

        def not_stored(reason: str) -> None:
            # Not listed, since not kept; Handled all the same, or the stream would hold
            # the notice for good and route it again to every restarted chain.
            self.proposals.discard(record.proposal_id)
            self.log.warning("proposal %s not stored: %s", record.proposal_id, reason)
            self.send(sender, Handled(message.proposal_id))

        self.store.write([record], then=lambda: self.send(sender, Handled(message.proposal_id)),
                         otherwise=not_stored)

    def receiveMsg_ListProposals(self, message: ListProposals, sender: ActorAddress) -> None:
        """Read back from storage: proposals' data is never held here. A failed read is
        logged and answered with an empty list (the message has no error field)."""

        def answer(records: tuple[Any, ...] | None, error: str | None) -> None:
            if error:
                self.log.error("listing proposals: could not read storage: %s", error)
            self.send(sender, ProposalList(tuple(
                Proposal(**dataclasses.asdict(r)) for r in records or ()
                if isinstance(r, ProposalRecord))))

        self.fetches.fetch(self._storage, answer,
                           proposals_since=self.proposals.cutoff(time.time()))

    def receiveMsg_ListFederations(self, message: ListFederations,
                                   sender: ActorAddress) -> None:
        """Read back from storage: memory holds the version in force and those scheduled."""
        limit = getattr(message, "limit", None)
        if not isinstance(limit, int) or isinstance(limit, bool) or \
                not 1 <= limit <= MAX_FEDERATIONS_LISTED:
            self.send(sender, FederationHistory((), f"limit must be a whole number from 1 "
                                                    f"to {MAX_FEDERATIONS_LISTED}, got "
                                                    f"{limit!r}"))
            return

        def answer(records: tuple[Any, ...] | None, error: str | None) -> None:
            if error:
                self.log.error("listing federations: could not read storage: %s", error)
            found = [r for r in records or () if isinstance(r, FederationRecord)]
            self.send(sender, FederationHistory(
                tuple(federation_version(r) for r in found[-limit:]), error))

        self.fetches.fetch(self._storage, answer, federations=True, limit=limit)

    def receiveMsg_PegoutCompleted(self, message: PegoutCompleted, sender: ActorAddress) -> None:
        metrics.PEGOUTS_COMPLETED.inc()
        self.log.debug("peg-out %s broadcast as %s", message.request_id, message.txid)
        self.send(sender, Handled(message.request_id))

    def receiveMsg_Handled(self, message: Handled, sender: ActorAddress) -> None:
        pass  # the BridgeActor confirming a FederationChanged

    def receiveMsg_GetChainStatus(self, message: GetChainStatus, sender: ActorAddress) -> None:
        self.send(sender, self._status())

    def _status(self) -> ChainStatus:
        current = self.book.current
        return ChainStatus(
            height=self.height,
            federation_version=current.version if current else None,
            federation_address=current.address if current else None,
            threshold=current.threshold if current else None,
            members=self.book.active_keys_hex(),
            scheduled=self.book.schedule_summary(),
            halted=bool(current and current.halted),
            script_type=current.script_type if current else None,
        )


NOT_STORED = "not stored: "
ADVANCE_HEIGHT_REFUSED = ("AdvanceHeight is off: chain.allow_advance_height is false (unset, "
                          "it is on only in local mode, with the mock enabled)")


def _reason_kind(reason: str) -> str:
    """A short, bounded label for the metric (the full reason goes to the log)."""
    if reason.startswith(NOT_STORED):
        return "storage"
    for kind in ("script_type", "version", "signature", "address", "threshold", "duplicate",
                 "key", "member"):
        if kind in reason:
            return kind
    return "other"
