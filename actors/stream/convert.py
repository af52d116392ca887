"""governance.v1 protobuf <-> the node's message dataclasses: proto in, dataclass out.

The one place where the wire format (governance_pb2) and actors/messages.py
meet. Pure functions: no grpc, no I/O, time passed in as arguments.

- Outbound builders return a ``StreamRequest`` ready to send, and raise
  ``EncodeError`` for a value the wire cannot carry.
- ``decode`` / ``decode_bytes`` turn one frame from governance into one
  ``Inbound`` value, or raise ``MalformedFrame`` with a precise reason, so the
  stream can count and skip the frame instead of failing.
- Enum values travel as the lowercase names the messages use
  (``TRANSACTION_TYPE_PEGOUT`` <-> ``"pegout"``), through one ``EnumMap``
  per enum.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import DecodeError

from actors.messages import (
    ApplySignatures,
    Member,
    NotifyPegin,
    ProposalReceived,
    RequestSignatures,
    UpdateFederation,
    Witness,
)
from protocol import governance_pb2 as pb
from protocol.errors import EncodeError, MalformedFrame, ProtocolError

__all__ = [
    "ERROR_CODES",
    "FEDERATION_UPDATE_TYPES",
    "HEALTH_STATUSES",
    "NODE_STATUSES",
    "PRIORITIES",
    "PROPOSAL_TYPES",
    "PROTOCOL_VERSION",
    "SIGNATURE_STATUSES",
    "SIGNATURE_TYPES",
    "STATUS_CODES",
    "SYNC_STATUSES",
    "TX_TYPES",
    "Acknowledged",
    "EncodeError",
    "EnumMap",
    "ErrorReceived",
    "FederationReceived",
    "HeartbeatAcked",
    "Inbound",
    "MalformedFrame",
    "ProposalArrived",
    "ProtocolError",
    "RegistrationAck",
    "SignaturesReceived",
    "decode",
    "decode_bytes",
    "heartbeat",
    "pegin_notification",
    "registration",
    "signature_request",
    "status_update",
]

PROTOCOL_VERSION = "governance.v1"
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
UNSPECIFIED = "unspecified"

# --------------------------------------------------------------------------- enums


class _Invalid(Exception):
    """Internal: what is wrong with a frame's content; decode() makes it a MalformedFrame."""


class EnumMap:
    """One governance.v1 enum: the node's names <-> wire numbers.

    ``*_UNSPECIFIED`` (0) has no name: it is refused on the way out, and on
    the way in accepted (as ``"unspecified"``) only where a field allows it.
    """

    def __init__(self, enum_name: str, names: Mapping[str, int]) -> None:
        self.enum_name = enum_name
        self.by_name: Mapping[str, int] = dict(names)
        self.by_number: Mapping[int, str] = {number: name for name, number in names.items()}

    def wire(self, name: str) -> int:
        try:
            return self.by_name[name]
        except KeyError:
            known = ", ".join(self.by_name)
            raise EncodeError(f"{name!r} is not a {self.enum_name} (known: {known})") from None

    def name(self, number: int, field: str, *, allow_unspecified: bool = False) -> str:
        if number == 0 and allow_unspecified:
            return UNSPECIFIED
        if number == 0:
            raise _Invalid(f"{field} is {self.enum_name} UNSPECIFIED")
        try:
            return self.by_number[number]
        except KeyError:
            raise _Invalid(f"{field} has unknown {self.enum_name} value {number}") from None


