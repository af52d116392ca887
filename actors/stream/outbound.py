"""The requests the node sends governance, from arrival to answer or timeout.

`OutboundRequests` takes a request from the bridge or the chain (or the
actor's own status timer), encodes it once, and either writes it at once
(the session is up and nothing queues before it) or keeps it in the
priority-ordered outbox until the session is up. A written request stays
pending until governance answers it (`InboundHandler` resolves it) or its
deadline passes; requests still pending when a stream dies go again, with
the same bytes and id, on the next session (convention 6).

Each kind of request has its own id space (in the outbox and in the pending
table): a request is a duplicate only of one of the same kind and id, so a
peg-in notice `x/1` does not stand in for attempt 1 of peg-out `x`.

Like the inbound side, it holds no state of the connection: it asks the
actor, through `Session`, whether the session is up, to write a request, to
answer a sender and to schedule its timers.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from thespian.actors import ActorAddress

from actors.messages import (
    NotifyPegin,
    RequestQueued,
    RequestRejected,
    RequestSignatures,
    RequestTimedOut,
)
from actors.stream import metrics
from actors.stream.acks import ACK_KIND
from actors.stream.outbox import DropReason, Outbox, OutboxItem
from actors.stream.pending import PendingRequest, PendingRequests
from actors.stream.priorities import PRIORITY_BY_KIND
from actors.stream.state import ConnectionState as State
from actors.stream.wire import encode
from protocol import governance_pb2 as pb
from protocol.errors import EncodeError
from runtime import tracing

if TYPE_CHECKING:
    from nodeconfig import RequestTimeoutsConfig

FLUSH_BATCH = 500  # outbox items written per turn while flushing
ACK_PRIORITY = PRIORITY_BY_KIND[ACK_KIND].name.lower()
# What `alys_stream_outbox_drops_total` counts besides the outbox's own reasons: a request
# the wire cannot carry, and acknowledgements a governance without them does not take.
INVALID = "invalid"
ACKS_NOT_WANTED = "acks_not_wanted"
DROP_REASONS = (*(reason.value for reason in DropReason), INVALID, ACKS_NOT_WANTED)
LATE_ANSWERS_KEPT = 10_000  # timed-out signature request ids whose late answer is still routed


class Session(Protocol):
    """The StreamActor as the outbound side sees it."""

    @property
    def state(self) -> State: ...

    def write(self, request: pb.StreamRequest, kind: str) -> None:
        """Put one request on the current connection's stream."""

    def reply(self, to: ActorAddress | None, message: object) -> None:
        """Tell a request's sender what became of it (no one if None)."""

    def schedule(self, kind: str, delay_s: float) -> None:
        """A timer of the current connection (`timeouts` here)."""

    def flush_later(self) -> None:
        """Come back to `flush` on a later turn, after the messages waiting now."""


@dataclass(frozen=True)
class Outgoing:
    """A request as it goes on the wire, and how long its answer may take."""

    request: pb.StreamRequest
    timeout_s: float


