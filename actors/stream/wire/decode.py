"""One frame from governance in, one `Inbound` event out, or a refusal that says why.

`decode_frame` is what the stream's reader calls: it is total. Whatever
bytes governance sends, it returns an event or a `MalformedFrame` (never
raises), so no frame can end the reader thread or the call. `decode_bytes`
(raw bytes, as read off the stream: the call has no deserializer, so a
frame that does not parse costs only itself) and `decode` (a parsed
`StreamResponse`) raise `MalformedFrame` instead, for callers that want an
exception.

Every refusal has a kind (`checks.Refusal`) and a reason naming the field
and the problem; governance's own text appears in it only as a short,
escaped quote (`checks.shown`). The bounds are in checks.py and in
`governance.limits` (`GovernanceLimitsConfig`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping

from google.protobuf.message import DecodeError
from google.protobuf.unknown_fields import UnknownFieldSet

from actors.messages import (
    ApplySignatures,
    Member,
    ProposalReceived,
    UpdateFederation,
    Witness,
)
from actors.stream.wire.checks import (
    INT64_MAX,
    MAX_ID_CHARS,
    MAX_KEY_BYTES,
    MAX_RETRY_AFTER_S,
    MAX_SIGNATURE_BYTES,
    InvalidField,
    Refusal,
    bad_id,
    bytes_over,
    checked_id,
    count_over,
    negative,
    over_int64,
    shown,
    text,
)
from actors.stream.wire.enums import (
    ERROR_CODES,
    FEDERATION_UPDATE_TYPES,
    PROPOSAL_TYPES,
    SIGNATURE_STATUSES,
    SIGNATURE_TYPES,
    STATUS_CODES,
)
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
from actors.stream.wire.head import frame_head
from nodeconfig.model import GovernanceLimitsConfig
from protocol import governance_pb2 as pb
from protocol.errors import MalformedFrame

__all__ = ["DEFAULT_LIMITS", "decode", "decode_bytes", "decode_frame", "update_digest"]

DEFAULT_LIMITS = GovernanceLimitsConfig()

Limits = GovernanceLimitsConfig


def decode_frame(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Inbound | MalformedFrame:
    """The reader's one entry point: an event, or the refusal as a value. Never raises."""
    try:
        return decode_bytes(data, limits)
    except MalformedFrame as refused:
        return refused
    except Exception as error:
        # A bug on our side or a parser surprise: still governance's frame, skipped
        # and counted, rather than an exception that ends the reader and the call.
        return MalformedFrame(
            f"frame could not be decoded: {type(error).__name__}: {shown(str(error))}")