PRIORITIES = EnumMap(
    "RequestPriority",
    {
        "low": pb.REQUEST_PRIORITY_LOW,
        "normal": pb.REQUEST_PRIORITY_NORMAL,
        "high": pb.REQUEST_PRIORITY_HIGH,
        "critical": pb.REQUEST_PRIORITY_CRITICAL,
    },
)
STATUS_CODES = EnumMap(
    "StatusCode",
    {
        "success": pb.STATUS_CODE_SUCCESS,
        "error": pb.STATUS_CODE_ERROR,
        "timeout": pb.STATUS_CODE_TIMEOUT,
        "unauthorized": pb.STATUS_CODE_UNAUTHORIZED,
        "rate_limited": pb.STATUS_CODE_RATE_LIMITED,
        "service_unavailable": pb.STATUS_CODE_SERVICE_UNAVAILABLE,
    },
)
TX_TYPES = EnumMap(
    "TransactionType",
    {
        "pegin": pb.TRANSACTION_TYPE_PEGIN,
        "pegout": pb.TRANSACTION_TYPE_PEGOUT,
        "federation_change": pb.TRANSACTION_TYPE_FEDERATION_CHANGE,
        "emergency": pb.TRANSACTION_TYPE_EMERGENCY,
    },
)
SIGNATURE_STATUSES = EnumMap(
    "SignatureStatus",
    {
        "pending": pb.SIGNATURE_STATUS_PENDING,
        "partial": pb.SIGNATURE_STATUS_PARTIAL,
        "complete": pb.SIGNATURE_STATUS_COMPLETE,
        "failed": pb.SIGNATURE_STATUS_FAILED,
        "timeout": pb.SIGNATURE_STATUS_TIMEOUT,
    },
)
SIGNATURE_TYPES = EnumMap(
    "SignatureType",
    {
        "ecdsa": pb.SIGNATURE_TYPE_ECDSA,
        "schnorr": pb.SIGNATURE_TYPE_SCHNORR,
        "bls": pb.SIGNATURE_TYPE_BLS,
    },
)
FEDERATION_UPDATE_TYPES = EnumMap(
    "FederationUpdateType",
    {
        "member_add": pb.FEDERATION_UPDATE_TYPE_MEMBER_ADD,
        "member_remove": pb.FEDERATION_UPDATE_TYPE_MEMBER_REMOVE,
        "config_change": pb.FEDERATION_UPDATE_TYPE_CONFIG_CHANGE,
        "emergency_halt": pb.FEDERATION_UPDATE_TYPE_EMERGENCY_HALT,
    },
)
PROPOSAL_TYPES = EnumMap(
    "ProposalType",
    {
        "federation_change": pb.PROPOSAL_TYPE_FEDERATION_CHANGE,
        "parameter_change": pb.PROPOSAL_TYPE_PARAMETER_CHANGE,
        "emergency_action": pb.PROPOSAL_TYPE_EMERGENCY_ACTION,
        "upgrade": pb.PROPOSAL_TYPE_UPGRADE,
    },
)
NODE_STATUSES = EnumMap(
    "NodeStatus",
    {
        "starting": pb.NODE_STATUS_STARTING,
        "syncing": pb.NODE_STATUS_SYNCING,
        "active": pb.NODE_STATUS_ACTIVE,
        "degraded": pb.NODE_STATUS_DEGRADED,
        "offline": pb.NODE_STATUS_OFFLINE,
    },
)
SYNC_STATUSES = EnumMap(
    "SyncStatus",
    {
        "synced": pb.SYNC_STATUS_SYNCED,
        "syncing": pb.SYNC_STATUS_SYNCING,
        "stalled": pb.SYNC_STATUS_STALLED,
        "error": pb.SYNC_STATUS_ERROR,
    },
)
HEALTH_STATUSES = EnumMap(
    "HealthStatus",
    {
        "healthy": pb.HEALTH_STATUS_HEALTHY,
        "degraded": pb.HEALTH_STATUS_DEGRADED,
        "unhealthy": pb.HEALTH_STATUS_UNHEALTHY,
        "unknown": pb.HEALTH_STATUS_UNKNOWN,
    },
)
ERROR_CODES = EnumMap(
    "ErrorCode",
    {
        "invalid_request": pb.ERROR_CODE_INVALID_REQUEST,
        "authentication_failed": pb.ERROR_CODE_AUTHENTICATION_FAILED,
        "authorization_failed": pb.ERROR_CODE_AUTHORIZATION_FAILED,
        "rate_limited": pb.ERROR_CODE_RATE_LIMITED,
        "service_unavailable": pb.ERROR_CODE_SERVICE_UNAVAILABLE,
        "timeout": pb.ERROR_CODE_TIMEOUT,
        "internal_error": pb.ERROR_CODE_INTERNAL_ERROR,
        "invalid_signature": pb.ERROR_CODE_INVALID_SIGNATURE,
        "insufficient_signatures": pb.ERROR_CODE_INSUFFICIENT_SIGNATURES,
        "federation_error": pb.ERROR_CODE_FEDERATION_ERROR,
    },
)

