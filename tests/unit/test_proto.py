"""The generated governance.v1 code matches the public wire sheet (written out below) and
round-trips.

The sheet is encoded below as data; the checks read the compiled descriptor
(as a FileDescriptorProto), so they see exactly what goes on the wire.
Only protobuf is imported here, never grpc: see tests/support/grpc_client.py.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from harness.mock import REPO_ROOT, project_env
from protocol import governance_pb2 as pb

PACKAGE = "governance.v1"

# The sheet, "Messages": message -> [(field, number, type)], in sheet order.
MESSAGES: dict[str, list[tuple[str, int, str]]] = {
    "StreamRequest": [
        ("metadata", 1, "RequestMetadata"),
        ("node_registration", 10, "NodeRegistration"),
        ("signature_request", 20, "SignatureRequest"),
        ("pegin_notification", 30, "PeginNotification"),
        ("status_update", 40, "StatusUpdate"),
        ("heartbeat", 50, "Heartbeat"),
    ],
    "StreamResponse": [
        ("metadata", 1, "ResponseMetadata"),
        ("registration_ack", 10, "NodeRegistrationAck"),
        ("signature_response", 20, "SignatureResponse"),
        ("federation_update", 30, "FederationUpdate"),
        ("proposal_notification", 40, "ProposalNotification"),
        ("error_response", 50, "ErrorResponse"),
        ("heartbeat_ack", 60, "HeartbeatAck"),
    ],
    "RequestMetadata": [
        ("request_id", 1, "string"),
        ("timestamp", 2, "int64"),
        ("node_id", 3, "string"),
        ("protocol_version", 4, "string"),
        ("priority", 5, "RequestPriority"),
        ("timeout", 6, "optional int32"),
    ],
    "ResponseMetadata": [
        ("request_id", 1, "string"),
        ("timestamp", 2, "int64"),
        ("node_id", 3, "string"),
        ("status", 4, "StatusCode"),
        ("message", 5, "optional string"),
    ],
    "NodeRegistration": [
        ("node_info", 1, "NodeInfo"),
        ("capabilities", 2, "repeated string"),
        ("endpoints", 3, "repeated NetworkEndpoint"),
        ("auth", 4, "AuthCredentials"),
    ],
    "NodeRegistrationAck": [
        ("accepted", 1, "bool"),
        ("assigned_node_id", 2, "string"),
        ("session_token", 3, "optional string"),
        ("expires_at", 4, "optional int64"),
    ],
    "SignatureRequest": [
        ("tx_hex", 1, "string"),
        ("input_indices", 2, "repeated uint32"),
        ("amounts", 3, "repeated uint64"),
        ("tx_type", 4, "TransactionType"),
        ("required_signatures", 5, "uint32"),
        ("timeout_seconds", 6, "optional int32"),
    ],
    "SignatureResponse": [
        ("status", 1, "SignatureStatus"),
        ("signatures", 2, "repeated WitnessData"),
        ("failure_reason", 3, "optional string"),
        ("partial_signatures", 4, "repeated PartialSignature"),
    ],
    "PeginNotification": [
        ("btc_txid", 1, "string"),
        ("vout", 2, "uint32"),
        ("amount", 3, "uint64"),
        ("evm_address", 4, "string"),
        ("confirmations", 5, "uint32"),
        ("extra_data", 6, "optional bytes"),
    ],
    "FederationUpdate": [
        ("update_type", 1, "FederationUpdateType"),
        ("members", 2, "repeated FederationMember"),
        ("effective_height", 3, "uint64"),
        ("update_signature", 4, "bytes"),
        ("config", 5, "optional FederationConfig"),
    ],
    "ProposalNotification": [
        ("proposal_id", 1, "string"),
        ("proposal_type", 2, "ProposalType"),
        ("proposal_data", 3, "bytes"),
        ("voting_deadline", 4, "int64"),
        ("required_votes", 5, "uint32"),
    ],
    "StatusUpdate": [
        ("status", 1, "NodeStatus"),
        ("block_height", 2, "uint64"),
        ("sync_status", 3, "SyncStatus"),
        ("connection_count", 4, "uint32"),
        ("metrics", 5, "optional PerformanceMetrics"),
    ],
    "ErrorResponse": [
        ("error_code", 1, "ErrorCode"),
        ("error_message", 2, "string"),
        ("error_details", 3, "optional string"),
        ("retry_info", 4, "optional RetryInfo"),
    ],
    "Heartbeat": [
        ("timestamp", 1, "int64"),
        ("sequence", 2, "uint64"),
        ("health", 3, "HealthStatus"),
    ],
    "HeartbeatAck": [
        ("original_timestamp", 1, "int64"),
        ("ack_timestamp", 2, "int64"),
        ("sequence", 3, "uint64"),
    ],
    "HealthRequest": [("check_type", 1, "optional string")],
    "HealthResponse": [
        ("status", 1, "HealthStatus"),
        ("version", 2, "string"),
        ("uptime", 3, "int64"),
        ("info", 4, "map<string,string>"),
    ],
    "CapabilitiesRequest": [("node_id", 1, "string")],
    "CapabilitiesResponse": [
        ("protocol_versions", 1, "repeated string"),
        ("features", 2, "repeated string"),
        ("limits", 3, "map<string,int32>"),
    ],
    "NodeInfo": [
        ("public_key", 1, "string"),
        ("node_type", 2, "NodeType"),
        ("version", 3, "string"),
        ("region", 4, "optional string"),
    ],
    "NetworkEndpoint": [
        ("url", 1, "string"),
        ("endpoint_type", 2, "EndpointType"),
        ("priority", 3, "uint32"),
        ("enabled", 4, "bool"),
    ],
    "AuthCredentials": [
        ("auth_type", 1, "AuthType"),
        ("credential_data", 2, "bytes"),
        ("expires_at", 3, "optional int64"),
    ],
    "WitnessData": [
        ("signature", 1, "bytes"),
        ("public_key", 2, "bytes"),
        ("sig_type", 3, "SignatureType"),
    ],
    "PartialSignature": [
        ("signer_id", 1, "string"),
        ("signature", 2, "bytes"),
        ("status", 3, "SignatureStatus"),
    ],
    "FederationMember": [
        ("member_id", 1, "string"),
        ("public_key", 2, "bytes"),
        ("weight", 3, "uint32"),
        ("active", 4, "bool"),
    ],
    "FederationConfig": [
        ("signature_threshold", 1, "uint32"),
        ("member_count", 2, "uint32"),
        ("parameters", 3, "map<string,string>"),
    ],
    "PerformanceMetrics": [
        ("cpu_usage", 1, "float"),
        ("memory_usage", 2, "uint64"),
        ("network_sent", 3, "uint64"),
        ("network_received", 4, "uint64"),
        ("avg_latency_ms", 5, "float"),
    ],
    "RetryInfo": [
        ("retry_after", 1, "int32"),
        ("max_retries", 2, "int32"),
        ("current_attempt", 3, "int32"),
    ],
}

# The sheet, "Envelopes": the members of each envelope's `oneof payload`.
PAYLOAD_ONEOFS: dict[str, list[str]] = {
    "StreamRequest": [
        "node_registration",
        "signature_request",
        "pegin_notification",
        "status_update",
        "heartbeat",
    ],
    "StreamResponse": [
        "registration_ack",
        "signature_response",
        "federation_update",
        "proposal_notification",
        "error_response",
        "heartbeat_ack",
    ],
}

# The sheet, "Enums": values numbered from 1; <ENUM>_UNSPECIFIED = 0 is implied.
ENUMS: dict[str, list[str]] = {
    "RequestPriority": ["LOW", "NORMAL", "HIGH", "CRITICAL"],
    "StatusCode": [
        "SUCCESS",
        "ERROR",
        "TIMEOUT",
        "UNAUTHORIZED",
        "RATE_LIMITED",
        "SERVICE_UNAVAILABLE",
    ],
    "TransactionType": ["PEGIN", "PEGOUT", "FEDERATION_CHANGE", "EMERGENCY"],
    "SignatureStatus": ["PENDING", "PARTIAL", "COMPLETE", "FAILED", "TIMEOUT"],
    "FederationUpdateType": ["MEMBER_ADD", "MEMBER_REMOVE", "CONFIG_CHANGE", "EMERGENCY_HALT"],
    "ProposalType": ["FEDERATION_CHANGE", "PARAMETER_CHANGE", "EMERGENCY_ACTION", "UPGRADE"],
    "NodeType": ["VALIDATOR", "OBSERVER", "BRIDGE", "SIGNER"],
    "EndpointType": ["GRPC", "REST", "WEBSOCKET"],
    "AuthType": ["BEARER", "MUTUAL_TLS", "SIGNATURE", "API_KEY"],
    "SignatureType": ["ECDSA", "SCHNORR", "BLS"],
    "NodeStatus": ["STARTING", "SYNCING", "ACTIVE", "DEGRADED", "OFFLINE"],
    "SyncStatus": ["SYNCED", "SYNCING", "STALLED", "ERROR"],
    "HealthStatus": ["HEALTHY", "DEGRADED", "UNHEALTHY", "UNKNOWN"],
    "ErrorCode": [
        "INVALID_REQUEST",
        "AUTHENTICATION_FAILED",
        "AUTHORIZATION_FAILED",
        "RATE_LIMITED",
        "SERVICE_UNAVAILABLE",
        "TIMEOUT",
        "INTERNAL_ERROR",
        "INVALID_SIGNATURE",
        "INSUFFICIENT_SIGNATURES",
        "FEDERATION_ERROR",
    ],
}

# The sheet, "Service GovernanceStream": rpc -> (request, response, client/server streaming).
METHODS: dict[str, tuple[str, str, bool, bool]] = {
    "Stream": ("StreamRequest", "StreamResponse", True, True),
    "Health": ("HealthRequest", "HealthResponse", False, False),
    "GetCapabilities": ("CapabilitiesRequest", "CapabilitiesResponse", False, False),
}

FDP = descriptor_pb2.FieldDescriptorProto


def _file_proto() -> descriptor_pb2.FileDescriptorProto:
    proto = descriptor_pb2.FileDescriptorProto()
    pb.DESCRIPTOR.CopyToProto(proto)
    return proto


FILE = _file_proto()


def _short(type_name: str) -> str:
    prefix = f".{PACKAGE}."
    assert type_name.startswith(prefix), type_name
    return type_name[len(prefix) :]


def _message_proto(name: str) -> descriptor_pb2.DescriptorProto:
    return next(m for m in FILE.message_type if m.name == name)


def _type_of(message: descriptor_pb2.DescriptorProto, field: FDP) -> str:
    """Render a field's wire type in the sheet's notation."""
    if field.type in (FDP.TYPE_MESSAGE, FDP.TYPE_ENUM):
        base = _short(field.type_name) if field.type_name.startswith(".") else field.type_name
        entry = next((n for n in message.nested_type if n.name == base.split(".")[-1]), None)
        if entry is not None and entry.options.map_entry:
            key, value = (_type_of(entry, f) for f in entry.field)
            return f"map<{key},{value}>"
    else:
        base = FDP.Type.Name(field.type).removeprefix("TYPE_").lower()
    if field.label == FDP.LABEL_REPEATED:
        return f"repeated {base}"
    if field.proto3_optional:
        return f"optional {base}"
    return base


def test_file_declares_package_governance_v1_in_proto3() -> None:
    assert FILE.package == PACKAGE
    assert FILE.syntax == "proto3"


def test_the_file_holds_exactly_the_sheets_messages_and_enums() -> None:
    assert sorted(m.name for m in FILE.message_type) == sorted(MESSAGES)
    assert sorted(e.name for e in FILE.enum_type) == sorted(ENUMS)


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_message_fields_match_the_sheet(name: str) -> None:
    message = _message_proto(name)
    actual = [(f.name, f.number, _type_of(message, f)) for f in message.field]
    assert sorted(actual, key=lambda f: f[1]) == sorted(MESSAGES[name], key=lambda f: f[1])


@pytest.mark.parametrize("name", sorted(PAYLOAD_ONEOFS))
def test_envelope_payload_oneof_holds_exactly_the_sheets_members(name: str) -> None:
    message = _message_proto(name)
    real_oneofs = {
        i: o.name
        for i, o in enumerate(message.oneof_decl)
        if not any(f.proto3_optional and f.oneof_index == i for f in message.field)
    }
    assert list(real_oneofs.values()) == ["payload"]
    (payload_index,) = real_oneofs
    members = [
        f.name
        for f in message.field
        if f.HasField("oneof_index") and f.oneof_index == payload_index
    ]
    assert members == PAYLOAD_ONEOFS[name]
    # metadata sits outside the oneof, so every envelope can carry it with any payload
    metadata = next(f for f in message.field if f.name == "metadata")
    assert not metadata.HasField("oneof_index")


@pytest.mark.parametrize("name", sorted(ENUMS))
def test_enum_values_match_the_sheet(name: str) -> None:
    enum = next(e for e in FILE.enum_type if e.name == name)
    prefix = pb.DESCRIPTOR.enum_types_by_name[name].name
    screaming = "".join(f"_{c}" if c.isupper() else c.upper() for c in prefix).lstrip("_")
    expected = [(f"{screaming}_UNSPECIFIED", 0)] + [
        (f"{screaming}_{value}", number) for number, value in enumerate(ENUMS[name], start=1)
    ]
    assert [(v.name, v.number) for v in enum.value] == expected


def test_service_methods_and_streaming_kinds_match_the_sheet() -> None:
    assert [s.name for s in FILE.service] == ["GovernanceStream"]
    service = FILE.service[0]
    actual = {
        m.name: (
            _short(m.input_type),
            _short(m.output_type),
            m.client_streaming,
            m.server_streaming,
        )
        for m in service.method
    }
    assert actual == METHODS


# ------------------------------------------------------------------ round trips

_SCALARS: dict[int, Any] = {
    FieldDescriptor.TYPE_STRING: "text-\u00e9",
    FieldDescriptor.TYPE_BYTES: b"\x00\xffbytes",
    FieldDescriptor.TYPE_BOOL: True,
    FieldDescriptor.TYPE_FLOAT: 1.5,  # exactly representable in 32 bits
    FieldDescriptor.TYPE_INT32: -(2**31),
    FieldDescriptor.TYPE_INT64: -(2**62),
    FieldDescriptor.TYPE_UINT32: 2**32 - 1,
    FieldDescriptor.TYPE_UINT64: 2**64 - 1,
}


def _value(field: FieldDescriptor) -> Any:
    if field.type == FieldDescriptor.TYPE_ENUM:
        return field.enum_type.values[-1].number
    return _SCALARS[field.type]


def populate(message: Message, depth: int = 0, oneof_member: str | None = None) -> Message:
    """Set every field to a non-default value; in a oneof, only ``oneof_member``
    (or the first member when None)."""
    if depth > 5:
        raise AssertionError("message nesting deeper than the sheet allows: recursive type?")
    descriptor: Descriptor = message.DESCRIPTOR
    for field in descriptor.fields:
        oneof = field.containing_oneof
        # Setting every member of the payload oneof would leave only the last.
        in_payload = oneof is not None and oneof.name == "payload"
        if in_payload and field.name != (oneof_member or oneof.fields[0].name):
            continue
        _set(message, field, depth)
    return message


def _set(message: Message, field: FieldDescriptor, depth: int) -> None:
    target = getattr(message, field.name)
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        value_field = field.message_type.fields_by_name["value"]
        for suffix in ("a", "b"):
            key = f"key-{suffix}"
            if value_field.message_type is None:
                target[key] = _value(value_field)
            else:
                populate(target[key], depth + 1)
    elif field.is_repeated:
        for _ in range(2):
            if field.message_type is not None:
                populate(target.add(), depth + 1)
            else:
                target.append(_value(field))
    elif field.message_type is not None:
        populate(target, depth + 1)
        target.SetInParent()  # a message whose fields are all default still counts as set
    else:
        setattr(message, field.name, _value(field))


def _round_trip(message: Message) -> Message:
    return type(message).FromString(message.SerializeToString())


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_every_message_round_trips_through_bytes(name: str) -> None:
    original = populate(getattr(pb, name)())
    copy = _round_trip(original)
    assert copy == original
    # Every field the sheet lists is present (or, in the payload oneof, one is).
    set_fields = {f.name for f, _ in copy.ListFields()}
    unset = {f for f, _, _ in MESSAGES[name]} - set_fields - set(PAYLOAD_ONEOFS.get(name, []))
    assert not unset


@pytest.mark.parametrize(
    ("envelope", "member"),
    [(envelope, member) for envelope, members in PAYLOAD_ONEOFS.items() for member in members],
)
def test_every_envelope_payload_round_trips_and_keeps_its_kind(envelope: str, member: str) -> None:
    original = populate(getattr(pb, envelope)(), oneof_member=member)
    copy = _round_trip(original)
    assert copy == original
    assert copy.WhichOneof("payload") == member
    assert copy.metadata.request_id == original.metadata.request_id


def test_setting_another_payload_member_replaces_the_first() -> None:
    request = pb.StreamRequest(heartbeat=pb.Heartbeat(sequence=7))
    request.status_update.block_height = 10
    assert request.WhichOneof("payload") == "status_update"
    assert not request.HasField("heartbeat")


def test_optional_fields_keep_explicit_defaults_apart_from_unset() -> None:
    # proto3 `optional` gives presence: a timeout of 0 is not "no timeout".
    with_zero = _round_trip(pb.RequestMetadata(request_id="r", timeout=0))
    unset = _round_trip(pb.RequestMetadata(request_id="r"))
    assert with_zero.HasField("timeout")
    assert not unset.HasField("timeout")


def test_a_realistic_heartbeat_exchange_round_trips() -> None:
    request = pb.StreamRequest(
        metadata=pb.RequestMetadata(
            request_id="hb-1",
            timestamp=1_700_000_000,
            node_id="alys-local-1",
            protocol_version=PACKAGE,
            priority=pb.REQUEST_PRIORITY_HIGH,
        ),
        heartbeat=pb.Heartbeat(
            timestamp=1_700_000_000, sequence=1, health=pb.HEALTH_STATUS_HEALTHY
        ),
    )
    response = pb.StreamResponse(
        metadata=pb.ResponseMetadata(request_id="hb-1", status=pb.STATUS_CODE_SUCCESS),
        heartbeat_ack=pb.HeartbeatAck(
            original_timestamp=1_700_000_000, ack_timestamp=1_700_000_001, sequence=1
        ),
    )
    assert _round_trip(request) == request
    assert _round_trip(response) == response


# ------------------------------------------------------------------ generation


def test_committed_generated_code_is_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "protocol.codegen", "--check"],
        cwd=REPO_ROOT,
        env=project_env(),
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 0, result.stdout + result.stderr
