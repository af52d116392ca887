"""What the StreamActor does with each event its gRPC reader hands over.

`InboundHandler` reads as one concern: "governance said X, so the node does
Y". It holds no state of the connection itself. It works on the pure parts
it is given (pending requests, heartbeat liveness, the router), and asks
the actor, through the small `Session` protocol, for what only the actor
can do: change the connection's state, schedule a timer, answer a sender.
A test drives it with a fake session and no actor system.

An answer is matched by `(kind, request_id)`, where its payload says which
kinds of request it can answer (`ANSWERED_BY`): a `SignatureResponse` only a
signature request, a metadata-only acknowledgement only a peg-in notice or a
status update, an `ErrorResponse` any of them. Neither an acknowledgement nor
a PENDING `SignatureResponse` answers a signature request: it stays pending
(a PENDING gives it more time) and unrouted, so the real answer that follows
is routed and used.

Nothing here is fatal: a frame that does not parse, a response to an unknown
or already answered request, an acknowledgement nobody waits for, a push
before the session is registered: each is counted
(`alys_stream_unexpected_frames_total{kind}`) and logged.

Pushes are acknowledged (convention 8) by the actor once the chain's `Handled`
comes; here, a push the router already saw handled is acknowledged again at
once (governance missed the first acknowledgement), and so is a push refused
as malformed, which no `Handled` will ever follow.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import replace
from typing import Protocol, assert_never

from thespian.actors import ActorAddress

from actors.messages import Delivered, GovernanceError
from actors.stream import metrics
from actors.stream.acks import AckMode, PushAcks
from actors.stream.inbox import CapabilitiesAnswered, Closed, InboxEvent, Malformed, Received
from actors.stream.liveness import Liveness
from actors.stream.outbound import DROP_REASONS, Outgoing
from actors.stream.pending import PendingRequest, PendingRequests
from actors.stream.routing import InboundRouter, Routable
from actors.stream.state import ConnectionState as State
from actors.stream.wire.events import (
    Acknowledged,
    ErrorReceived,
    FederationReceived,
    HeartbeatAcked,
    Inbound,
    ProposalArrived,
    RegistrationAck,
    SignaturesReceived,
)
from runtime import logcontext, tracing

# Governance asks the node to hold off with these error codes (and a retry_after).
HOLD_OFF_CODES = frozenset({"rate_limited", "service_unavailable"})
AUTH_FAILURE_CODES = frozenset({"authentication_failed", "authorization_failed"})

# The kinds of pending request each answer can be for. When several wait under one
# id, the one sent first is taken (`PendingRequests.first_of`).
SIGNATURE_KINDS = ("signature",)
ACK_KINDS = ("pegin", "status")
ERROR_KINDS = ("signature", "pegin", "status")

# A PENDING answer gives a signature request a fresh timeout from the moment it came,
# but never past this many of its timeouts since it was sent: a governance that says
# PENDING forever cannot hold a request open for good. (The bridge's own attempt clock
# ends the attempt anyway; a late answer is still routed after a timeout.)
PENDING_GRACE_TIMEOUTS = 2.0


class RequestTimeouts(Protocol):
    """The configured request timeouts (`governance.request_timeout_s`), in seconds."""

    @property
    def signature(self) -> float: ...
    @property
    def pegin(self) -> float: ...
    @property
    def status(self) -> float: ...


def answer_buckets(timeouts: RequestTimeouts | None) -> tuple[float, ...]:
    """Bounds of the request-duration histogram: every configured timeout, and the
    longest a PENDING answer may stretch a signature request to."""
    if timeouts is None:
        return metrics.request_duration_buckets(())
    return metrics.request_duration_buckets(
        (timeouts.signature, timeouts.signature * PENDING_GRACE_TIMEOUTS, timeouts.pegin,
         timeouts.status))


# States in which the session is registered: only then is a push from governance taken.
REGISTERED = frozenset({State.CONNECTED, State.SUSPENDED})


class Session(Protocol):
    """The StreamActor as the inbound handler sees it."""

    @property
    def state(self) -> State: ...

    def move(self, target: State, reason: str) -> None:
        """Change the connection's state (logged and exported)."""

    def registered(self, ack: RegistrationAck | None = None) -> None:
        """Governance accepted the registration (`ack`, with any session it grants)."""

    def lost(self, reason: str, auth_refused: bool = False) -> None:
        """The connection is unusable: close it and schedule the next attempt;
        `auth_refused` when governance refused the credential presented."""

    def schedule(self, kind: str, delay_s: float) -> None:
        """A timer of the current connection (`resume` here)."""

    def reply(self, to: ActorAddress | None, message: object) -> None:
        """Tell the sender of a request about its answer (no one if None)."""

    def acknowledge(self, request_id: str, reason: str) -> None:
        """Acknowledge push `request_id` if the session takes acknowledgements; `reason`
        (`repeat`, `refused`) labels the metric."""

    def capabilities_known(self, advertised: bool, error: str | None) -> None:
        """GetCapabilities answered (or failed: `error`): the session can register."""