# ------------------------------------------------------------------------ outbound


@contextmanager
def _encoding(what: str) -> Iterator[None]:
    """protobuf refuses out-of-range numbers with ValueError/TypeError: name the request."""
    try:
        yield
    except EncodeError:
        raise
    except (ValueError, TypeError) as error:
        raise EncodeError(f"cannot encode {what}: {error}") from error


def _metadata(request_id: str, node_id: str, now: int, priority: str) -> pb.RequestMetadata:
    if not request_id:
        raise EncodeError("request_id is empty")
    return pb.RequestMetadata(
        request_id=request_id,
        timestamp=now,
        node_id=node_id,
        protocol_version=PROTOCOL_VERSION,
        priority=PRIORITIES.wire(priority),
    )


def _whole_seconds(timeout_s: float) -> int:
    """Rounded up: a timeout of 0.2 s must not become 0 (no timeout at all)."""
    if not math.isfinite(timeout_s) or timeout_s <= 0:
        raise EncodeError(f"timeout_s must be a positive number of seconds, got {timeout_s!r}")
    seconds = math.ceil(timeout_s)
    if seconds > INT32_MAX:
        raise EncodeError(f"timeout_s {timeout_s!r} does not fit in an int32 of seconds")
    return seconds


def registration(
    node_id: str,
    *,
    public_key: str,
    version: str,
    capabilities: Iterable[str],
    token: str | None,
    now: int,
    request_id: str,
    priority: str = "high",
) -> pb.StreamRequest:
    """The first message of every session (convention 1); ``token`` None or "": no auth."""
    with _encoding("NodeRegistration"):
        registration = pb.NodeRegistration(
            node_info=pb.NodeInfo(
                public_key=public_key, node_type=pb.NODE_TYPE_BRIDGE, version=version
            ),
            capabilities=list(capabilities),
        )
        if token:
            registration.auth.CopyFrom(
                pb.AuthCredentials(
                    auth_type=pb.AUTH_TYPE_BEARER, credential_data=token.encode("utf-8")
                )
            )
        return pb.StreamRequest(
            metadata=_metadata(request_id, node_id, now, priority),
            node_registration=registration,
        )


def signature_request(
    msg: RequestSignatures, *, request_id: str, node_id: str, now: int, priority: str = "normal"
) -> pb.StreamRequest:
    with _encoding(f"SignatureRequest {request_id!r}"):
        request = pb.SignatureRequest(
            tx_hex=msg.tx_hex,
            input_indices=list(msg.input_indices),
            amounts=list(msg.amounts),
            tx_type=TX_TYPES.wire(msg.tx_type),
            required_signatures=msg.required_signatures,
        )
        if msg.timeout_s is not None:
            request.timeout_seconds = _whole_seconds(msg.timeout_s)
        return pb.StreamRequest(
            metadata=_metadata(request_id, node_id, now, priority), signature_request=request
        )


