"""How the mock answers: one pure function per StreamRequest payload kind.

A handler takes the request and a ReplyContext (flags, time, token source,
the federation the mock signs with) and returns the responses to queue, in order;
payload kinds without a handler are only recorded. To teach the mock a new
answer, add a function and an entry in HANDLERS. ``answer`` applies the
misbehaviours that change what is answered (silent, error_next, answer_twice);
signature_fault is applied by the signature handler itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from actors.stream.wire.enums import ERROR_CODES
from mock_governance import auth, signer
from mock_governance.federation import SigningFederation
from mock_governance.flags import ErrorNext, Flags, Preamble, SignatureFaultKind
from protocol import governance_pb2 as pb

PROTOCOL_VERSION = "governance.v1"
MOCK_VERSION = "alys-mock-governance/0.1.0"
MAX_MESSAGE_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class ReplyContext:
    flags: Flags
    now_s: int
    new_token: Callable[[], str]
    signing: SigningFederation | None = None
    take_error: Callable[[], ErrorNext | None] = lambda: None
    take_signature_fault: Callable[[], SignatureFaultKind | None] = lambda: None
    # The auth policy's verdict on a registration (None: accepted), and a new session.
    auth_refusal: Callable[[pb.StreamRequest], str | None] = lambda request: None
    grant_session: Callable[[str], tuple[str, int | None]] | None = None


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
    refusal = None
    policy_refusal = ctx.auth_refusal(request)
    presents_session = request.node_registration.auth.HasField("expires_at")
    if ctx.flags.refuse_registration:
        refusal = "registration refused by the mock"
    elif not presents_session and not auth.registration_matches(
            request.node_registration, ctx.flags.require_token):
        refusal = "registration credentials missing or wrong"
    elif policy_refusal is not None:
        # The protocol's auth error (docs/protocol.md, conventions 1 and 9).
        return [pb.StreamResponse(
            metadata=reply_metadata(request, ctx, pb.STATUS_CODE_UNAUTHORIZED, policy_refusal),
            error_response=pb.ErrorResponse(
                error_code=pb.ERROR_CODE_AUTHENTICATION_FAILED, error_message=policy_refusal))]
    if refusal is not None:
        # The node treats accepted=false as an authentication failure.
        return [
            pb.StreamResponse(
                metadata=reply_metadata(request, ctx, pb.STATUS_CODE_UNAUTHORIZED, refusal),
                registration_ack=pb.NodeRegistrationAck(accepted=False, assigned_node_id=node_id),
            )
        ]
    if ctx.grant_session is None:
        ack = pb.NodeRegistrationAck(
            accepted=True, assigned_node_id=node_id, session_token=ctx.new_token()
        )
    else:
        token, expires_at = ctx.grant_session(node_id)
        ack = pb.NodeRegistrationAck(accepted=True, assigned_node_id=node_id, session_token=token)
        if expires_at is not None:
            ack.expires_at = expires_at
    return [pb.StreamResponse(metadata=reply_metadata(request, ctx), registration_ack=ack)]


def answer_heartbeat(request: pb.StreamRequest, ctx: ReplyContext) -> list[pb.StreamResponse]:
    ack = pb.HeartbeatAck(
        original_timestamp=request.heartbeat.timestamp,
        ack_timestamp=ctx.now_s,
        sequence=request.heartbeat.sequence,
    )
    return [pb.StreamResponse(metadata=reply_metadata(request, ctx), heartbeat_ack=ack)]


def answer_signature_request(
    request: pb.StreamRequest, ctx: ReplyContext
) -> list[pb.StreamResponse]:
    """Signed by the mock's federation, or FAILED with the reason (see mock_governance.signer)."""
    if ctx.signing is None:
        answer = signer.failed("the mock has no signing federation")
    else:
        # Taken even if the request turns out unsignable: a fault is for the next N requests.
        fault = ctx.take_signature_fault()
        answer = signer.sign_request(ctx.signing, request.signature_request, fault)
    return [pb.StreamResponse(metadata=reply_metadata(request, ctx), signature_response=answer)]


def acknowledge(request: pb.StreamRequest, ctx: ReplyContext) -> list[pb.StreamResponse]:
    """Metadata only, no payload (convention 7)."""
    return [pb.StreamResponse(metadata=reply_metadata(request, ctx))]


# The metadata status that goes with each injected error code; ERROR otherwise.
_ERROR_STATUS: Mapping[str, pb.StatusCode] = {
    "rate_limited": pb.STATUS_CODE_RATE_LIMITED,
    "service_unavailable": pb.STATUS_CODE_SERVICE_UNAVAILABLE,
    "timeout": pb.STATUS_CODE_TIMEOUT,
    "authentication_failed": pb.STATUS_CODE_UNAUTHORIZED,
    "authorization_failed": pb.STATUS_CODE_UNAUTHORIZED,
}


def error_answer(
    request: pb.StreamRequest, ctx: ReplyContext, error: ErrorNext
) -> pb.StreamResponse:
    status = _ERROR_STATUS.get(error.code, pb.STATUS_CODE_ERROR)
    body = pb.ErrorResponse(
        error_code=ERROR_CODES.wire(error.code),
        error_message=error.message,
        error_details="injected by the mock's error_next behaviour",
    )
    if error.retry_after_s is not None:
        body.retry_info.CopyFrom(pb.RetryInfo(retry_after=error.retry_after_s))
    return pb.StreamResponse(
        metadata=reply_metadata(request, ctx, status, error.message), error_response=body
    )


# Keyed by the name of the StreamRequest `payload` oneof member.
HANDLERS: Mapping[str, Handler] = {
    "node_registration": answer_registration,
    "heartbeat": answer_heartbeat,
    "signature_request": answer_signature_request,
    "pegin_notification": acknowledge,
    "status_update": acknowledge,
}
# Answered even when `silent`: the session stays up while requests go unanswered.
SESSION_KINDS = frozenset({"node_registration", "heartbeat"})
# What `error_next` answers with an error instead.
FAILABLE_KINDS = frozenset({"signature_request", "pegin_notification", "status_update"})


def answer(request: pb.StreamRequest, ctx: ReplyContext) -> list[pb.StreamResponse]:
    kind = request.WhichOneof("payload")
    handler = HANDLERS.get(kind) if kind else None
    if handler is None or (ctx.flags.silent and kind not in SESSION_KINDS):
        return []
    error = ctx.take_error() if kind in FAILABLE_KINDS else None
    responses = [error_answer(request, ctx, error)] if error else handler(request, ctx)
    if ctx.flags.answer_twice and kind == "signature_request":
        responses = responses * 2
    return responses


def preamble(request: pb.StreamRequest, ctx: ReplyContext) -> list[pb.StreamResponse]:
    """What `signature_preamble` sends ahead of a signature request's answer (none if off,
    or if the request is not going to be answered at all)."""
    kind = ctx.flags.signature_preamble
    if kind is None or ctx.flags.silent or request.WhichOneof("payload") != "signature_request":
        return []
    if kind is Preamble.ACK:
        return acknowledge(request, ctx)
    pending = pb.SignatureResponse(status=pb.SIGNATURE_STATUS_PENDING)
    return [pb.StreamResponse(metadata=reply_metadata(request, ctx), signature_response=pending)]


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
