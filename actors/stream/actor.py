"""StreamActor: the node's one gateway to Anduro Governance.

It owns one `GovernanceConnection` at a time (a gRPC channel and call whose
threads feed the actor's `Inbox`), its generation, the connection state
machine, the timers (heartbeats, status updates) and the Thespian glue.
Three parts it is composed of do the rest, each with the actor as its
`Session`:

- `Connector` (connector.py): connect, register, lose and reconnect, with
  the backoff, the circuit breaker and endpoint failover;
- `OutboundRequests` (outbound.py): the outbox, pending requests and their
  timeouts;
- `InboundHandler` (inbound.py): what each frame from governance means,
  including routing to the bridge and the chain, at least once.

All of that state lives in the actor's thread; the gRPC threads only put
events in the inbox. Timers are Thespian wakeups tagged with the connection's
generation, so a timer of a connection already replaced does nothing.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING

from thespian.actors import (
    ActorAddress,
    PoisonMessage,
    ThespianWatch,
    WakeupMessage,
    WatchMessage,
)

from actors.base import NodeActor
from actors.lifecycle import _Start
from actors.messages import (
    Batch,
    ConnectionStatus,
    GetConnectionStatus,
    Handled,
    HeightObserved,
    NotifyPegin,
    RequestSignatures,
)
from actors.stream import metrics
from actors.stream.acks import PushAcks
from actors.stream.connector import Connector
from actors.stream.credentials import Credentials, check_auth, key_path
from actors.stream.endpoints import Endpoint, EndpointRotation
from actors.stream.inbound import InboundHandler
from actors.stream.inbox import Inbox, InboxEvent
from actors.stream.liveness import Liveness
from actors.stream.outbound import OutboundRequests, Outgoing
from actors.stream.outbox import Outbox
from actors.stream.pending import PendingRequests
from actors.stream.routing import IN_ORDER, REDELIVER_S, InboundRouter, routed_id
from actors.stream.state import ConnectionState, ConnectionStateMachine
from actors.stream.wire import encode
from actors.stream.wire.events import RegistrationAck
from protocol import governance_pb2 as pb
from runtime import tracing

if TYPE_CHECKING:
    from actors.stream.connection import GovernanceConnection
    from nodeconfig import NodeConfig

INBOX_CAPACITY = 20_000
DRAIN_BATCH = 2_000  # events handled per wake before other messages get a turn
ROUTE_BATCH = 500  # messages per Batch sent to a target

State = ConnectionState


@dataclass(frozen=True)
class _Tick:
    """Wakeup payload: `kind` is due for connection `generation`."""

    kind: str  # connect | reconnect | capabilities | registration | heartbeat | status |
    # resume | renew | timeouts | credentials | redeliver
    generation: int


def _unbatched(message: object) -> Iterator[object]:
    """The messages one send carried. A Batch may hold Batches: sends coalesced while a
    Batch was handled (`coalesced_sends`) go as one, each routed Batch an item of it."""
    if isinstance(message, Batch):
        for item in message.items:
            yield from _unbatched(item)
    else:
        yield message


@dataclass(frozen=True)
class _FlushMore:
    generation: int


class StreamActor(NodeActor):
    name = "stream"

    def __init__(self) -> None:
        super().__init__()
        self.inbox: Inbox[InboxEvent] | None = None

    # -- start ------------------------------------------------------------------

    def on_start(self, start: _Start) -> None:
        governance = self.config.governance
        self.machine = ConnectionStateMachine()
        pending = PendingRequests[Outgoing]()
        self.outbound = OutboundRequests(
            self, node_id=self.config.node.id, timeouts=governance.request_timeout_s,
            outbox=Outbox(governance.outbox.capacity, governance.outbox.overflow),
            pending=pending, log=self.log)
        self.liveness = Liveness(governance.heartbeat_interval_s,
                                 governance.heartbeat_timeout_s, time.monotonic, time.time)
        self.router = InboundRouter(in_order=IN_ORDER)
        self.acks = PushAcks(governance.push_acks)
        # Children looked up once: one acknowledgement per push, so per-call labels cost.
        self._acks_counted = {reason: metrics.PUSH_ACKS.labels(reason=reason)
                              for reason in ("handled", "repeat", "refused")}
        self.outbound.acks_wanted = self.acks.wanted
        self.inbound = InboundHandler(
            self, pending=pending, timed_out=self.outbound.timed_out, liveness=self.liveness,
            router=self.router, log=self.log, max_retry_after_s=governance.max_retry_after_s,
            acks=self.acks, timeouts=governance.request_timeout_s)
        self.inbox = Inbox[InboxEvent](INBOX_CAPACITY, max_bytes=governance.inbox_max_bytes)
        self.generation = 0
        self.connection: GovernanceConnection | None = None
        check_auth(self.config)
        self.credentials = Credentials(governance.auth, key_path(self.config), self.log)
        self.log.info("node public key %s", self.credentials.public_key_hex)
        self._reread_credentials = False
        try:  # the actor's own process: its main thread (Thespian sets a logging handler)
            signal.signal(signal.SIGHUP, self._on_sighup)
        except ValueError:  # not the main thread (an in-process actor system): no SIGHUP
            self.log.debug("SIGHUP not handled here: not the main thread")
        self.connector = Connector(
            self, governance=governance, node_id=self.config.node.id, inbox=self.inbox,
            outbound=self.outbound, liveness=self.liveness, acks=self.acks,
            credentials=self.credentials, log=self.log)
        self.sent = 0
        self.reason = "not started"  # why the stream is in its state: the last move's reason
        self.routed_to: dict[str, ActorAddress] = {}
        self._handled_from: ActorAddress | None = None
        self._handled_target: str | None = None
        metrics.STATE.labels(state=State.DISCONNECTED.value).set(1)
        metrics.CIRCUIT_STATE.labels(state=self.connector.breaker.state.value).set(1)
        # Connect on the next turn: `_Started` goes out first, so the supervisor
        # does not wait for grpc's import and the first channel (~40 ms).
        self.schedule("connect", 0)
        self.schedule("credentials", governance.auth.check_interval_s)
        self.schedule("redeliver", REDELIVER_S / 3)

    def on_reconfigure(self, config: NodeConfig, changed: tuple[str, ...]) -> None:
        """A reload re-reads the credential files at once (as SIGHUP does at the next
        check); new governance endpoints take over at once, from the most preferred one."""
        reason = self.credentials.poll(force=True)
        if reason is not None:
            self.connector.renew(reason)
        if "governance.endpoints" in changed:
            self.connector.endpoints = EndpointRotation(
                [Endpoint(e.url, e.priority) for e in config.governance.endpoints])
            self.connector.renew("the governance endpoints changed")

    def receiveMessage(self, message: object, sender: ActorAddress) -> ThespianWatch | None:
        super().receiveMessage(message, sender)
        # Thespian watches only the descriptors returned by the latest call.
        return ThespianWatch([self.inbox.fileno()]) if self.inbox is not None else None

    def on_stop(self) -> None:
        if self.inbox is not None and self.connection is not None:
            self.connection.close()

    # -- the `Session` of the connector, the inbound and the outbound parts ----------

    @property
    def state(self) -> ConnectionState:
        return self.machine.state

    def move(self, target: ConnectionState, reason: str) -> None:
        source = self.state
        self.machine.move(target, reason)
        self.reason = reason
        metrics.STATE.labels(state=source.value).set(0)
        metrics.STATE.labels(state=target.value).set(1)
        metrics.TRANSITIONS.labels(state=target.value).inc()
        metrics.UP.set(1 if target is State.CONNECTED else 0)
        self.log.info("stream state %s -> %s (%s)", source.value, target.value, reason)

    # The connector's moves, named here as the inbound part's `Session` calls them.

    def capabilities_known(self, advertised: bool, error: str | None) -> None:
        self.connector.capabilities_known(advertised, error)

    def registered(self, ack: RegistrationAck | None = None) -> None:
        self.connector.registered(ack)

    def lost(self, reason: str, auth_refused: bool = False) -> None:
        self.connector.lost(reason, auth_refused)

    def write(self, request: pb.StreamRequest, kind: str) -> None:
        assert self.connection is not None  # written only while a connection is open
        self.connection.send(request)
        self.sent += 1
        metrics.SENT.labels(type=kind).inc()

    def reply(self, to: ActorAddress | None, message: object) -> None:
        if to is not None:
            self.send(to, message)

    def acknowledge(self, request_id: str, reason: str) -> None:
        """Acknowledge a push (convention 8), if this session takes acknowledgements."""
        if self.acks.wanted:
            self.outbound.acknowledge(request_id)
            self._acks_counted[reason].inc()

    # -- timers -------------------------------------------------------------------

    def schedule(self, kind: str, delay_s: float) -> None:
        self.wakeupAfter(max(delay_s, 0.0), payload=_Tick(kind, self.generation))

    def receiveMsg_WakeupMessage(self, message: WakeupMessage, sender: ActorAddress) -> None:
        tick = message.payload
        if not isinstance(tick, _Tick):
            return
        if tick.kind == "timeouts":
            self.outbound.expire()
            return
        if tick.kind == "credentials":  # not tied to a connection: one chain of checks
            self._check_credentials()
            return
        if tick.kind == "redeliver":  # nor is routing to the targets
            self.schedule("redeliver", REDELIVER_S / 3)
            self._redeliver_stalled()
            return
        if tick.generation != self.generation:
            return  # a timer of a connection that was replaced
        handler = getattr(self, f"_on_{tick.kind}_tick")
        handler()

    def _on_connect_tick(self) -> None:
        if self.state is State.DISCONNECTED:
            self.connector.connect()

    def _on_reconnect_tick(self) -> None:
        if self.state in (State.RECONNECTING, State.FAILED):
            self.connector.connect()

    def _on_capabilities_tick(self) -> None:
        if self.state is State.CONNECTING:
            self.capabilities_known(False, "no answer in time")

    def _on_registration_tick(self) -> None:
        if self.state is State.REGISTERING:
            self.lost("no registration ack within the heartbeat timeout")

    def _on_heartbeat_tick(self) -> None:
        if self.state not in (State.CONNECTED, State.SUSPENDED) or self.connection is None:
            return
        now = time.monotonic()
        silent_s = now - self.connection.last_frame_at
        if self.liveness.dead(now) and silent_s >= self.config.governance.heartbeat_timeout_s:
            self.lost(f"nothing from governance for {silent_s:.1f}s, no heartbeat ack")
            return
        beat = self.liveness.next_heartbeat()
        self.write(encode.heartbeat(sequence=beat.sequence, timestamp=beat.timestamp,
                                    node_id=self.config.node.id,
                                    request_id=f"heartbeat/{beat.sequence}"), "heartbeat")
        self.schedule("heartbeat", self.config.governance.heartbeat_interval_s)

    def _on_status_tick(self) -> None:
        if self.state is State.CONNECTED:
            request_id = f"status/{self.config.node.id}/{time.time_ns()}"
            self.outbound.submit("status", request_id, None, None)
        if self.state in (State.CONNECTED, State.SUSPENDED):
            self.schedule("status", self.config.governance.status_interval_s)

    def _on_renew_tick(self) -> None:
        if self.state in (State.CONNECTED, State.SUSPENDED):
            self.connector.renew("session token due for renewal")

    def _check_credentials(self) -> None:
        """Every `auth.check_interval_s`: a rotated credential file or node key (or SIGHUP)
        is presented on a new connection at once."""
        force, self._reread_credentials = self._reread_credentials, False
        reason = self.credentials.poll(force=force)
        if reason is not None:
            self.connector.renew(reason)
        self.schedule("credentials", self.config.governance.auth.check_interval_s)

    def _on_sighup(self, signum: int, frame: FrameType | None) -> None:
        # Only a flag: the handler may interrupt the actor anywhere. The next check
        # re-reads every file even if its stat did not change.
        self._reread_credentials = True

    def _on_resume_tick(self) -> None:
        if self.state is State.SUSPENDED:
            self.move(State.CONNECTED, "retry_after elapsed")
            self.outbound.flush()

    # -- outbound -------------------------------------------------------------------

    def receiveMsg_RequestSignatures(self, message: RequestSignatures,
                                     sender: ActorAddress) -> None:
        if tracing.active and message.traceparent is not None:  # until the answer routed
            tracing.begin(("signature", message.request_id), "governance.signature_request",
                          tracing.current_traceparent(), request_id=message.request_id)
        self.outbound.submit("signature", message.request_id, message, sender)

    def receiveMsg_NotifyPegin(self, message: NotifyPegin, sender: ActorAddress) -> None:
        self.outbound.submit("pegin", message.request_id, message, sender)

    def flush_later(self) -> None:
        self.send(self.myAddress, _FlushMore(self.generation))

    def receiveMsg__FlushMore(self, message: _FlushMore, sender: ActorAddress) -> None:
        if message.generation == self.generation:
            self.outbound.flush()

    # -- inbound ----------------------------------------------------------------------

    def receiveMsg_WatchMessage(self, message: WatchMessage, sender: ActorAddress) -> None:
        assert self.inbox is not None  # watched only once on_start made it
        targets: set[str] = set()
        for event in self.inbox.drain(DRAIN_BATCH):
            if event.generation == self.generation:
                self.inbound.handle(event, targets)
        for target in targets:
            self._pump(target)
        self.inbound.export_received()
        metrics.UNHANDLED.set(len(self.router))

    def _pump(self, target: str) -> None:
        """Send `target` what waits for it, in batches, as far as the in-flight bound allows."""
        address = self.peers.get(target)
        if address is None:
            return  # kept; routed when the target's address arrives
        while batch := self.router.take(target, ROUTE_BATCH):
            self.send(address, batch[0] if len(batch) == 1 else Batch(tuple(batch)))

    def receiveMsg_Handled(self, message: Handled, sender: ActorAddress) -> None:
        target = self.router.handled(message.request_id, self._target_of(sender))
        if target == "chain":
            # The chain answers `Handled` only once its outcome is committed: now governance
            # may forget the push.
            self.acknowledge(self.acks.owed(message.request_id), "handled")
            if tracing.active:  # the push's trace ends once the chain committed it
                tracing.end(("push", message.request_id))
        if target is not None:
            self._pump(target)
        if self._coalescing is None:  # inside a Batch, receiveMsg_Batch exports it once
            metrics.UNHANDLED.set(len(self.router))

    def receiveMsg_Batch(self, message: Batch, sender: ActorAddress) -> None:
        super().receiveMsg_Batch(message, sender)
        metrics.UNHANDLED.set(len(self.router))

    def receiveMsg_PoisonMessage(self, message: PoisonMessage, sender: ActorAddress) -> None:
        """A target failed on what it was routed (its handler raised twice). Those messages
        are dropped here, so they no longer hold the target's lane (the chain's takes one
        send at a time): a push without an acknowledgement, so governance pushes it again
        when the node registers again; a signature answer the bridge asks for again when
        its own deadline for the attempt passes. In a returned Batch, what the target did
        confirm is normally dropped by its `Handled` already; the rest, after the item it failed
        on, was never tried and goes the same way."""
        super().receiveMsg_PoisonMessage(message, sender)
        target = self._target_of(sender)
        ids = (routed_id(item) for item in _unbatched(message.poisonMessage))
        failed = [rid for rid in ids if target is not None and rid is not None
                  and self.router.failed(rid, target)]
        if failed:
            metrics.UNEXPECTED.labels(kind="target_failed").inc(len(failed))
            self.log.error("the %s failed on %d routed messages (%s): dropped; a push is "
                           "not acknowledged (governance pushes it again), a signature answer "
                           "is asked again by the bridge", target, len(failed),
                           ", ".join(failed[:3]) + (", ..." if len(failed) > 3 else ""))
            self._pump(target)  # type: ignore[arg-type]  # not None: it failed something
        metrics.UNHANDLED.set(len(self.router))

    def _redeliver_stalled(self) -> None:
        for target in self.router.stalled():
            again = self.router.requeue(target)
            when = "now" if self.peers.get(target) is not None else "once it is back"
            self.log.warning("the %s confirmed none of its unhandled messages for %gs: "
                             "sending %d again %s", target, REDELIVER_S, again, when)
            self._pump(target)

    def _target_of(self, sender: ActorAddress) -> str | None:
        """Which target a `Handled` comes from: each target is its own id space. None for
        an address the stream never routed to (the router then looks the id up)."""
        if sender is self._handled_from:  # every item of a Batch has the same sender
            return self._handled_target
        target = next((t for t, a in self.routed_to.items() if a == sender), None)
        self._handled_from, self._handled_target = sender, target
        return target

    def on_peers_changed(self) -> None:
        self._handled_from = None  # an address may now belong to another target
        for target in ("bridge", "chain"):
            address = self.peers.get(target)
            if address is not None and address != self.routed_to.get(target):
                self.routed_to[target] = address
                requeued = self.router.requeue(target)
                if requeued:
                    self.log.info("re-routing %d unhandled messages to the new %s",
                                  requeued, target)
                self._pump(target)

    # -- status -------------------------------------------------------------------------

    def receiveMsg_HeightObserved(self, message: HeightObserved, sender: ActorAddress) -> None:
        self.outbound.block_height = message.height

    def receiveMsg_GetConnectionStatus(self, message: GetConnectionStatus,
                                       sender: ActorAddress) -> None:
        connector = self.connector
        self.send(sender, ConnectionStatus(
            state=self.state.value,
            endpoint=connector.endpoints.current.url,
            connected_since=connector.connected_since,
            last_heartbeat_ack=self.liveness.last_ack_wall_time,
            messages_sent=self.sent,
            messages_received=self.inbound.received,
            buffered=self.outbound.buffered,
            pending=self.outbound.pending,
            reconnects=connector.reconnects,
            circuit=connector.breaker.state.value,
            unhandled=len(self.router),
            reason=self.reason,
            last_error=connector.last_error,
        ))