class InboundHandler:
    def __init__(
        self,
        session: Session,
        *,
        pending: PendingRequests[Outgoing],
        timed_out: OrderedDict[str, None],
        liveness: Liveness,
        router: InboundRouter,
        log: logging.Logger,
        max_retry_after_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        acks: PushAcks | None = None,
        timeouts: RequestTimeouts | None = None,
    ) -> None:
        """`timed_out`: signature requests that timed out, oldest first, shared with the
        outbound side that fills it; a late answer to one of them is still routed.
        `max_retry_after_s`: the longest `retry_after` honoured (`governance.max_retry_after_s`).
        `clock` is monotonic, the outbound side's: it times answers and moves deadlines
        (tests pass a fake one). `acks`: the actor's push acknowledgements, told which frame
        id each routed push is to be acknowledged under. `timeouts`: the configured request
        timeouts, which the request-duration histogram's buckets reach."""
        self._session = session
        self._acks = acks if acks is not None else PushAcks(AckMode.ON)
        self._max_retry_after_s = max_retry_after_s
        self._pending = pending
        self._timed_out = timed_out
        self._liveness = liveness
        self._router = router
        self._log = log
        self._clock = clock
        self._durations = metrics.request_seconds(answer_buckets(timeouts))
        metrics.declare_known_series(DROP_REASONS, ERROR_KINDS)
        self.received = 0  # frames decoded, for the connection status
        self._received_by_kind: Counter[str] = Counter()

    def handle(self, event: InboxEvent, targets: set[str]) -> None:
        """Act on one event; `targets` collects who got something routed, to pump after."""
        if isinstance(event, Received):
            self.received += 1
            self._on_inbound(event.inbound, targets)
        elif isinstance(event, Malformed):
            self._unexpected(event.kind, event.reason)
            if event.push_id is not None:
                # Refused for good: a re-send would be refused again, so say it was taken.
                self._session.acknowledge(event.push_id, "refused")
        elif isinstance(event, Closed):
            self._on_closed(event.code, event.details)
        elif isinstance(event, CapabilitiesAnswered):
            if event.error is not None:
                self._log.info("GetCapabilities failed (%s): taken as no push-ack feature",
                               event.error)
            self._session.capabilities_known(event.advertised, event.error)

    def export_received(self) -> None:
        """Add what was received since the last call to the metrics: once per drain, not
        per frame (a labelled counter costs a lookup and a lock)."""
        for kind, count in self._received_by_kind.items():
            metrics.RECEIVED.labels(type=kind).inc(count)
        self._received_by_kind.clear()

    def _on_closed(self, code: str, details: str) -> None:
        # UNAUTHENTICATED here is how governance refuses credentials before any frame:
        # counted, as `authentication_failed` ErrorResponses are (AlysGovernanceRefusesCredentials).
        metrics.CLOSED.labels(code=metrics.status_code_label(code)).inc()
        refused = code == "UNAUTHENTICATED"
        if refused:
            self._log.warning("governance refused our credentials: %s", details)
        self._session.lost(f"stream closed: {code} {details}".strip(), auth_refused=refused)

    def _on_inbound(self, inbound: Inbound, targets: set[str]) -> None:
        # Lines written about a frame name its request id (a JSON line's `request_id`).
        previous = logcontext.about(getattr(inbound, "request_id", None))
        try:
            self._dispatch(inbound, targets)
        finally:
            logcontext.restore(previous)

    def _dispatch(self, inbound: Inbound, targets: set[str]) -> None:
        kind = type(inbound).__name__
        self._received_by_kind[kind] += 1
        # The data kinds first: they are nearly all of the traffic.
        if isinstance(inbound, SignaturesReceived):
            self._on_signatures(inbound, targets)
        elif isinstance(inbound, FederationReceived):
            self._on_push(inbound.request_id, inbound.request_id, inbound.update, targets)
        elif isinstance(inbound, Acknowledged):
            self._on_acknowledged(inbound)
        elif isinstance(inbound, ProposalArrived):
            self._on_push(inbound.proposal.proposal_id, inbound.request_id, inbound.proposal,
                          targets)
        elif isinstance(inbound, HeartbeatAcked):
            self._on_heartbeat_ack(inbound)
        elif isinstance(inbound, ErrorReceived):
            self._on_error(inbound)
        elif isinstance(inbound, RegistrationAck):
            self._on_registration_ack(inbound)
        else:
            # Every kind `wire.decode` can produce has its branch: mypy checks that here.
            assert_never(inbound)

    def _unexpected(self, kind: str, detail: str) -> None:
        metrics.UNEXPECTED.labels(kind=kind).inc()
        self._log.warning("unexpected frame from governance (%s): %s", kind, detail)

    def _route(self, target: str, request_id: str, message: Routable,
               targets: set[str]) -> None:
        """Route at least once: track until `Handled`, drop governance's duplicates."""
        if not self._router.admit(request_id, target, message):
            metrics.UNEXPECTED.labels(kind="duplicate").inc()
            self._log.info("duplicate %s from governance for %s dropped", request_id, target)
            return
        targets.add(target)

    def _answered(self, kind: str, request_id: str) -> PendingRequest[Outgoing] | None:
        """Resolve the pending request of `kind` an answer is for; None if none waits."""
        entry = self._pending.resolve(kind, request_id)
        if entry is not None:
            metrics.PENDING.set(len(self._pending))
            self._durations.labels(type=kind).observe(self._clock() - entry.sent_at)
        return entry

    def _answered_first(self, request_id: str,
                        kinds: tuple[str, ...]) -> PendingRequest[Outgoing] | None:
        """As `_answered`, for an answer that may be for any of `kinds` (the one sent first)."""
        entry = self._pending.first_of(request_id, kinds)
        return None if entry is None else self._answered(entry.kind, request_id)

    # -- one method per kind that needs more than a route ------------------------------

    def _on_push(self, key: str, request_id: str, message: Routable,
                 targets: set[str]) -> None:
        """A federation update or a proposal: the chain's, once the session is registered.
        `key` is what the chain knows it by (a proposal: its proposal_id), `request_id`
        the frame's id, which its acknowledgement names.

        Before the registration ack the node does not know governance took it as a
        session: a push is dropped and counted, and governance pushes it again on the
        registered session (docs/protocol.md, convention 1)."""
        if self._session.state not in REGISTERED:
            self._unexpected("before_registration",
                             f"{request_id} pushed while {self._session.state.value}: dropped")
            return
        if self._router.was_handled(key, "chain"):
            # Committed by the chain already: governance pushes again because it never saw
            # the acknowledgement. Nothing to apply; acknowledge again (convention 8).
            metrics.UNEXPECTED.labels(kind="duplicate").inc()
            self._log.info("push %s was handled before: acknowledged again", request_id)
            self._session.acknowledge(request_id, "repeat")
            return
        self._acks.track(key, request_id)
        if tracing.active:  # one trace per push, ended by the chain's `Handled`
            tracing.begin(("push", key), "governance.push", request_id=request_id,
                          push=type(message).__name__)
            message = replace(message, traceparent=tracing.traceparent_of(("push", key)))
        self._route("chain", key, message, targets)

    def _on_signatures(self, received: SignaturesReceived, targets: set[str]) -> None:
        request_id = received.request_id
        if received.apply.status == "pending":
            self._on_pending(request_id)
            return
        apply = received.apply
        if tracing.active:
            traced = tracing.end(("signature", request_id), status=apply.status)
            if traced is not None:
                apply = replace(apply, traceparent=traced)
        if self._answered("signature", request_id) is not None:
            self._route("bridge", request_id, apply, targets)
        elif request_id in self._timed_out:
            del self._timed_out[request_id]
            metrics.LATE_ANSWERS.inc()
            self._log.info("late answer to %s, timed out before: routed to the bridge",
                           request_id)
            self._route("bridge", request_id, apply, targets)
        else:
            self._unexpected("unknown_response", request_id)

    def _on_pending(self, request_id: str) -> None:
        """PENDING: governance is still collecting signatures. Not an answer: the request
        stays pending, with more time, and nothing goes to the bridge (which would confirm
        it `Handled` and so make the real answer a duplicate)."""
        entry = self._pending.get("signature", request_id)
        if entry is None:
            if request_id not in self._timed_out:  # a timed-out request may still be answered
                self._unexpected("unknown_response", f"{request_id} (pending)")
            return
        assert entry.payload is not None  # every request is written with its encoded form
        timeout_s = entry.payload.timeout_s
        deadline = min(self._clock() + timeout_s,
                       entry.sent_at + PENDING_GRACE_TIMEOUTS * timeout_s)
        moved = self._pending.extend("signature", request_id, deadline)
        if moved is not None and moved.deadline > entry.deadline:
            self._log.debug("%s is pending at governance: %.1fs more to answer", request_id,
                            moved.deadline - entry.deadline)

    def _on_registration_ack(self, ack: RegistrationAck) -> None:
        if self._session.state is not State.REGISTERING:
            self._unexpected("unexpected_registration_ack", ack.request_id)
        elif ack.accepted:
            self._session.registered(ack)
        else:
            self._session.lost(f"registration refused ({ack.status})", auth_refused=True)

    def _on_heartbeat_ack(self, ack: HeartbeatAcked) -> None:
        rtt = self._liveness.ack(ack.sequence)
        if rtt is None:
            self._unexpected("unknown_heartbeat_ack", str(ack.sequence))
        else:
            metrics.HEARTBEAT_RTT.observe(rtt)

    def _on_acknowledged(self, ack: Acknowledged) -> None:
        entry = self._answered_first(ack.request_id, ACK_KINDS)
        if entry is None:
            if ("signature", ack.request_id) in self._pending or ack.request_id in self._timed_out:
                # Convention 7 acknowledges notices; a signature request needs its answer.
                self._unexpected("unexpected_ack", f"{ack.request_id}: an acknowledgement does "
                                 "not answer a signature request; still waiting for it")
            else:
                self._unexpected("unexpected_ack", ack.request_id)
            return
        if ack.status != "success":
            self._session.reply(entry.sender, GovernanceError(
                ack.request_id, ack.status, f"acknowledged with {ack.status}", kind=entry.kind))
        elif entry.kind == "pegin":
            self._session.reply(entry.sender, Delivered(ack.request_id))

    def _on_error(self, error: ErrorReceived) -> None:
        metrics.GOVERNANCE_ERRORS.labels(code=metrics.error_code_label(error.code)).inc()
        self._log.warning("governance error for %s: %s %s", error.request_id, error.code,
                          error.message)
        if error.code in AUTH_FAILURE_CODES and self._session.state is State.REGISTERING:
            self._session.lost(f"registration refused ({error.code})", auth_refused=True)
            return
        retry_after_s = error.retry_after_s
        if retry_after_s is not None and retry_after_s > self._max_retry_after_s:
            self._log.warning("governance asked %s to wait %gs; honoured up to %gs",
                              error.request_id, retry_after_s, self._max_retry_after_s)
            retry_after_s = self._max_retry_after_s
        entry = self._answered_first(error.request_id, ERROR_KINDS)
        if tracing.active and entry is not None:
            tracing.end((entry.kind, error.request_id), f"governance error {error.code}")
        if entry is None:
            self._unexpected("unknown_error_response", error.request_id)
        else:
            self._session.reply(entry.sender, GovernanceError(
                error.request_id, error.code, error.message, retry_after_s, entry.kind))
        if (error.code in HOLD_OFF_CODES and retry_after_s
                and self._session.state is State.CONNECTED):
            self._session.move(State.SUSPENDED,
                               f"governance asked to hold off for {retry_after_s:g}s")
            self._session.schedule("resume", retry_after_s)