def decode_bytes(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Inbound:
    """Decode one raw frame, as read off the stream with a pass-through deserializer."""
    if len(data) > limits.max_frame_bytes:
        # Refused unparsed; only its head is read, for the id a refused push is
        # acknowledged by (gRPC itself refuses what is past `receive_ceiling`).
        metadata, payload = frame_head(data)
        request_id = metadata.request_id if metadata is not None else ""
        valid_id = 0 < len(request_id) <= MAX_ID_CHARS and request_id.isprintable()
        raise MalformedFrame(
            f"frame is {len(data)} bytes, more than governance.limits.max_frame_bytes "
            f"({limits.max_frame_bytes}); payload {payload or 'unknown'}",
            request_id=request_id if valid_id else None, kind=Refusal.TOO_LARGE)
    response = pb.StreamResponse()
    try:
        response.ParseFromString(data)
    except DecodeError as error:
        raise MalformedFrame(f"frame does not parse: {error}") from error
    return decode(response, limits)


def decode(response: pb.StreamResponse, limits: Limits = DEFAULT_LIMITS) -> Inbound:
    if not response.HasField("metadata"):
        raise MalformedFrame("response has no metadata")
    request_id = response.metadata.request_id
    if not (0 < len(request_id) <= MAX_ID_CHARS and request_id.isprintable()):
        # The id is not attached to the refusal: it is exactly what cannot be logged.
        problem = ("response metadata has an empty request_id" if not request_id
                   else str(bad_id(request_id, "metadata.request_id")))
        raise MalformedFrame(problem, kind=Refusal.BAD_ID)
    try:
        # UNSPECIFIED is tolerated: pushed messages often leave the status unset.
        status = STATUS_CODES.name(
            response.metadata.status, "metadata.status", allow_unspecified=True
        )
    except InvalidField as error:
        raise MalformedFrame(str(error), request_id, error.kind) from None
    kind = response.WhichOneof("payload")
    if kind is None:
        return _metadata_only(request_id, status, response)
    try:
        return _DECODERS[kind](request_id, status, response, limits)
    except InvalidField as error:
        raise MalformedFrame(f"{kind}: {error}", request_id, error.kind) from None


def update_digest(update: pb.FederationUpdate) -> bytes:
    """What governance signs (convention 5): SHA-256 of the update serialized
    deterministically (map entries in key order) with `update_signature` empty."""
    unsigned = pb.FederationUpdate()
    unsigned.CopyFrom(update)
    unsigned.ClearField("update_signature")
    return hashlib.sha256(unsigned.SerializeToString(deterministic=True)).digest()


def _metadata_only(request_id: str, status: str, response: pb.StreamResponse) -> Inbound:
    """An acknowledgement (convention 7), unless the payload is one this node does not know.

    protobuf keeps a field it does not know as an unknown field, and leaves the
    oneof unset: taken for an acknowledgement, a newer governance's payload
    would settle the request as if answered. Only acks pay for this look.
    """
    unknown = UnknownFieldSet(response)
    if len(unknown) == 0:
        return Acknowledged(request_id, status)
    field = unknown[0]
    number, wire_type = field.field_number, field.wire_type
    known = pb.StreamResponse.DESCRIPTOR.fields_by_number.get(number)
    if known is not None:  # a known number with the wrong wire type: a broken frame
        raise MalformedFrame(f"field {number} ({known.name}) has wire type {wire_type}, "
                             "which its type cannot have", request_id)
    raise MalformedFrame(f"payload field {number} (wire type {wire_type}) is not one this "
                         "node knows", request_id, Refusal.UNKNOWN_PAYLOAD)


# -- one decoder per member of the StreamResponse `payload` oneof ----------------------
# Each takes the whole response and reads its own member, so every decoder has
# the same precise signature and `_DECODERS` needs no Any. The checks run in the
# order that bounds the work: counts before the entries they count.


def _registration_ack(request_id: str, status: str, response: pb.StreamResponse,
                      limits: Limits) -> Inbound:
    ack = response.registration_ack
    node_id = checked_id(ack.assigned_node_id, "assigned_node_id", empty_ok=True)
    # A session token the node cannot keep is ignored (Credentials.granted), not refused:
    # the registration itself stands.
    token = ack.session_token if ack.HasField("session_token") else None
    expires_at = ack.expires_at if ack.HasField("expires_at") else None
    return RegistrationAck(request_id, ack.accepted, node_id, status, token, expires_at,
                           response.metadata.timestamp)


def _signature_response(request_id: str, status: str, response: pb.StreamResponse,
                        limits: Limits) -> Inbound:
    answer = response.signature_response
    answer_status = SIGNATURE_STATUSES.name(answer.status, "status")
    signatures = answer.signatures
    if len(signatures) > limits.max_witnesses:
        raise count_over(len(signatures), "signatures", limits.max_witnesses, "max_witnesses")
    sig_types = SIGNATURE_TYPES.by_number
    witnesses = []
    for i, w in enumerate(signatures):
        signature, key, sig_type = w.signature, w.public_key, sig_types.get(w.sig_type)
        if (sig_type is None or len(signature) > MAX_SIGNATURE_BYTES
                or len(key) > MAX_KEY_BYTES):
            raise _bad_witness(i, w)
        witnesses.append(Witness(signature, key, sig_type))
    apply = ApplySignatures(
        request_id=request_id,
        status=answer_status,
        signatures=tuple(witnesses),
        failure_reason=(text(answer.failure_reason) if answer.HasField("failure_reason")
                        else None),
    )
    return SignaturesReceived(request_id, apply)


def _bad_witness(i: int, witness: pb.WitnessData) -> InvalidField:
    field = f"signatures[{i}]"
    if len(witness.signature) > MAX_SIGNATURE_BYTES:
        return bytes_over(len(witness.signature), f"{field}.signature", MAX_SIGNATURE_BYTES,
                          "the longest signature")
    if len(witness.public_key) > MAX_KEY_BYTES:
        return bytes_over(len(witness.public_key), f"{field}.public_key", MAX_KEY_BYTES,
                          "the longest public key")
    try:
        SIGNATURE_TYPES.name(witness.sig_type, f"{field}.sig_type")
    except InvalidField as error:
        return error
    raise AssertionError(f"{field} was refused for no reason")  # unreachable


_DIGITS = re.compile(r"[0-9]+", re.ASCII)
_INT64_DIGITS = len(str(INT64_MAX))  # 19
_VERSION = 'config.parameters["version"]'


def _federation_version(raw: str) -> int:
    # The length before int(): thousands of digits cost time, and past 4,300
    # Python refuses them with ValueError.
    if len(raw) > _INT64_DIGITS and _DIGITS.fullmatch(raw):
        raise InvalidField(f"{_VERSION} {shown(raw)} has {len(raw)} digits; the largest "
                           f"version the node stores has {_INT64_DIGITS}", Refusal.OUT_OF_RANGE)
    if raw.startswith("-") and _DIGITS.fullmatch(raw[1:]):
        raise InvalidField(f"{_VERSION} {shown(raw)} is negative", Refusal.OUT_OF_RANGE)
    if not _DIGITS.fullmatch(raw):  # a sign, spaces, a fraction, non-ASCII digits
        raise InvalidField(f"{_VERSION} {shown(raw)} is not a decimal integer")
    if len(raw) > 1 and raw[0] == "0":
        # One spelling per version: two updates of the same number cannot differ in text.
        raise InvalidField(f"{_VERSION} {shown(raw)} has a leading zero")
    version = int(raw)
    if version > INT64_MAX:
        raise InvalidField(f"{_VERSION} {shown(raw)} does not fit in 64 bits (signed)",
                           Refusal.OUT_OF_RANGE)
    return version


def _check_parameters(config: pb.FederationConfig, limits: Limits) -> None:
    cap = limits.max_parameter_bytes
    if config.ByteSize() <= cap:
        return  # no key or value can be longer than the whole (one C call, the usual case)
    for key, value in config.parameters.items():
        for part, what in ((key, "key"), (value, "value")):
            size = len(part.encode())
            if size > cap:
                raise bytes_over(size, f"config.parameters {what} {shown(key)}", cap,
                                 "governance.limits.max_parameter_bytes")


def _members(update: pb.FederationUpdate, limits: Limits) -> tuple[Member, ...]:
    # Only the shape is checked here; whether the keys are on the curve, distinct
    # and enough for the threshold is the ChainActor's judgement (it rejects
    # the update with a reason, counts it and still answers `Handled`).
    entries = update.members
    if len(entries) > limits.max_members:
        raise count_over(len(entries), "members", limits.max_members, "max_members")
    checked = []
    for i, m in enumerate(entries):
        member_id, key = m.member_id, m.public_key
        if not (0 < len(member_id) <= MAX_ID_CHARS and member_id.isprintable()):
            raise bad_id(member_id, f"members[{i}].member_id")
        if len(key) > MAX_KEY_BYTES:
            raise bytes_over(len(key), f"members[{i}].public_key", MAX_KEY_BYTES,
                             "the longest public key")
        checked.append(Member(member_id, key, m.weight, m.active))
    return tuple(checked)


def _federation_update(request_id: str, status: str, response: pb.StreamResponse,
                       limits: Limits) -> Inbound:
    update = response.federation_update
    update_type = FEDERATION_UPDATE_TYPES.name(update.update_type, "update_type")
    if not update.HasField("config"):
        raise InvalidField("config is missing")
    config = update.config
    parameters = config.parameters
    if len(parameters) > limits.max_parameters:
        raise count_over(len(parameters), "config.parameters", limits.max_parameters,
                         "max_parameters")
    if "version" not in parameters:
        raise InvalidField(f"{_VERSION} is missing")
    version = _federation_version(parameters["version"])
    _check_parameters(config, limits)
    address = _optional_parameter(parameters, "p2wsh_address")
    # Convention 10; the ChainActor judges the values (btc.federation.validate_update).
    script_type = _optional_parameter(parameters, "script_type")
    p2tr_address = _optional_parameter(parameters, "p2tr_address")
    members = _members(update, limits)
    # A threshold above the most members a frame may carry can never be met.
    threshold = config.signature_threshold
    if threshold > limits.max_members:
        raise InvalidField(f"config.signature_threshold {threshold} is more than "
                           f"governance.limits.max_members ({limits.max_members})",
                           Refusal.OUT_OF_RANGE)
    effective_height = update.effective_height  # uint64 on the wire
    if effective_height > INT64_MAX:
        raise over_int64(effective_height, "effective_height")
    signature = update.update_signature
    if len(signature) > MAX_SIGNATURE_BYTES:
        raise bytes_over(len(signature), "update_signature", MAX_SIGNATURE_BYTES,
                         "the longest signature")
    return FederationReceived(
        request_id,
        UpdateFederation(
            request_id=request_id,
            update_type=update_type,
            version=version,
            members=members,
            threshold=threshold,
            effective_height=effective_height,
            p2wsh_address=address,
            update_signature=signature,
            update_digest=update_digest(update),
            script_type=script_type,
            p2tr_address=p2tr_address,
        ),
    )


def _optional_parameter(parameters: Mapping[str, str], key: str) -> str | None:
    """A `config.parameters` entry the node reads besides the version, bounded as an id;
    None when absent or empty."""
    value = parameters.get(key) or None
    if value is not None:
        checked_id(value, f'config.parameters["{key}"]')
    return value


def _proposal(request_id: str, status: str, response: pb.StreamResponse,
              limits: Limits) -> Inbound:
    proposal = response.proposal_notification
    proposal_id = checked_id(proposal.proposal_id, "proposal_id")
    proposal_type = PROPOSAL_TYPES.name(proposal.proposal_type, "proposal_type")
    data = proposal.proposal_data
    if len(data) > limits.max_proposal_data_bytes:
        raise bytes_over(len(data), "proposal_data", limits.max_proposal_data_bytes,
                         "governance.limits.max_proposal_data_bytes")
    deadline = proposal.voting_deadline  # int64 Unix seconds
    if deadline < 0:
        raise negative(deadline, "voting_deadline")
    return ProposalArrived(
        request_id,
        ProposalReceived(
            proposal_id=proposal_id,
            proposal_type=proposal_type,
            data=data,
            voting_deadline=deadline,
            required_votes=proposal.required_votes,  # uint32: always fits
        ),
    )


def _error(request_id: str, status: str, response: pb.StreamResponse,
           limits: Limits) -> Inbound:
    error = response.error_response
    # An error of unspecified kind is still an error: keep it rather than drop it.
    code = ERROR_CODES.name(error.error_code, "error_code", allow_unspecified=True)
    retry_after_s = None
    if error.HasField("retry_info"):
        retry_after = error.retry_info.retry_after  # int32 seconds
        if retry_after < 0:
            raise negative(retry_after, "retry_info.retry_after")
        # Cut, not refused: the error still answers its request; the stream then holds
        # off no longer than `governance.max_retry_after_s`.
        retry_after_s = float(min(retry_after, MAX_RETRY_AFTER_S))
    return ErrorReceived(
        request_id=request_id,
        code=code,
        message=text(error.error_message),
        details=text(error.error_details) if error.HasField("error_details") else None,
        retry_after_s=retry_after_s,
        status=status,
    )


def _heartbeat_ack(request_id: str, status: str, response: pb.StreamResponse,
                   limits: Limits) -> Inbound:
    ack = response.heartbeat_ack
    sequence = ack.sequence  # uint64 on the wire
    if sequence > INT64_MAX:
        raise over_int64(sequence, "sequence")
    original, acked = ack.original_timestamp, ack.ack_timestamp  # int64 Unix seconds
    if original < 0:
        raise negative(original, "original_timestamp")
    if acked < 0:
        raise negative(acked, "ack_timestamp")
    return HeartbeatAcked(request_id, sequence, original, acked)


_DECODERS: Mapping[str, Callable[[str, str, pb.StreamResponse, Limits], Inbound]] = {
    "registration_ack": _registration_ack,
    "signature_response": _signature_response,
    "federation_update": _federation_update,
    "proposal_notification": _proposal,
    "error_response": _error,
    "heartbeat_ack": _heartbeat_ack,
}
