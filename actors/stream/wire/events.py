"""What a frame from governance means: one frozen dataclass per kind, `Inbound` their union.

`wire.decode` makes them; the StreamActor's `InboundHandler` acts on them.
Each carries the frame's metadata `request_id`; the ones governance pushes
carry the node's message for the bridge or the chain, ready to route.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from actors.messages import ApplySignatures, ProposalReceived, UpdateFederation

__all__ = [
    "Acknowledged",
    "ErrorReceived",
    "FederationReceived",
    "HeartbeatAcked",
    "Inbound",
    "ProposalArrived",
    "RegistrationAck",
    "SignaturesReceived",
]


@dataclass(frozen=True)
class RegistrationAck:
    request_id: str
    accepted: bool
    assigned_node_id: str
    status: str
    # A session governance grants (docs/protocol.md, convention 2, "Session tokens"): used
    # only with expires_at.
    session_token: str | None = field(default=None, repr=False)
    expires_at: int | None = None  # governance's Unix seconds
    timestamp: int = 0  # the ack's metadata.timestamp: governance's clock at the ack


@dataclass(frozen=True)
class SignaturesReceived:
    request_id: str
    apply: ApplySignatures


@dataclass(frozen=True)
class FederationReceived:
    request_id: str
    update: UpdateFederation


@dataclass(frozen=True)
class ProposalArrived:
    request_id: str
    proposal: ProposalReceived


@dataclass(frozen=True)
class ErrorReceived:
    request_id: str
    code: str  # an ERROR_CODES name, or "unspecified"
    message: str
    details: str | None
    retry_after_s: float | None
    status: str


@dataclass(frozen=True)
class HeartbeatAcked:
    request_id: str
    sequence: int
    original_timestamp: int
    ack_timestamp: int


@dataclass(frozen=True)
class Acknowledged:
    """A metadata-only response (convention 7): the request's id and a status."""

    request_id: str
    status: str


Inbound = (
    RegistrationAck
    | SignaturesReceived
    | FederationReceived
    | ProposalArrived
    | ErrorReceived
    | HeartbeatAcked
    | Acknowledged
)