class OutboundRequests:
    def __init__(
        self,
        session: Session,
        *,
        node_id: str,
        timeouts: RequestTimeoutsConfig,
        outbox: Outbox[Outgoing],
        pending: PendingRequests[Outgoing],
        log: logging.Logger,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`clock` is monotonic: it times deadlines (tests pass a fake one)."""
        self._session = session
        self._node_id = node_id
        self._timeouts = timeouts
        self._outbox = outbox
        self._pending = pending
        self._log = log
        self._clock = clock
        # Signature requests that timed out, oldest first: governance's answer may still
        # come, and a valid late answer is as good as any (the bridge verifies it). The
        # inbound handler takes an id out of it when that answer arrives.
        self.timed_out: OrderedDict[str, None] = OrderedDict()
        self.block_height = 0  # the chain's latest, carried by status updates
        # Whether the session takes push acknowledgements (convention 8); the actor sets it
        # on each connect. One queued for a session that does not is dropped when its turn
        # comes: governance pushes again what it never saw acknowledged.
        self.acks_wanted = True
        self._timeouts_due_at: float | None = None

    @property
    def buffered(self) -> int:
        """Requests waiting in the outbox."""
        return len(self._outbox)

    @property
    def pending(self) -> int:
        """Requests written and not yet answered."""
        return len(self._pending)

    def submit(self, kind: str, request_id: str,
               message: RequestSignatures | NotifyPegin | None,
               sender: ActorAddress | None) -> None:
        """Send now if the session is up and nothing waits before it; else queue. The
        sender hears `RequestQueued` unless the request says it does not want it."""
        queued_to = sender if getattr(message, "notify_queued", True) else None
        key = (kind, request_id)
        if key in self._pending or key in self._outbox:
            metrics.UNEXPECTED.labels(kind="duplicate_request").inc()
            # Idempotent: it is already on its way.
            self._session.reply(queued_to, RequestQueued(request_id))
            return
        try:
            outgoing = self._encode(kind, request_id, message)
        except EncodeError as exc:  # refused now, rather than failing later mid-flush
            metrics.DROPS.labels(reason=INVALID).inc()
            self._session.reply(sender, RequestRejected(request_id, f"invalid: {exc}", kind))
            _end_trace(kind, request_id, "refused: invalid")
            return
        item = OutboxItem(request_id, PRIORITY_BY_KIND[kind], kind, outgoing, sender)
        if self._session.state is State.CONNECTED and not len(self._outbox):
            self._send(item)
            self._session.reply(queued_to, RequestQueued(request_id))
            return
        result = self._outbox.push(item)
        for dropped in result.dropped:
            metrics.DROPS.labels(reason=dropped.reason).inc()
            self._session.reply(dropped.item.sender,
                                RequestRejected(dropped.item.request_id, dropped.reason,
                                                dropped.item.kind))
            _end_trace(dropped.item.kind, dropped.item.request_id, f"refused: {dropped.reason}")
        if result.accepted:
            self._session.reply(queued_to, RequestQueued(request_id))
        metrics.OUTBOX.set(len(self._outbox))

    def acknowledge(self, request_id: str) -> None:
        """Acknowledge a handled push (convention 8): written at once if the session is up
        and nothing queues before it, else kept in the outbox like any request, so one that
        could not be sent goes after the reconnect. Never pending: nothing answers it."""
        if (self.acks_wanted and self._session.state is State.CONNECTED
                and not len(self._outbox)):
            # The common case, one per push: straight to the wire, without the bookkeeping
            # of a request that awaits an answer.
            self._session.write(encode.push_ack(
                request_id=request_id, node_id=self._node_id, now=int(time.time()),
                priority=ACK_PRIORITY), ACK_KIND)
            return
        self.submit(ACK_KIND, request_id, None, None)

    def flush(self) -> None:
        """Write the outbox in order, a slice per turn, while the session is up."""
        if self._session.state is not State.CONNECTED:
            return
        for item in self._outbox.pop_batch(FLUSH_BATCH):
            self._send(item)
        metrics.OUTBOX.set(len(self._outbox))
        if len(self._outbox):
            self._session.flush_later()

    def resend_pending(self) -> None:
        """Requests sent on a stream that died unanswered go again, same ids (convention 6)."""
        for entry in sorted(self._pending.entries(), key=lambda e: e.sent_at):
            assert entry.payload is not None  # `_send` gives every request its encoded form
            self._session.write(entry.payload.request, entry.kind)

    def expire(self) -> None:
        """The `timeouts` timer: tell the senders of requests past their deadline."""
        self._timeouts_due_at = None
        for entry in self._pending.expire(self._clock()):
            metrics.TIMEOUTS.labels(type=entry.kind).inc()
            self._log.warning("request %s (%s) timed out", entry.request_id, entry.kind,
                              extra={"request_id": entry.request_id})
            self._session.reply(entry.sender, RequestTimedOut(entry.request_id, entry.kind))
            if tracing.active:
                tracing.end((entry.kind, entry.request_id), "timed out")
            if entry.kind == "signature":
                self.timed_out[entry.request_id] = None
                while len(self.timed_out) > LATE_ANSWERS_KEPT:
                    self.timed_out.popitem(last=False)
        metrics.PENDING.set(len(self._pending))
        upcoming = self._pending.next_deadline()
        if upcoming is not None:
            self._arm_timeouts(upcoming)

    def _encode(self, kind: str, request_id: str,
                message: RequestSignatures | NotifyPegin | None) -> Outgoing:
        """Encode a request once, when it arrives; re-sends reuse the same bytes and id."""
        node_id, now = self._node_id, int(time.time())
        priority = PRIORITY_BY_KIND[kind].name.lower()
        timeouts = self._timeouts
        if kind == ACK_KIND:
            return Outgoing(encode.push_ack(request_id=request_id, node_id=node_id, now=now,
                                            priority=priority), 0.0)
        if isinstance(message, RequestSignatures):
            if not isinstance(getattr(message, "notify_queued", True), bool):
                raise EncodeError(f"notify_queued must be true or false, got "
                                  f"{type(message.notify_queued).__name__}")
            request = encode.signature_request(message, request_id=request_id,
                                               node_id=node_id, now=now, priority=priority)
            return Outgoing(request, float(message.timeout_s or timeouts.signature))
        if isinstance(message, NotifyPegin):
            request = encode.pegin_notification(message, request_id=request_id,
                                                node_id=node_id, now=now, priority=priority)
            return Outgoing(request, timeouts.pegin)
        request = encode.status_update(request_id=request_id, node_id=node_id, now=now,
                                       block_height=self.block_height)
        return Outgoing(request, timeouts.status)

    def _send(self, item: OutboxItem[Outgoing]) -> None:
        if item.kind == ACK_KIND:
            if self.acks_wanted:
                self._session.write(item.payload.request, item.kind)
            else:
                metrics.DROPS.labels(reason=ACKS_NOT_WANTED).inc()
            return
        now = self._clock()
        self._session.write(item.payload.request, item.kind)
        deadline = now + item.payload.timeout_s
        self._pending.add(PendingRequest(item.request_id, item.kind, item.sender, now, deadline,
                                         item.payload))
        metrics.PENDING.set(len(self._pending))
        self._arm_timeouts(deadline)

    def _arm_timeouts(self, deadline: float) -> None:
        if self._timeouts_due_at is None or deadline < self._timeouts_due_at:
            self._timeouts_due_at = deadline
            self._session.schedule("timeouts", deadline - self._clock())


def _end_trace(kind: str, request_id: str, why: str) -> None:
    """A request that will never be sent ends its span now (the StreamActor began one for a
    traced signature request), rather than holding a slot until evicted."""
    if tracing.active:
        tracing.end((kind, request_id), why)
