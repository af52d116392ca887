"""How the mock answers: one pure function per StreamRequest payload kind.

A handler takes the request and a ReplyContext (flags, time, token source)
and returns the responses to queue, in order; payload kinds without a handler
are only recorded. To teach the mock a new answer (sign a SignatureRequest,
ack a PeginNotification), add a function and an entry in HANDLERS.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from protocol import governance_pb2 as pb
from protocol.mock.flags import Flags

PROTOCOL_VERSION = "governance.v1"
MOCK_VERSION = "alys-mock-governance/0.1.0"
MAX_MESSAGE_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class ReplyContext:
    flags: Flags
    now_s: int
    new_token: Callable[[], str]


Handler = Callable[[pb.StreamRequest, ReplyContext], list[pb.StreamResponse]]


def reply_metadata(
    request: pb.StreamRequest,
    ctx: ReplyContext,
    status: pb.StatusCode = pb.STATUS_CODE_SUCCESS,
    message: str | None = None,
) -> pb.ResponseMetadata:
    """Metadata correlating a response with ``request`` (convention: same request_id)."""
    metadata = pb.ResponseMetadata(
        request_id=request.metadata.request_id,
        timestamp=ctx.now_s,
        node_id=request.metadata.node_id,
        status=status,
    )
    if message is not None:
        metadata.message = message
    return metadata


def answer_registration(request: pb.StreamRequest, ctx: ReplyContext) -> list[pb.StreamResponse]:
    node_id = request.metadata.node_id
    if ctx.flags.refuse_registration:
        # The node treats accepted=false as an authentication failure.
        return [
            pb.StreamResponse(
                metadata=reply_metadata(
                    request, ctx, pb.STATUS_CODE_UNAUTHORIZED, "registration refused by the mock"
                ),
                registration_ack=pb.NodeRegistrationAck(accepted=False, assigned_node_id=node_id),
            )
        ]
    ack = pb.NodeRegistrationAck(
        accepted=True, assigned_node_id=node_id, session_token=ctx.new_token()
    )
    return [pb.StreamResponse(metadata=reply_metadata(request, ctx), registration_ack=ack)]


def answer_heartbeat(request: pb.StreamRequest, ctx: ReplyContext) -> list[pb.StreamResponse]:
    ack = pb.HeartbeatAck(
        original_timestamp=request.heartbeat.timestamp,
        ack_timestamp=ctx.now_s,
        sequence=request.heartbeat.sequence,
    )
    return [pb.StreamResponse(metadata=reply_metadata(request, ctx), heartbeat_ack=ack)]


# Keyed by the name of the StreamRequest `payload` oneof member.
HANDLERS: Mapping[str, Handler] = {
    "node_registration": answer_registration,
    "heartbeat": answer_heartbeat,
}


def answer(request: pb.StreamRequest, ctx: ReplyContext) -> list[pb.StreamResponse]:
    kind = request.WhichOneof("payload")
    handler = HANDLERS.get(kind) if kind else None
    return handler(request, ctx) if handler else []


def health(uptime_s: int, open_streams: int) -> pb.HealthResponse:
    return pb.HealthResponse(
        status=pb.HEALTH_STATUS_HEALTHY,
        version=MOCK_VERSION,
        uptime=uptime_s,
        info={"server": "mock", "open_streams": str(open_streams)},
    )


def capabilities(max_streams: int) -> pb.CapabilitiesResponse:
    return pb.CapabilitiesResponse(
        protocol_versions=[PROTOCOL_VERSION],
        features=sorted(HANDLERS),
        limits={"max_message_bytes": MAX_MESSAGE_BYTES, "max_streams": max_streams},
    )