def pegin_notification(
    msg: NotifyPegin, *, request_id: str, node_id: str, now: int, priority: str = "normal"
) -> pb.StreamRequest:
    with _encoding(f"PeginNotification {request_id!r}"):
        notification = pb.PeginNotification(
            btc_txid=msg.btc_txid,
            vout=msg.vout,
            amount=msg.amount,
            evm_address=msg.evm_address,
            confirmations=msg.confirmations,
        )
        return pb.StreamRequest(
            metadata=_metadata(request_id, node_id, now, priority),
            pegin_notification=notification,
        )


def status_update(
    *,
    request_id: str,
    node_id: str,
    now: int,
    block_height: int,
    status: str = "active",
    sync: str = "synced",
    connection_count: int = 1,
    priority: str = "low",
) -> pb.StreamRequest:
    with _encoding(f"StatusUpdate {request_id!r}"):
        update = pb.StatusUpdate(
            status=NODE_STATUSES.wire(status),
            block_height=block_height,
            sync_status=SYNC_STATUSES.wire(sync),
            connection_count=connection_count,
        )
        return pb.StreamRequest(
            metadata=_metadata(request_id, node_id, now, priority), status_update=update
        )


def heartbeat(
    *,
    sequence: int,
    timestamp: int,
    node_id: str,
    request_id: str,
    health: str = "healthy",
    priority: str = "high",
) -> pb.StreamRequest:
    with _encoding(f"Heartbeat {sequence}"):
        beat = pb.Heartbeat(
            timestamp=timestamp, sequence=sequence, health=HEALTH_STATUSES.wire(health)
        )
        return pb.StreamRequest(
            metadata=_metadata(request_id, node_id, timestamp, priority), heartbeat=beat
        )


# ------------------------------------------------------------------------- inbound


@dataclass(frozen=True)
class RegistrationAck:
    request_id: str
    accepted: bool
    assigned_node_id: str
    status: str


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
    code: str  # ERROR_CODES name, or "unspecified"
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


def decode_bytes(data: bytes) -> Inbound:
    """Decode one raw frame, as read off the stream with a pass-through deserializer."""
    response = pb.StreamResponse()
    try:
        response.ParseFromString(data)
    except DecodeError as error:
        raise MalformedFrame(f"frame does not parse: {error}") from error
    return decode(response)


def decode(response: pb.StreamResponse) -> Inbound:
    if not response.HasField("metadata"):
        raise MalformedFrame("response has no metadata")
    request_id = response.metadata.request_id
    if not request_id:
        raise MalformedFrame("response metadata has an empty request_id")
    try:
        # UNSPECIFIED is tolerated: pushed messages often leave the status unset.
        status = STATUS_CODES.name(
            response.metadata.status, "metadata.status", allow_unspecified=True
        )
    except _Invalid as error:
        raise MalformedFrame(str(error), request_id) from None
    kind = response.WhichOneof("payload")
    if kind is None:
        return Acknowledged(request_id, status)
    try:
        return _DECODERS[kind](request_id, status, getattr(response, kind))
    except _Invalid as error:
        raise MalformedFrame(f"{kind}: {error}", request_id) from None


def _registration_ack(request_id: str, status: str, ack: pb.NodeRegistrationAck) -> Inbound:
    return RegistrationAck(request_id, ack.accepted, ack.assigned_node_id, status)


def _signature_response(request_id: str, status: str, response: pb.SignatureResponse) -> Inbound:
    witnesses = tuple(
        Witness(
            signature=w.signature,
            public_key=w.public_key,
            sig_type=SIGNATURE_TYPES.name(w.sig_type, f"signatures[{i}].sig_type"),
        )
        for i, w in enumerate(response.signatures)
    )
    apply = ApplySignatures(
        request_id=request_id,
        status=SIGNATURE_STATUSES.name(response.status, "status"),
        signatures=witnesses,
        failure_reason=(response.failure_reason if response.HasField("failure_reason") else None),
    )
    return SignaturesReceived(request_id, apply)


_DECIMAL = re.compile(r"[0-9]+", re.ASCII)


