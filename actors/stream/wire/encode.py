"""The requests the node sends governance, built from the node's messages.

Each builder returns a `StreamRequest` ready to write to the stream, or raises
`EncodeError` for a value the wire cannot carry, so the StreamActor refuses a
request when it arrives rather than failing halfway through a flush.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from actors.messages import NotifyPegin, RequestSignatures
from actors.stream.wire.enums import (
    HEALTH_STATUSES,
    INT32_MAX,
    NODE_STATUSES,
    PRIORITIES,
    SYNC_STATUSES,
    TX_TYPES,
)
from protocol import governance_pb2 as pb
from protocol.errors import EncodeError

__all__ = [
    "PROTOCOL_VERSION",
    "heartbeat",
    "pegin_notification",
    "push_ack",
    "registration",
    "signature_request",
    "status_update",
]

PROTOCOL_VERSION = "governance.v1"


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
    auth: pb.AuthCredentials | None = None,
) -> pb.StreamRequest:
    """The first message of every session (convention 1).

    ``auth`` as given (conventions 2 and 9), else a bearer ``token``; neither: no auth."""
    with _encoding("NodeRegistration"):
        registration = pb.NodeRegistration(
            node_info=pb.NodeInfo(
                public_key=public_key, node_type=pb.NODE_TYPE_BRIDGE, version=version
            ),
            capabilities=list(capabilities),
        )
        if auth is not None:
            registration.auth.CopyFrom(auth)
        elif token:
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


def push_ack(
    *, request_id: str, node_id: str, now: int, priority: str = "low"
) -> pb.StreamRequest:
    """The acknowledgement of a push (convention 8): the push's `request_id` in the
    metadata and no payload. Governance tells it from every other request by the
    missing payload, as the node tells governance's acknowledgements (convention 7)."""
    with _encoding(f"push acknowledgement {request_id!r}"):
        return pb.StreamRequest(metadata=_metadata(request_id, node_id, now, priority))
