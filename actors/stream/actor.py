"""StreamActor: the node's one gateway to Anduro Governance.

It owns one `GovernanceConnection` at a time (a gRPC channel and call whose
threads feed the actor's `Inbox`) and everything about it: the connection
state machine, registration, heartbeats and status updates, reconnect
backoff, the circuit breaker and endpoint failover. Two parts it is composed
of do the rest, each with the actor as its `Session`:

- `OutboundRequests` (outbound.py): the outbox, pending requests and their
  timeouts;
- `InboundHandler` (inbound.py): what each frame from governance means,
  including routing to the bridge and the chain, at least once.

All of that state lives in the actor's thread; the gRPC threads only put
events in the inbox. Timers are Thespian wakeups tagged with the connection's
generation, so a timer of a connection already replaced does nothing.
"""

from __future__ import annotations

import math
import os
import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from thespian.actors import ActorAddress, ThespianWatch, WakeupMessage, WatchMessage

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
from actors.stream.acks import PUSH_ACK_FEATURE, PushAcks
from actors.stream.backoff import ReconnectPolicy, ReconnectSchedule
from actors.stream.breaker import CircuitBreaker, CircuitState
from actors.stream.endpoints import Endpoint, EndpointRotation
from actors.stream.inbound import InboundHandler
from actors.stream.inbox import Inbox, InboxEvent
from actors.stream.liveness import Liveness
from actors.stream.outbound import OutboundRequests, Outgoing
from actors.stream.outbox import Outbox
from actors.stream.pending import PendingRequests
from actors.stream.routing import InboundRouter
from actors.stream.state import ConnectionState, ConnectionStateMachine
from actors.stream.wire import encode
from protocol import governance_pb2 as pb

if TYPE_CHECKING:
    from actors.stream.connection import GovernanceConnection

INBOX_CAPACITY = 20_000
DRAIN_BATCH = 2_000  # events handled per wake before other messages get a turn
ROUTE_BATCH = 500  # messages per Batch sent to a target
NODE_VERSION = "alys-node/0.1"
CAPABILITIES = ("signatures", "pegin", "federation_updates", "proposals")
# The longest wait for GetCapabilities before registering without it (convention 8).
CAPABILITIES_TIMEOUT_S = 5.0

State = ConnectionState


