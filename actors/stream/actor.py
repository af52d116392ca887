"""StreamActor: the node's one gateway to Anduro Governance.

It owns one `GovernanceConnection` at a time (a gRPC channel and call whose
threads feed the actor's `Inbox`) and everything about it: the connection
state machine, registration, heartbeats and status updates, reconnect
backoff, the circuit breaker, endpoint failover, the outbox, pending
requests and their timeouts, and routing what governance sends to the
bridge and the chain, at least once.

All of that state lives in the actor's thread; the gRPC threads only put
events in the inbox. Timers are Thespian wakeups tagged with the connection's
generation, so a timer of a connection already replaced does nothing.
"""

from __future__ import annotations

import math
import os
import random
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass
from typing import Any

from thespian.actors import ThespianWatch, WakeupMessage, WatchMessage

from actors.base import NodeActor
from actors.lifecycle import _Start
from actors.messages import (
    Batch,
    ConnectionStatus,
    GetConnectionStatus,
    Handled,
    HeightObserved,
    NotifyPegin,
    RequestQueued,
    RequestRejected,
    RequestSignatures,
    RequestTimedOut,
)
from actors.stream import convert, metrics
from actors.stream.backoff import ReconnectPolicy, ReconnectSchedule
from actors.stream.breaker import CircuitBreaker, CircuitState
from actors.stream.endpoints import Endpoint, EndpointRotation
from actors.stream.inbound import InboundHandling
from actors.stream.inbox import Inbox
from actors.stream.liveness import Liveness
from actors.stream.outbox import Outbox, OutboxItem
from actors.stream.pending import PendingRequest, PendingRequests
from actors.stream.priorities import PRIORITY_BY_KIND
from actors.stream.routing import InboundRouter
from actors.stream.state import ConnectionState, ConnectionStateMachine
from protocol.errors import EncodeError

INBOX_CAPACITY = 20_000
DRAIN_BATCH = 2_000  # events handled per wake before other messages get a turn
FLUSH_BATCH = 500  # outbox items written per turn while flushing
ROUTE_BATCH = 500  # messages per Batch sent to a target
LATE_ANSWERS_KEPT = 10_000  # timed-out signature request ids whose late answer is still routed
NODE_VERSION = "alys-node/0.1"
CAPABILITIES = ("signatures", "pegin", "federation_updates", "proposals")

State = ConnectionState


@dataclass(frozen=True)
class _Tick:
    """Wakeup payload: `kind` is due for connection `generation`."""

    kind: str  # connect | reconnect | registration | heartbeat | status | resume | timeouts
    generation: int


@dataclass(frozen=True)
class _Outgoing:
    """A request as it goes on the wire, and how long its answer may take."""

    request: Any  # governance_pb2.StreamRequest
    timeout_s: float


@dataclass(frozen=True)
class _FlushMore:
    generation: int


