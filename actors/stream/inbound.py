"""What the StreamActor does with each event its gRPC reader hands over.

A mixin of `StreamActor` (it uses the actor's state: pending requests, the
router, the state machine), kept apart so each file reads as one concern:
this one is "governance said X, so the node does Y".

Nothing here is fatal: a frame that does not parse, a response to an unknown
or already answered request, an acknowledgement nobody waits for: each is
counted (`alys_stream_unexpected_frames_total{kind}`) and logged.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from actors.messages import Delivered, GovernanceError
from actors.stream import convert, metrics
from actors.stream.state import ConnectionState as State

# Governance asks the node to hold off with these error codes (and a retry_after).
HOLD_OFF_CODES = frozenset({"rate_limited", "service_unavailable"})
AUTH_FAILURE_CODES = frozenset({"authentication_failed", "authorization_failed"})


class InboundHandling:
    # Provided by StreamActor.
    log: Any
    pending: Any
    router: Any
    liveness: Any
    counts: dict[str, int]
    received_by_kind: Counter[str]
    state: State
    _reply: Any

    def handle_event(self, event: Any, targets: set[str]) -> None:
        from actors.stream.connection import Closed, Malformed, Received

        if isinstance(event, Received):
            self.counts["received"] += 1
            self._on_inbound(event.inbound, targets)
        elif isinstance(event, Malformed):
            self._unexpected("malformed", event.reason)
        elif isinstance(event, Closed):
            self._on_closed(event.code, event.details)

    def _on_closed(self, code: str, details: str) -> None:
        if code == "UNAUTHENTICATED":
            self.log.warning("governance refused our credentials: %s", details)
        self._lost(f"stream closed: {code} {details}".strip())  # type: ignore[attr-defined]

    def _on_inbound(self, inbound: Any, targets: set[str]) -> None:
        kind = type(inbound).__name__
        self.received_by_kind[kind] += 1  # exported once per drain, not per frame
        handler = getattr(self, f"_on_{kind}", None)
        if handler is None:
            self._unexpected("unknown_payload", kind)
            return
        handler(inbound, targets)

    def _unexpected(self, kind: str, detail: str) -> None:
        metrics.UNEXPECTED.labels(kind=kind).inc()
        self.log.warning("unexpected frame from governance (%s): %s", kind, detail)

    # -- one method per inbound kind (actors.stream.convert's Inbound dataclasses) -----------

    def _on_RegistrationAck(self, ack: convert.RegistrationAck, targets: Any) -> None:
        if self.state is not State.REGISTERING:
            self._unexpected("unexpected_registration_ack", ack.request_id)
        elif ack.accepted:
            self._registered()  # type: ignore[attr-defined]
        else:
            self._lost(f"registration refused ({ack.status})")  # type: ignore[attr-defined]

    def _on_HeartbeatAcked(self, ack: convert.HeartbeatAcked, targets: Any) -> None:
        rtt = self.liveness.ack(ack.sequence)
        if rtt is None:
            self._unexpected("unknown_heartbeat_ack", str(ack.sequence))
        else:
            metrics.HEARTBEAT_RTT.observe(rtt)

    def _answered(self, request_id: str, kind: str) -> Any:
        """Resolve a pending request; None (counted) when nobody waits for that id."""
        entry = self.pending.resolve(request_id)
        metrics.PENDING.set(len(self.pending))
        if entry is None:
            self._unexpected(kind, request_id)
            return None
        metrics.REQUEST_SECONDS.labels(type=entry.kind).observe(time.monotonic() - entry.sent_at)
        return entry

    def _on_SignaturesReceived(self, received: convert.SignaturesReceived,
                               targets: set[str]) -> None:
        late = self.timed_out  # type: ignore[attr-defined]
        if received.request_id in late and received.request_id not in self.pending:
            del late[received.request_id]
            metrics.LATE_ANSWERS.inc()
            self.log.info("late answer to %s, timed out before: routed to the bridge",
                          received.request_id)
            self.route("bridge", received.request_id, received.apply,  # type: ignore[attr-defined]
                       targets)
            return
        if self._answered(received.request_id, "unknown_response") is not None:
            self.route("bridge", received.request_id, received.apply,  # type: ignore[attr-defined]
                       targets)

    def _on_FederationReceived(self, received: convert.FederationReceived,
                               targets: set[str]) -> None:
        self.route("chain", received.request_id, received.update,  # type: ignore[attr-defined]
                   targets)

    def _on_ProposalArrived(self, received: convert.ProposalArrived,
                            targets: set[str]) -> None:
        self.route("chain", received.proposal.proposal_id,  # type: ignore[attr-defined]
                   received.proposal, targets)

    def _on_Acknowledged(self, ack: convert.Acknowledged, targets: Any) -> None:
        entry = self._answered(ack.request_id, "unexpected_ack")
        if entry is None:
            return
        if ack.status != "success":
            self._reply(entry.sender, GovernanceError(ack.request_id, ack.status,
                                                       f"acknowledged with {ack.status}"))
        elif entry.kind == "pegin":
            self._reply(entry.sender, Delivered(ack.request_id))

    def _on_ErrorReceived(self, error: convert.ErrorReceived, targets: Any) -> None:
        self.log.warning("governance error for %s: %s %s", error.request_id, error.code,
                         error.message)
        if error.code in AUTH_FAILURE_CODES and self.state is State.REGISTERING:
            self._lost(f"registration refused ({error.code})")  # type: ignore[attr-defined]
            return
        entry = self._answered(error.request_id, "unknown_error_response")
        if entry is not None:
            self._reply(entry.sender, GovernanceError(error.request_id, error.code,
                                                       error.message, error.retry_after_s))
        if error.code in HOLD_OFF_CODES and error.retry_after_s and self.state is State.CONNECTED:
            self._move(State.SUSPENDED,  # type: ignore[attr-defined]
                       f"governance asked to hold off for {error.retry_after_s:g}s")
            self._tick("resume", error.retry_after_s)  # type: ignore[attr-defined]