@dataclass(frozen=True)
class _Tick:
    """Wakeup payload: `kind` is due for connection `generation`."""

    kind: str  # connect | reconnect | capabilities | registration | heartbeat | status |
    # resume | timeouts
    generation: int


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
        self.rng = random.Random()
        self.machine = ConnectionStateMachine()
        self.backoff = ReconnectSchedule(ReconnectPolicy.from_config(governance.reconnect))
        breaker = governance.circuit_breaker
        self.breaker = CircuitBreaker(breaker.failure_threshold, breaker.reset_timeout_s,
                                      time.monotonic)
        self.endpoints = EndpointRotation(
            [Endpoint(e.url, e.priority) for e in governance.endpoints])
        pending = PendingRequests[Outgoing]()
        self.outbound = OutboundRequests(
            self, node_id=self.config.node.id, timeouts=governance.request_timeout_s,
            outbox=Outbox(governance.outbox.capacity, governance.outbox.overflow),
            pending=pending, log=self.log)
        self.liveness = Liveness(governance.heartbeat_interval_s,
                                 governance.heartbeat_timeout_s, time.monotonic, time.time)
        self.router = InboundRouter()
        self.acks = PushAcks(governance.push_acks)
        # Children looked up once: one acknowledgement per push, so per-call labels cost.
        self._acks_counted = {reason: metrics.PUSH_ACKS.labels(reason=reason)
                              for reason in ("handled", "repeat", "refused")}
        self.outbound.acks_wanted = self.acks.wanted
        self.inbound = InboundHandler(
            self, pending=pending, timed_out=self.outbound.timed_out, liveness=self.liveness,
            router=self.router, log=self.log, max_retry_after_s=governance.max_retry_after_s,
            acks=self.acks)
        self.inbox = Inbox[InboxEvent](INBOX_CAPACITY, max_bytes=governance.inbox_max_bytes)
        self.generation = 0
        self.connection: GovernanceConnection | None = None
        self.connected_since: float | None = None
        self.sent = 0
        self.reconnects = 0
        self.reason = "not started"  # why the stream is in its state: the last move's reason
        self.last_error: str | None = None  # why the last connection failed; None once up
        self.routed_to: dict[str, ActorAddress] = {}
        self._handled_from: ActorAddress | None = None
        self._handled_target: str | None = None
        metrics.STATE.labels(state=State.DISCONNECTED.value).set(1)
        # Connect on the next turn: `_Started` goes out first, so the supervisor
        # does not wait for grpc's import and the first channel (~40 ms).
        self.schedule("connect", 0)

    def receiveMessage(self, message: object, sender: ActorAddress) -> ThespianWatch | None:
        super().receiveMessage(message, sender)
        # Thespian watches only the descriptors returned by the latest call.
        return ThespianWatch([self.inbox.fileno()]) if self.inbox is not None else None

    def on_stop(self) -> None:
        if self.inbox is not None and self.connection is not None:
            self.connection.close()

    # -- the connection's life (also the `Session` of the inbound and outbound parts) ----

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

    def _connect(self) -> None:
        """Open a connection to the current endpoint and register, unless the circuit is open."""
        if not self.breaker.allow():
            self._export_circuit()
            if self.state is not State.FAILED:
                self.move(State.FAILED, "circuit open")
            wait_s = self.breaker.seconds_until_trial()
            if math.isfinite(wait_s):  # infinite while a half-open trial is still in flight
                self.schedule("reconnect", max(wait_s, 0.01))
            return
        self._export_circuit()
        from actors.stream.connection import ConnectionSettings, GovernanceConnection

        governance = self.config.governance
        endpoint = self.endpoints.current
        token_env = governance.auth.token_env
        token = os.environ.get(token_env) if token_env else None
        settings = ConnectionSettings(
            endpoint=endpoint.url, tls_enabled=governance.tls.enabled,
            ca_file=governance.tls.ca_file, cert_file=governance.tls.cert_file,
            key_file=governance.tls.key_file, token=token,
            keepalive_time_s=governance.heartbeat_interval_s,
            keepalive_timeout_s=governance.heartbeat_timeout_s, limits=governance.limits)
        self.generation += 1
        self.move(State.CONNECTING, f"endpoint={endpoint.url} attempt={self.backoff.attempt + 1}")
        assert self.inbox is not None  # made in on_start, before the first connect
        self.connection = GovernanceConnection(settings, self.generation, self.inbox)
        try:
            self.connection.open()
        except (OSError, ValueError) as exc:  # e.g. an unreadable certificate file
            self.log.error("cannot open a channel to %s: %s", endpoint.url, exc)
            self.lost(f"cannot open a channel: {exc}")
            return
        if self.acks.needs_capabilities:
            # Asked first, so the registration can say whether this node acknowledges
            # pushes, and no acknowledgement reaches a governance that did not ask for it.
            # One round trip per connect; the stream call is already open meanwhile.
            timeout_s = min(governance.heartbeat_timeout_s, CAPABILITIES_TIMEOUT_S)
            self.connection.ask_capabilities(self.config.node.id, timeout_s)
            self.schedule("capabilities", timeout_s + 1.0)  # in case no answer ever comes
            return
        self._register(token)

    def capabilities_known(self, advertised: bool, error: str | None) -> None:
        if self.state is not State.CONNECTING:
            return  # the connection was lost meanwhile, or the fallback timer came first
        if self.acks.advertised is not advertised:
            self.log.info("governance at %s %s push acknowledgements", self.endpoints.current.url,
                          "asks for" if advertised else "does not ask for")
        self.acks.advertised = advertised
        self.outbound.acks_wanted = self.acks.wanted
        token_env = self.config.governance.auth.token_env
        self._register(os.environ.get(token_env) if token_env else None)

    def _register(self, token: str | None) -> None:
        capabilities = CAPABILITIES + ((PUSH_ACK_FEATURE,) if self.acks.wanted else ())
        self.write(encode.registration(
            self.config.node.id, public_key="", version=NODE_VERSION,
            capabilities=capabilities, token=token, now=int(time.time()),
            request_id=f"register/{self.generation}"), "registration")
        self.move(State.REGISTERING, "registration sent")
        self.schedule("registration", self.config.governance.heartbeat_timeout_s)

    def registered(self) -> None:
        self.breaker.record_success()
        self._export_circuit()
        # The backoff is reset only once the session has proved stable (`lost`): a
        # governance that ends every session at once (an oversized frame each time) must
        # meet a growing backoff, not a reconnect a second forever.
        self.last_error = None
        self.connected_since = time.time()
        self.move(State.CONNECTED, f"registered at {self.endpoints.current.url}")
        self.liveness.start()
        self.schedule("heartbeat", self.config.governance.heartbeat_interval_s)
        self.schedule("status", self.config.governance.status_interval_s)
        self.outbound.resend_pending()
        self.outbound.flush()

    def lost(self, reason: str) -> None:
        """The connection is gone or unusable: close it and schedule the next attempt."""
        was_up = self.state in (State.CONNECTED, State.SUSPENDED)
        # A session that outlived one heartbeat timeout was a working one: the backoff
        # starts afresh after it; a shorter one counts as one more failed attempt.
        stable_s = self.config.governance.heartbeat_timeout_s
        if was_up and self.connected_since is not None and (
                time.time() - self.connected_since >= stable_s):
            self.backoff.reset()
        self.last_error = reason
        if self.connection is not None:
            self.connection.close()
            self.connection = None
        self.connected_since = None
        if was_up:
            self.reconnects += 1
            metrics.RECONNECTS.inc()
        else:
            self.breaker.record_failure()  # it never got as far as a working session
        self._export_circuit()
        self.generation += 1  # everything of the old connection is stale from here
        if was_up:
            # A working session ended: back off, then start again from the preferred endpoint.
            self.endpoints.restart_round()
            delay = self.backoff.next(self.rng)
        else:
            # Fail over to the next endpoint at once; back off only after a whole round.
            new_round = self.endpoints.fail_over() or len(self.endpoints) == 1
            delay = self.backoff.next(self.rng) if new_round else 0.0
        if self.breaker.state is CircuitState.OPEN:
            self.move(State.FAILED, f"{reason}; circuit open")
            self.schedule("reconnect", self.breaker.seconds_until_trial())
            return
        if self.backoff.exhausted and delay:
            # Never parked: past max_attempts it keeps trying, at the longest backoff, and
            # says so (status, /readyz) until governance is back.
            attempts = self.config.governance.reconnect.max_attempts
            self.move(State.FAILED, f"{reason}; reconnect attempts exhausted "
                      f"(max_attempts={attempts}), still trying: next in {delay:.2f}s")
        else:
            self.move(State.RECONNECTING, f"{reason}; next attempt in {delay:.2f}s")
        self.schedule("reconnect", delay)

    def _export_circuit(self) -> None:
        for change in self.breaker.drain_transitions():
            metrics.CIRCUIT.labels(state=change.target.value).inc()
            self.log.warning("circuit %s -> %s", change.source.value, change.target.value)

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
        if tick.generation != self.generation:
            return  # a timer of a connection that was replaced
        handler = getattr(self, f"_on_{tick.kind}_tick")
        handler()

    def _on_connect_tick(self) -> None:
        if self.state is State.DISCONNECTED:
            self._connect()

    def _on_reconnect_tick(self) -> None:
        if self.state in (State.RECONNECTING, State.FAILED):
            self._connect()

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

    def _on_resume_tick(self) -> None:
        if self.state is State.SUSPENDED:
            self.move(State.CONNECTED, "retry_after elapsed")
            self.outbound.flush()

    # -- outbound -------------------------------------------------------------------

    def receiveMsg_RequestSignatures(self, message: RequestSignatures,
                                     sender: ActorAddress) -> None:
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
        if target is not None:
            self._pump(target)
        if self._coalescing is None:  # inside a Batch, receiveMsg_Batch exports it once
            metrics.UNHANDLED.set(len(self.router))

    def receiveMsg_Batch(self, message: Batch, sender: ActorAddress) -> None:
        super().receiveMsg_Batch(message, sender)
        metrics.UNHANDLED.set(len(self.router))

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
        self.send(sender, ConnectionStatus(
            state=self.state.value,
            endpoint=self.endpoints.current.url,
            connected_since=self.connected_since,
            last_heartbeat_ack=self.liveness.last_ack_wall_time,
            messages_sent=self.sent,
            messages_received=self.inbound.received,
            buffered=self.outbound.buffered,
            pending=self.outbound.pending,
            reconnects=self.reconnects,
            circuit=self.breaker.state.value,
            unhandled=len(self.router),
            reason=self.reason,
            last_error=self.last_error,
        ))