class StreamActor(InboundHandling, NodeActor):
    name = "stream"

    def __init__(self) -> None:
        super().__init__()
        self.inbox: Inbox | None = None

    # -- start ------------------------------------------------------------------

    def on_start(self, start: _Start) -> None:
        governance = self.config.governance
        self.rng = random.Random()
        self.machine = ConnectionStateMachine()
        self.schedule = ReconnectSchedule(ReconnectPolicy.from_config(governance.reconnect))
        breaker = governance.circuit_breaker
        self.breaker = CircuitBreaker(breaker.failure_threshold, breaker.reset_timeout_s,
                                      time.monotonic)
        self.endpoints = EndpointRotation(
            [Endpoint(e.url, e.priority) for e in governance.endpoints])
        self.outbox = Outbox(governance.outbox.capacity, governance.outbox.overflow)
        self.pending = PendingRequests()
        # Signature requests that timed out, oldest first: governance's answer may still
        # come, and a valid late answer is as good as any (the bridge verifies it).
        self.timed_out: OrderedDict[str, None] = OrderedDict()
        self.liveness = Liveness(governance.heartbeat_interval_s,
                                 governance.heartbeat_timeout_s, time.monotonic, time.time)
        self.router = InboundRouter()
        self.inbox = Inbox(INBOX_CAPACITY)
        self.generation = 0
        self.connection: Any = None
        self.connected_since: float | None = None
        self.counts = {"sent": 0, "received": 0, "reconnects": 0}
        self.received_by_kind: Counter[str] = Counter()
        self.block_height = 0
        self.routed_to: dict[str, Any] = {}
        self.timeouts_due_at: float | None = None
        metrics.STATE.labels(state=State.DISCONNECTED.value).set(1)
        # Connect on the next turn: `_Started` goes out first, so the supervisor
        # does not wait for grpc's import and the first channel (~40 ms).
        self._tick("connect", 0)

    def receiveMessage(self, message: Any, sender: Any) -> Any:
        super().receiveMessage(message, sender)
        # Thespian watches only the descriptors returned by the latest call.
        return ThespianWatch([self.inbox.fileno()]) if self.inbox is not None else None

    def on_stop(self) -> None:
        if self.inbox is not None and self.connection is not None:
            self.connection.close()

    # -- connection lifecycle ---------------------------------------------------

    @property
    def state(self) -> ConnectionState:
        return self.machine.state

    def _move(self, target: ConnectionState, reason: str) -> None:
        source = self.state
        self.machine.move(target, reason)
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
                self._move(State.FAILED, "circuit open")
            wait_s = self.breaker.seconds_until_trial()
            if math.isfinite(wait_s):  # infinite while a half-open trial is still in flight
                self._tick("reconnect", max(wait_s, 0.01))
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
            keepalive_timeout_s=governance.heartbeat_timeout_s)
        self.generation += 1
        self._move(State.CONNECTING, f"endpoint={endpoint.url} attempt={self.schedule.attempt + 1}")
        self.connection = GovernanceConnection(settings, self.generation, self.inbox)
        try:
            self.connection.open()
        except (OSError, ValueError) as exc:  # e.g. an unreadable certificate file
            self.log.error("cannot open a channel to %s: %s", endpoint.url, exc)
            self._lost(f"cannot open a channel: {exc}")
            return
        self._write(convert.registration(
            self.config.node.id, public_key="", version=NODE_VERSION,
            capabilities=CAPABILITIES, token=token, now=int(time.time()),
            request_id=f"register/{self.generation}"), "registration")
        self._move(State.REGISTERING, "registration sent")
        self._tick("registration", self.config.governance.heartbeat_timeout_s)

    def _registered(self) -> None:
        self.breaker.record_success()
        self._export_circuit()
        self.schedule.reset()
        self.connected_since = time.time()
        self._move(State.CONNECTED, f"registered at {self.endpoints.current.url}")
        self.liveness.start()
        self._tick("heartbeat", self.config.governance.heartbeat_interval_s)
        self._tick("status", self.config.governance.status_interval_s)
        self._resend_pending()
        self._flush()

    def _lost(self, reason: str) -> None:
        """The connection is gone or unusable: close it and schedule the next attempt."""
        was_up = self.state in (State.CONNECTED, State.SUSPENDED)
        if self.connection is not None:
            self.connection.close()
            self.connection = None
        self.connected_since = None
        if was_up:
            self.counts["reconnects"] += 1
            metrics.RECONNECTS.inc()
        else:
            self.breaker.record_failure()  # it never got as far as a working session
        self._export_circuit()
        self.generation += 1  # everything of the old connection is stale from here
        if was_up:
            # A working session ended: back off, then start again from the preferred endpoint.
            self.endpoints.restart_round()
            delay = self.schedule.next(self.rng)
        else:
            # Fail over to the next endpoint at once; back off only after a whole round.
            new_round = self.endpoints.fail_over() or len(self.endpoints) == 1
            delay = self.schedule.next(self.rng) if new_round else 0.0
        if delay is None:
            self._move(State.FAILED, f"{reason}; reconnect attempts exhausted")
            return
        if self.breaker.state is CircuitState.OPEN:
            self._move(State.FAILED, f"{reason}; circuit open")
            self._tick("reconnect", self.breaker.seconds_until_trial())
            return
        self._move(State.RECONNECTING, f"{reason}; next attempt in {delay:.2f}s")
        self._tick("reconnect", delay)

    def _export_circuit(self) -> None:
        for change in self.breaker.drain_transitions():
            metrics.CIRCUIT.labels(state=change.target.value).inc()
            self.log.warning("circuit %s -> %s", change.source.value, change.target.value)

    # -- timers -------------------------------------------------------------------

    def _tick(self, kind: str, delay_s: float) -> None:
        self.wakeupAfter(max(delay_s, 0.0), payload=_Tick(kind, self.generation))

    def receiveMsg_WakeupMessage(self, message: WakeupMessage, sender: Any) -> None:
        tick = message.payload
        if not isinstance(tick, _Tick):
            return
        if tick.kind == "timeouts":
            self._expire_requests()
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

    def _on_registration_tick(self) -> None:
        if self.state is State.REGISTERING:
            self._lost("no registration ack within the heartbeat timeout")

    def _on_heartbeat_tick(self) -> None:
        if self.state not in (State.CONNECTED, State.SUSPENDED):
            return
        now = time.monotonic()
        silent_s = now - self.connection.last_frame_at
        if self.liveness.dead(now) and silent_s >= self.config.governance.heartbeat_timeout_s:
            self._lost(f"nothing from governance for {silent_s:.1f}s, no heartbeat ack")
            return
        beat = self.liveness.next_heartbeat()
        self._write(convert.heartbeat(sequence=beat.sequence, timestamp=beat.timestamp,
                                      node_id=self.config.node.id,
                                      request_id=f"heartbeat/{beat.sequence}"), "heartbeat")
        self._tick("heartbeat", self.config.governance.heartbeat_interval_s)

    def _on_status_tick(self) -> None:
        if self.state is State.CONNECTED:
            request_id = f"status/{self.config.node.id}/{time.time_ns()}"
            self._submit("status", request_id, None, None)
        if self.state in (State.CONNECTED, State.SUSPENDED):
            self._tick("status", self.config.governance.status_interval_s)

    def _on_resume_tick(self) -> None:
        if self.state is State.SUSPENDED:
            self._move(State.CONNECTED, "retry_after elapsed")
            self._flush()

    # -- outbound -------------------------------------------------------------------

    def receiveMsg_RequestSignatures(self, message: RequestSignatures, sender: Any) -> None:
        self._submit("signature", message.request_id, message, sender)

    def receiveMsg_NotifyPegin(self, message: NotifyPegin, sender: Any) -> None:
        self._submit("pegin", message.request_id, message, sender)

    def _submit(self, kind: str, request_id: str, message: Any, sender: Any) -> None:
        """Send now if the session is up and nothing waits before it; else queue."""
        if request_id in self.pending or request_id in self.outbox:
            metrics.UNEXPECTED.labels(kind="duplicate_request").inc()
            self._reply(sender, RequestQueued(request_id))  # idempotent: it is already on its way
            return
        try:
            outgoing = self._outgoing(kind, request_id, message)
        except EncodeError as exc:  # refused now, rather than failing later mid-flush
            metrics.DROPS.labels(reason="invalid").inc()
            self._reply(sender, RequestRejected(request_id, f"invalid: {exc}"))
            return
        item = OutboxItem(request_id, PRIORITY_BY_KIND[kind], kind, outgoing, sender)
        if self.state is State.CONNECTED and not len(self.outbox):
            self._send_request(item)
            self._reply(sender, RequestQueued(request_id))
            return
        result = self.outbox.push(item)
        for dropped in result.dropped:
            metrics.DROPS.labels(reason=dropped.reason).inc()
            self._reply(dropped.item.sender,
                        RequestRejected(dropped.item.request_id, dropped.reason))
        if result.accepted:
            self._reply(sender, RequestQueued(request_id))
        metrics.OUTBOX.set(len(self.outbox))

    def _outgoing(self, kind: str, request_id: str, message: Any) -> _Outgoing:
        """Encode a request once, when it arrives; re-sends reuse the same bytes and id."""
        node_id, now = self.config.node.id, int(time.time())
        priority = PRIORITY_BY_KIND[kind].name.lower()
        timeouts = self.config.governance.request_timeout_s
        if kind == "signature":
            request = convert.signature_request(message, request_id=request_id, node_id=node_id,
                                                now=now, priority=priority)
            return _Outgoing(request, float(message.timeout_s or timeouts.signature))
        if kind == "pegin":
            request = convert.pegin_notification(message, request_id=request_id,
                                                 node_id=node_id, now=now, priority=priority)
            return _Outgoing(request, timeouts.pegin)
        request = convert.status_update(request_id=request_id, node_id=node_id, now=now,
                                        block_height=self.block_height)
        return _Outgoing(request, timeouts.status)

    def _send_request(self, item: OutboxItem) -> None:
        now = time.monotonic()
        self._write(item.payload.request, item.kind)
        deadline = now + item.payload.timeout_s
        self.pending.add(PendingRequest(item.request_id, item.kind, item.sender, now, deadline,
                                        item.payload))
        metrics.PENDING.set(len(self.pending))
        self._arm_timeouts(deadline)

    def _write(self, request: Any, kind: str) -> None:
        self.connection.send(request)
        self.counts["sent"] += 1
        metrics.SENT.labels(type=kind).inc()

    def _flush(self) -> None:
        """Write the outbox in order, a slice per turn, while the session is up."""
        if self.state is not State.CONNECTED:
            return
        for item in self.outbox.pop_batch(FLUSH_BATCH):
            self._send_request(item)
        metrics.OUTBOX.set(len(self.outbox))
        if len(self.outbox):
            self.send(self.myAddress, _FlushMore(self.generation))

    def receiveMsg__FlushMore(self, message: _FlushMore, sender: Any) -> None:
        if message.generation == self.generation:
            self._flush()

    def _resend_pending(self) -> None:
        """Requests sent on a stream that died unanswered go again, same ids (convention 6)."""
        for entry in sorted(self.pending.entries(), key=lambda e: e.sent_at):
            self._write(entry.payload.request, entry.kind)

    def _arm_timeouts(self, deadline: float) -> None:
        if self.timeouts_due_at is None or deadline < self.timeouts_due_at:
            self.timeouts_due_at = deadline
            self.wakeupAfter(max(deadline - time.monotonic(), 0.0),
                             payload=_Tick("timeouts", self.generation))

    def _expire_requests(self) -> None:
        self.timeouts_due_at = None
        for entry in self.pending.expire(time.monotonic()):
            metrics.TIMEOUTS.labels(type=entry.kind).inc()
            self.log.warning("request %s (%s) timed out", entry.request_id, entry.kind)
            self._reply(entry.sender, RequestTimedOut(entry.request_id))
            if entry.kind == "signature":
                self.timed_out[entry.request_id] = None
                while len(self.timed_out) > LATE_ANSWERS_KEPT:
                    self.timed_out.popitem(last=False)
        metrics.PENDING.set(len(self.pending))
        upcoming = self.pending.next_deadline()
        if upcoming is not None:
            self._arm_timeouts(upcoming)

    def _reply(self, to: Any, message: Any) -> None:
        if to is not None:
            self.send(to, message)

    # -- inbound ----------------------------------------------------------------------

    def receiveMsg_WatchMessage(self, message: WatchMessage, sender: Any) -> None:
        targets: set[str] = set()
        for event in self.inbox.drain(DRAIN_BATCH):
            if event.generation == self.generation:
                self.handle_event(event, targets)
        for target in targets:
            self._pump(target)
        for kind, count in self.received_by_kind.items():
            metrics.RECEIVED.labels(type=kind).inc(count)
        self.received_by_kind.clear()
        metrics.UNHANDLED.set(len(self.router))

    def route(self, target: str, request_id: str, message: Any, targets: set[str]) -> None:
        """Route at least once: track until `Handled`, drop governance's duplicates."""
        if not self.router.admit(request_id, target, message):
            metrics.UNEXPECTED.labels(kind="duplicate").inc()
            self.log.info("duplicate %s from governance for %s dropped", request_id, target)
            return
        targets.add(target)

    def _pump(self, target: str) -> None:
        """Send `target` what waits for it, in batches, as far as the in-flight bound allows."""
        address = self.peers.get(target)
        if address is None:
            return  # kept; routed when the target's address arrives
        while batch := self.router.take(target, ROUTE_BATCH):
            self.send(address, batch[0] if len(batch) == 1 else Batch(tuple(batch)))

    def receiveMsg_Handled(self, message: Handled, sender: Any) -> None:
        target = self.router.handled(message.request_id)
        if target is not None:
            self._pump(target)
        if self._coalescing is None:  # inside a Batch, receiveMsg_Batch exports it once
            metrics.UNHANDLED.set(len(self.router))

    def receiveMsg_Batch(self, message: Batch, sender: Any) -> None:
        super().receiveMsg_Batch(message, sender)
        metrics.UNHANDLED.set(len(self.router))

    def on_peers_changed(self) -> None:
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

    def receiveMsg_HeightObserved(self, message: HeightObserved, sender: Any) -> None:
        self.block_height = message.height

    def receiveMsg_GetConnectionStatus(self, message: GetConnectionStatus, sender: Any) -> None:
        last_ack = self.liveness.last_ack_wall_time
        self.send(sender, ConnectionStatus(
            state=self.state.value,
            endpoint=self.endpoints.current.url,
            connected_since=self.connected_since,
            last_heartbeat_ack=last_ack,
            messages_sent=self.counts["sent"],
            messages_received=self.counts["received"],
            buffered=len(self.outbox),
            pending=len(self.pending),
            reconnects=self.counts["reconnects"],
            circuit=self.breaker.state.value,
            unhandled=len(self.router),
        ))