def _federation_version(raw: str) -> int:
    if raw.startswith("-") and _DECIMAL.fullmatch(raw[1:]):
        raise _Invalid(f'config.parameters["version"] {raw!r} is negative')
    if not _DECIMAL.fullmatch(raw):
        raise _Invalid(f'config.parameters["version"] {raw!r} is not a decimal integer')
    version = int(raw)
    if version > INT64_MAX:
        raise _Invalid(f'config.parameters["version"] {raw!r} does not fit in 64 bits')
    return version


def _members(members: Iterable[pb.FederationMember]) -> tuple[Member, ...]:
    # Only the shape is checked here; whether the keys are on the curve, distinct
    # and enough for the threshold is the ChainActor's judgement (it rejects
    # the update with a reason, counts it and still answers `Handled`).
    return tuple(
        Member(m.member_id, bytes(m.public_key), m.weight, m.active) for m in members
    )


def update_digest(update: pb.FederationUpdate) -> bytes:
    """What governance signs (convention 5): SHA-256 of the update serialized
    deterministically (map entries in key order) with `update_signature` empty."""
    unsigned = pb.FederationUpdate()
    unsigned.CopyFrom(update)
    unsigned.ClearField("update_signature")
    return hashlib.sha256(unsigned.SerializeToString(deterministic=True)).digest()


def _federation_update(request_id: str, status: str, update: pb.FederationUpdate) -> Inbound:
    update_type = FEDERATION_UPDATE_TYPES.name(update.update_type, "update_type")
    if not update.HasField("config"):
        raise _Invalid("config is missing")
    parameters = update.config.parameters
    if "version" not in parameters:
        raise _Invalid('config.parameters["version"] is missing')
    version = _federation_version(parameters["version"])
    return FederationReceived(
        request_id,
        UpdateFederation(
            request_id=request_id,
            update_type=update_type,
            version=version,
            members=_members(update.members),
            threshold=update.config.signature_threshold,
            effective_height=update.effective_height,
            p2wsh_address=parameters.get("p2wsh_address") or None,
            update_signature=update.update_signature,
            update_digest=update_digest(update),
        ),
    )


def _proposal(request_id: str, status: str, proposal: pb.ProposalNotification) -> Inbound:
    if not proposal.proposal_id:
        raise _Invalid("proposal_id is empty")
    return ProposalArrived(
        request_id,
        ProposalReceived(
            proposal_id=proposal.proposal_id,
            proposal_type=PROPOSAL_TYPES.name(proposal.proposal_type, "proposal_type"),
            data=proposal.proposal_data,
            voting_deadline=proposal.voting_deadline,
            required_votes=proposal.required_votes,
        ),
    )


def _error(request_id: str, status: str, error: pb.ErrorResponse) -> Inbound:
    retry_after_s = None
    if error.HasField("retry_info"):
        if error.retry_info.retry_after < 0:
            raise _Invalid(f"retry_info.retry_after {error.retry_info.retry_after} is negative")
        retry_after_s = float(error.retry_info.retry_after)
    return ErrorReceived(
        request_id=request_id,
        # An error of unspecified kind is still an error: keep it rather than drop it.
        code=ERROR_CODES.name(error.error_code, "error_code", allow_unspecified=True),
        message=error.error_message,
        details=error.error_details if error.HasField("error_details") else None,
        retry_after_s=retry_after_s,
        status=status,
    )


def _heartbeat_ack(request_id: str, status: str, ack: pb.HeartbeatAck) -> Inbound:
    return HeartbeatAcked(request_id, ack.sequence, ack.original_timestamp, ack.ack_timestamp)


# Keyed by the name of the StreamResponse `payload` oneof member.
_DECODERS: Mapping[str, Callable[[str, str, Any], Inbound]] = {
    "registration_ack": _registration_ack,
    "signature_response": _signature_response,
    "federation_update": _federation_update,
    "proposal_notification": _proposal,
    "error_response": _error,
    "heartbeat_ack": _heartbeat_ack,
}
