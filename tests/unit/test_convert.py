"""actors/stream/wire/: builders round-trip, every inbound kind decodes, bad frames are named.

Only protobuf is imported here, never grpc: see tests/support/grpc_client.py.
"""

from __future__ import annotations

import hashlib
import math
import pickle
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.messages import (
    ApplySignatures,
    Member,
    NotifyPegin,
    ProposalReceived,
    RequestSignatures,
    UpdateFederation,
    Witness,
)
from actors.stream.wire import encode, enums
from actors.stream.wire.decode import decode, decode_bytes, update_digest
from actors.stream.wire.enums import EnumMap
from actors.stream.wire.events import (
    Acknowledged,
    ErrorReceived,
    FederationReceived,
    HeartbeatAcked,
    ProposalArrived,
    RegistrationAck,
    SignaturesReceived,
)
from harness.mock import REPO_ROOT, project_env
from protocol import governance_pb2 as pb
from protocol.errors import EncodeError, MalformedFrame, ProtocolError

NODE = "node-a"
NOW = 1_700_000_000
KEYS = [bytes([0x02]) + bytes([i]) * 32 for i in range(1, 5)]


def over_the_wire(request: pb.StreamRequest) -> pb.StreamRequest:
    return pb.StreamRequest.FromString(request.SerializeToString())


def answer(
    request: pb.StreamRequest, status: int = pb.STATUS_CODE_SUCCESS, **payload: Any
) -> pb.StreamResponse:
    """A response to ``request`` as governance would send it, parsed back from bytes."""
    response = pb.StreamResponse(
        metadata=pb.ResponseMetadata(
            request_id=request.metadata.request_id,
            timestamp=NOW + 1,
            node_id=request.metadata.node_id,
            status=status,
        ),
        **payload,
    )
    return pb.StreamResponse.FromString(response.SerializeToString())


def pushed(request_id: str = "push-1", **payload: Any) -> pb.StreamResponse:
    return pb.StreamResponse(
        metadata=pb.ResponseMetadata(request_id=request_id, status=pb.STATUS_CODE_SUCCESS),
        **payload,
    )


def assert_metadata(request: pb.StreamRequest, request_id: str, priority: int) -> None:
    assert request.metadata.request_id == request_id
    assert request.metadata.timestamp == NOW
    assert request.metadata.node_id == NODE
    assert request.metadata.protocol_version == "governance.v1"
    assert request.metadata.priority == priority


# ------------------------------------------------------------------ enum tables

TABLES = [
    (enums.PRIORITIES, pb.RequestPriority, "REQUEST_PRIORITY_"),
    (enums.STATUS_CODES, pb.StatusCode, "STATUS_CODE_"),
    (enums.TX_TYPES, pb.TransactionType, "TRANSACTION_TYPE_"),
    (enums.SIGNATURE_STATUSES, pb.SignatureStatus, "SIGNATURE_STATUS_"),
    (enums.SIGNATURE_TYPES, pb.SignatureType, "SIGNATURE_TYPE_"),
    (enums.FEDERATION_UPDATE_TYPES, pb.FederationUpdateType, "FEDERATION_UPDATE_TYPE_"),
    (enums.PROPOSAL_TYPES, pb.ProposalType, "PROPOSAL_TYPE_"),
    (enums.NODE_STATUSES, pb.NodeStatus, "NODE_STATUS_"),
    (enums.SYNC_STATUSES, pb.SyncStatus, "SYNC_STATUS_"),
    (enums.HEALTH_STATUSES, pb.HealthStatus, "HEALTH_STATUS_"),
    (enums.ERROR_CODES, pb.ErrorCode, "ERROR_CODE_"),
]


@pytest.mark.parametrize(
    ("table", "enum", "prefix"), TABLES, ids=[t.enum_name for t, _, _ in TABLES]
)
def test_each_enum_table_names_every_wire_value_by_its_lowercase_suffix(
    table: EnumMap, enum: Any, prefix: str
) -> None:
    expected = {
        name.removeprefix(prefix).lower(): number
        for name, number in enum.items()
        if not name.endswith("_UNSPECIFIED")
    }
    assert dict(table.by_name) == expected
    for name, number in expected.items():
        assert table.wire(name) == number
        assert table.name(number, "field") == name


def test_an_unknown_name_on_the_way_out_is_an_encode_error_listing_the_known_ones() -> None:
    with pytest.raises(EncodeError, match=r"'sideways' is not a TransactionType \(known: pegin"):
        enums.TX_TYPES.wire("sideways")


# ------------------------------------------------------------------ outbound builders


def test_registration_carries_a_bridge_node_info_and_the_token_as_bearer_credentials() -> None:
    request = over_the_wire(
        encode.registration(
            NODE,
            public_key="02" + "ab" * 32,
            version="0.1.0",
            capabilities=("pegin", "pegout"),
            token="s3cret",
            now=NOW,
            request_id="reg-1",
        )
    )

    assert_metadata(request, "reg-1", pb.REQUEST_PRIORITY_HIGH)
    registration = request.node_registration
    assert registration.node_info.public_key == "02" + "ab" * 32
    assert registration.node_info.node_type == pb.NODE_TYPE_BRIDGE
    assert registration.node_info.version == "0.1.0"
    assert list(registration.capabilities) == ["pegin", "pegout"]
    assert registration.auth.auth_type == pb.AUTH_TYPE_BEARER
    assert registration.auth.credential_data == b"s3cret"

    ack = answer(
        request,
        registration_ack=pb.NodeRegistrationAck(
            accepted=True, assigned_node_id=NODE, session_token="t"
        ),
    )
    # The session token is decoded; the node uses it only with an expires_at (Credentials).
    assert decode(ack) == RegistrationAck("reg-1", True, NODE, "success", "t", None,
                                          ack.metadata.timestamp)


@pytest.mark.parametrize("token", [None, ""])
def test_registration_without_a_token_sends_no_credentials(token: str | None) -> None:
    request = encode.registration(
        NODE, public_key="02", version="1", capabilities=[], token=token, now=NOW, request_id="r"
    )
    assert not over_the_wire(request).node_registration.HasField("auth")


def test_a_refused_registration_decodes_as_not_accepted_with_its_status() -> None:
    request = encode.registration(
        NODE, public_key="02", version="1", capabilities=[], token="t", now=NOW, request_id="r"
    )
    refused = answer(
        request,
        pb.STATUS_CODE_UNAUTHORIZED,
        registration_ack=pb.NodeRegistrationAck(accepted=False, assigned_node_id=NODE),
    )
    assert decode(refused) == RegistrationAck("r", False, NODE, "unauthorized",
                                              timestamp=refused.metadata.timestamp)


def test_signature_request_maps_every_field_and_rounds_the_timeout_up() -> None:
    msg = RequestSignatures(
        request_id="ignored-here",
        tx_hex="0200abcd",
        input_indices=(0, 2),
        amounts=(5000, 7000),
        tx_type="federation_change",
        required_signatures=2,
        timeout_s=59.2,
    )
    request = over_the_wire(
        encode.signature_request(
            msg, request_id="sig-1", node_id=NODE, now=NOW, priority="critical"
        )
    )

    assert_metadata(request, "sig-1", pb.REQUEST_PRIORITY_CRITICAL)
    sig = request.signature_request
    assert sig.tx_hex == "0200abcd"
    assert list(sig.input_indices) == [0, 2]
    assert list(sig.amounts) == [5000, 7000]
    assert sig.tx_type == pb.TRANSACTION_TYPE_FEDERATION_CHANGE
    assert sig.required_signatures == 2
    assert sig.timeout_seconds == 60


def test_signature_request_without_a_timeout_leaves_timeout_seconds_unset() -> None:
    msg = RequestSignatures("r", "00", (0,), (1,), timeout_s=None)
    request = encode.signature_request(msg, request_id="r", node_id=NODE, now=NOW)
    assert not over_the_wire(request).signature_request.HasField("timeout_seconds")


def test_a_complete_signature_response_decodes_to_apply_signatures_in_order() -> None:
    msg = RequestSignatures("sig-1", "00", (0, 1), (1, 2), required_signatures=1)
    request = encode.signature_request(msg, request_id="sig-1", node_id=NODE, now=NOW)
    response = answer(
        request,
        signature_response=pb.SignatureResponse(
            status=pb.SIGNATURE_STATUS_COMPLETE,
            signatures=[
                pb.WitnessData(
                    signature=b"s0", public_key=KEYS[0], sig_type=pb.SIGNATURE_TYPE_ECDSA
                ),
                pb.WitnessData(
                    signature=b"s1", public_key=KEYS[1], sig_type=pb.SIGNATURE_TYPE_SCHNORR
                ),
            ],
        ),
    )

    assert decode(response) == SignaturesReceived(
        "sig-1",
        ApplySignatures(
            request_id="sig-1",
            status="complete",
            signatures=(Witness(b"s0", KEYS[0], "ecdsa"), Witness(b"s1", KEYS[1], "schnorr")),
            failure_reason=None,
        ),
    )


def test_a_failed_signature_response_keeps_its_failure_reason() -> None:
    response = pushed(
        "sig-2",
        signature_response=pb.SignatureResponse(
            status=pb.SIGNATURE_STATUS_FAILED, failure_reason="federation busy"
        ),
    )
    decoded = decode(response)
    assert decoded == SignaturesReceived(
        "sig-2", ApplySignatures("sig-2", "failed", (), "federation busy")
    )


def test_pegin_notification_maps_every_field_and_its_ack_is_metadata_only() -> None:
    msg = NotifyPegin(
        request_id="p",
        btc_txid="ab" * 32,
        vout=3,
        amount=150_000,
        evm_address="0x" + "11" * 20,
        confirmations=6,
    )
    request = over_the_wire(
        encode.pegin_notification(msg, request_id="pegin-1", node_id=NODE, now=NOW)
    )

    assert_metadata(request, "pegin-1", pb.REQUEST_PRIORITY_NORMAL)
    pegin = request.pegin_notification
    assert (pegin.btc_txid, pegin.vout, pegin.amount) == ("ab" * 32, 3, 150_000)
    assert (pegin.evm_address, pegin.confirmations) == ("0x" + "11" * 20, 6)
    assert not pegin.HasField("extra_data")
    assert decode(answer(request)) == Acknowledged("pegin-1", "success")


def test_status_update_maps_every_field_and_an_error_ack_keeps_its_status() -> None:
    request = over_the_wire(
        encode.status_update(
            request_id="st-1",
            node_id=NODE,
            now=NOW,
            block_height=812_345,
            status="degraded",
            sync="stalled",
            connection_count=2,
        )
    )

    assert_metadata(request, "st-1", pb.REQUEST_PRIORITY_LOW)
    update = request.status_update
    assert update.status == pb.NODE_STATUS_DEGRADED
    assert update.block_height == 812_345
    assert update.sync_status == pb.SYNC_STATUS_STALLED
    assert update.connection_count == 2
    assert decode(answer(request, pb.STATUS_CODE_ERROR)) == Acknowledged("st-1", "error")


def test_status_update_defaults_to_active_and_synced() -> None:
    request = encode.status_update(request_id="st", node_id=NODE, now=NOW, block_height=1)
    assert request.status_update.status == pb.NODE_STATUS_ACTIVE
    assert request.status_update.sync_status == pb.SYNC_STATUS_SYNCED
    assert request.status_update.connection_count == 1


def test_heartbeat_carries_sequence_and_timestamp_and_its_ack_decodes() -> None:
    request = over_the_wire(
        encode.heartbeat(sequence=7, timestamp=NOW, node_id=NODE, request_id="hb-7")
    )

    assert_metadata(request, "hb-7", pb.REQUEST_PRIORITY_HIGH)
    assert request.heartbeat.sequence == 7
    assert request.heartbeat.timestamp == NOW
    assert request.heartbeat.health == pb.HEALTH_STATUS_HEALTHY
    ack = answer(
        request,
        heartbeat_ack=pb.HeartbeatAck(original_timestamp=NOW, ack_timestamp=NOW + 1, sequence=7),
    )
    assert decode(ack) == HeartbeatAcked("hb-7", 7, NOW, NOW + 1)


@pytest.mark.parametrize(
    ("build", "reason"),
    [
        (
            lambda: encode.signature_request(
                RequestSignatures("r", "00", (0,), (1,), tx_type="sideways"),
                request_id="r",
                node_id=NODE,
                now=NOW,
            ),
            "'sideways' is not a TransactionType",
        ),
        (
            lambda: encode.signature_request(
                RequestSignatures("r", "00", (-1,), (1,)), request_id="r", node_id=NODE, now=NOW
            ),
            "cannot encode SignatureRequest 'r'",
        ),
        (
            lambda: encode.signature_request(
                RequestSignatures("r", "00", (0,), (2**64,)), request_id="r", node_id=NODE, now=NOW
            ),
            "cannot encode SignatureRequest 'r'",
        ),
        (
            lambda: encode.signature_request(
                RequestSignatures("r", "00", (0,), (1,), timeout_s=0.0),
                request_id="r",
                node_id=NODE,
                now=NOW,
            ),
            "timeout_s must be a positive number of seconds, got 0.0",
        ),
        (
            lambda: encode.signature_request(
                RequestSignatures("r", "00", (0,), (1,), timeout_s=1e12),
                request_id="r",
                node_id=NODE,
                now=NOW,
            ),
            "does not fit in an int32",
        ),
        (
            lambda: encode.pegin_notification(
                NotifyPegin("p", "ab", -1, 1, "0x", 6), request_id="p", node_id=NODE, now=NOW
            ),
            "cannot encode PeginNotification 'p'",
        ),
        (
            lambda: encode.heartbeat(sequence=1, timestamp=NOW, node_id=NODE, request_id=""),
            "request_id is empty",
        ),
        (
            lambda: encode.status_update(
                request_id="s", node_id=NODE, now=NOW, block_height=1, priority="urgent"
            ),
            "'urgent' is not a RequestPriority",
        ),
    ],
    ids=[
        "tx-type",
        "negative-index",
        "amount-over-uint64",
        "zero-timeout",
        "huge-timeout",
        "negative-vout",
        "empty-request-id",
        "priority",
    ],
)
def test_a_value_the_wire_cannot_carry_is_an_encode_error(build: Any, reason: str) -> None:
    with pytest.raises(EncodeError) as raised:
        build()
    assert reason in str(raised.value)
    assert isinstance(raised.value, ProtocolError)


TX_TYPES = sorted(enums.TX_TYPES.by_name)
UINT32 = st.integers(min_value=0, max_value=2**32 - 1)
UINT64 = st.integers(min_value=0, max_value=2**64 - 1)


@given(
    request_id=st.text(min_size=1, max_size=40),
    tx_hex=st.binary(max_size=200).map(bytes.hex),
    input_indices=st.lists(UINT32, max_size=20).map(tuple),
    amounts=st.lists(UINT64, max_size=20).map(tuple),
    tx_type=st.sampled_from(TX_TYPES),
    required_signatures=UINT32,
    timeout_s=st.none() | st.floats(min_value=0.001, max_value=2**31 - 1),
    priority=st.sampled_from(sorted(enums.PRIORITIES.by_name)),
)
def test_any_request_signatures_survives_the_wire(
    request_id: str,
    tx_hex: str,
    input_indices: tuple[int, ...],
    amounts: tuple[int, ...],
    tx_type: str,
    required_signatures: int,
    timeout_s: float | None,
    priority: str,
) -> None:
    msg = RequestSignatures(
        request_id, tx_hex, input_indices, amounts, tx_type, required_signatures, timeout_s
    )

    request = over_the_wire(
        encode.signature_request(
            msg, request_id=request_id, node_id=NODE, now=NOW, priority=priority
        )
    )

    sig = request.signature_request
    back = RequestSignatures(
        request_id=request.metadata.request_id,
        tx_hex=sig.tx_hex,
        input_indices=tuple(sig.input_indices),
        amounts=tuple(sig.amounts),
        tx_type=enums.TX_TYPES.name(sig.tx_type, "tx_type"),
        required_signatures=sig.required_signatures,
        timeout_s=timeout_s,  # compared below: the wire has whole seconds
    )
    assert back == msg
    assert enums.PRIORITIES.name(request.metadata.priority, "priority") == priority
    if timeout_s is None:
        assert not sig.HasField("timeout_seconds")
    else:
        assert sig.timeout_seconds == math.ceil(timeout_s)


# ------------------------------------------------------------------ inbound kinds


def federation_update(
    *,
    members: list[pb.FederationMember] | None = None,
    threshold: int = 2,
    parameters: dict[str, str] | None = None,
    update_type: int = pb.FEDERATION_UPDATE_TYPE_MEMBER_ADD,
    config: bool = True,
) -> pb.StreamResponse:
    if members is None:
        members = [
            pb.FederationMember(member_id=f"m{i}", public_key=key, weight=1, active=True)
            for i, key in enumerate(KEYS[:3])
        ]
    update = pb.FederationUpdate(
        update_type=update_type,
        members=members,
        effective_height=1_000,
        update_signature=b"sig",
    )
    if config:
        update.config.CopyFrom(
            pb.FederationConfig(
                signature_threshold=threshold,
                member_count=len(members),
                parameters={"version": "3"} if parameters is None else parameters,
            )
        )
    return pushed("fed-1", federation_update=update)


def test_a_federation_update_decodes_with_version_threshold_and_the_full_member_set() -> None:
    members = [
        pb.FederationMember(member_id="m0", public_key=KEYS[0], weight=5, active=True),
        pb.FederationMember(member_id="m1", public_key=KEYS[1], weight=1, active=True),
        pb.FederationMember(member_id="m2", public_key=KEYS[2], weight=1, active=False),
    ]
    response = federation_update(
        members=members,
        parameters={"version": "12", "p2wsh_address": "bcrt1qxyz"},
        update_type=pb.FEDERATION_UPDATE_TYPE_MEMBER_REMOVE,
    )

    assert decode(response) == FederationReceived(
        "fed-1",
        UpdateFederation(
            request_id="fed-1",
            update_type="member_remove",
            version=12,
            members=(
                Member("m0", KEYS[0], 5, True),
                Member("m1", KEYS[1], 1, True),
                Member("m2", KEYS[2], 1, False),
            ),
            threshold=2,
            effective_height=1_000,
            p2wsh_address="bcrt1qxyz",
            update_signature=b"sig",
            update_digest=update_digest(response.federation_update),
        ),
    )


def test_the_update_digest_is_over_the_update_without_its_signature() -> None:
    signed = federation_update().federation_update
    resigned = pb.FederationUpdate()
    resigned.CopyFrom(signed)
    resigned.update_signature = b"another signature"
    changed = pb.FederationUpdate()
    changed.CopyFrom(signed)
    changed.effective_height += 1
    unsigned = pb.FederationUpdate()
    unsigned.CopyFrom(signed)
    unsigned.ClearField("update_signature")

    assert update_digest(signed) == update_digest(resigned)
    assert update_digest(signed) != update_digest(changed)
    assert update_digest(signed) == hashlib.sha256(
        unsigned.SerializeToString(deterministic=True)
    ).digest()


def test_a_federation_update_without_an_address_has_none() -> None:
    decoded = decode(federation_update())
    assert isinstance(decoded, FederationReceived)
    assert decoded.update.p2wsh_address is None
    assert decoded.update.version == 3


def test_a_proposal_decodes_to_proposal_received() -> None:
    response = pushed(
        "prop-1",
        proposal_notification=pb.ProposalNotification(
            proposal_id="p-9",
            proposal_type=pb.PROPOSAL_TYPE_PARAMETER_CHANGE,
            proposal_data=b"\x01\x02",
            voting_deadline=NOW + 3600,
            required_votes=3,
        ),
    )
    assert decode(response) == ProposalArrived(
        "prop-1", ProposalReceived("p-9", "parameter_change", b"\x01\x02", NOW + 3600, 3)
    )


def test_an_error_response_decodes_with_code_details_and_retry_after() -> None:
    response = pb.StreamResponse(
        metadata=pb.ResponseMetadata(request_id="sig-1", status=pb.STATUS_CODE_RATE_LIMITED),
        error_response=pb.ErrorResponse(
            error_code=pb.ERROR_CODE_RATE_LIMITED,
            error_message="slow down",
            error_details="bucket empty",
            retry_info=pb.RetryInfo(retry_after=30),
        ),
    )
    assert decode(response) == ErrorReceived(
        request_id="sig-1",
        code="rate_limited",
        message="slow down",
        details="bucket empty",
        retry_after_s=30.0,
        status="rate_limited",
    )


def test_an_error_without_retry_info_or_code_is_still_an_error() -> None:
    response = pushed("x", error_response=pb.ErrorResponse(error_message="boom"))
    assert decode(response) == ErrorReceived(
        "x", "unspecified", "boom", None, None, "success"
    )


def test_a_metadata_only_response_with_no_status_is_acknowledged_as_unspecified() -> None:
    response = pb.StreamResponse(metadata=pb.ResponseMetadata(request_id="ack-1"))
    assert decode(response) == Acknowledged("ack-1", "unspecified")


def test_decode_bytes_decodes_a_serialized_frame() -> None:
    frame = pushed("hb", heartbeat_ack=pb.HeartbeatAck(sequence=2)).SerializeToString()
    assert decode_bytes(frame) == HeartbeatAcked("hb", 2, 0, 0)


# ------------------------------------------------------------------ malformed frames


def with_metadata_status(status: int) -> pb.StreamResponse:
    return pb.StreamResponse(metadata=pb.ResponseMetadata(request_id="r", status=status))


def member(i: int, key: bytes, active: bool = True) -> pb.FederationMember:
    return pb.FederationMember(member_id=f"m{i}", public_key=key, weight=1, active=active)


MALFORMED: list[tuple[str, pb.StreamResponse, str]] = [
    (
        "no-metadata",
        pb.StreamResponse(heartbeat_ack=pb.HeartbeatAck(sequence=1)),
        "response has no metadata",
    ),
    (
        "empty-request-id",
        pb.StreamResponse(metadata=pb.ResponseMetadata(status=pb.STATUS_CODE_SUCCESS)),
        "response metadata has an empty request_id",
    ),
    (
        "unknown-status-code",
        with_metadata_status(99),
        "metadata.status has unknown StatusCode value 99",
    ),
    (
        "federation-without-config",
        federation_update(config=False),
        "federation_update: config is missing",
    ),
    (
        "federation-without-version",
        federation_update(parameters={"p2wsh_address": "bcrt1q"}),
        'federation_update: config.parameters["version"] is missing',
    ),
    (
        "version-not-decimal",
        federation_update(parameters={"version": "v2"}),
        "federation_update: config.parameters[\"version\"] 'v2' is not a decimal integer",
    ),
    (
        "version-with-a-fraction",
        federation_update(parameters={"version": "1.5"}),
        "'1.5' is not a decimal integer",
    ),
    (
        "version-with-spaces",
        federation_update(parameters={"version": " 2"}),
        "' 2' is not a decimal integer",
    ),
    (
        "version-empty",
        federation_update(parameters={"version": ""}),
        "'' is not a decimal integer",
    ),
    (
        "version-non-ascii-digits",
        federation_update(parameters={"version": "\u0663"}),
        "is not a decimal integer",
    ),
    (
        "version-negative",
        federation_update(parameters={"version": "-4"}),
        "federation_update: config.parameters[\"version\"] '-4' is negative",
    ),
    (
        "version-over-64-bits",
        federation_update(parameters={"version": str(2**63)}),
        "does not fit in 64 bits",
    ),
    (
        "update-type-unspecified",
        federation_update(update_type=pb.FEDERATION_UPDATE_TYPE_UNSPECIFIED),
        "federation_update: update_type is FederationUpdateType UNSPECIFIED",
    ),
    (
        "update-type-unknown",
        federation_update(update_type=9),
        "federation_update: update_type has unknown FederationUpdateType value 9",
    ),
    (
        "signature-status-unspecified",
        pushed("r", signature_response=pb.SignatureResponse()),
        "signature_response: status is SignatureStatus UNSPECIFIED",
    ),
    (
        "signature-status-unknown",
        pushed("r", signature_response=pb.SignatureResponse(status=42)),
        "signature_response: status has unknown SignatureStatus value 42",
    ),
    (
        "sig-type-unknown",
        pushed(
            "r",
            signature_response=pb.SignatureResponse(
                status=pb.SIGNATURE_STATUS_COMPLETE,
                signatures=[
                    pb.WitnessData(sig_type=pb.SIGNATURE_TYPE_ECDSA),
                    pb.WitnessData(sig_type=7),
                ],
            ),
        ),
        "signature_response: signatures[1].sig_type has unknown SignatureType value 7",
    ),
    (
        "proposal-type-unknown",
        pushed(
            "r",
            proposal_notification=pb.ProposalNotification(proposal_id="p", proposal_type=12),
        ),
        "proposal_notification: proposal_type has unknown ProposalType value 12",
    ),
    (
        "proposal-id-empty",
        pushed(
            "r",
            proposal_notification=pb.ProposalNotification(proposal_type=pb.PROPOSAL_TYPE_UPGRADE),
        ),
        "proposal_notification: proposal_id is empty",
    ),
    (
        "error-code-unknown",
        pushed("r", error_response=pb.ErrorResponse(error_code=77)),
        "error_response: error_code has unknown ErrorCode value 77",
    ),
    (
        "retry-after-negative",
        pushed("r", error_response=pb.ErrorResponse(retry_info=pb.RetryInfo(retry_after=-5))),
        "error_response: retry_info.retry_after -5 is negative",
    ),
]


@pytest.mark.parametrize(
    ("response", "reason"), [(r, why) for _, r, why in MALFORMED], ids=[i for i, _, _ in MALFORMED]
)
def test_a_malformed_frame_is_refused_with_the_precise_reason(
    response: pb.StreamResponse, reason: str
) -> None:
    # Through the bytes path too: that is how the node's stream reads frames.
    for decoder in (decode, decode_bytes):
        argument = response if decoder is decode else response.SerializeToString()
        with pytest.raises(MalformedFrame) as raised:
            decoder(argument)
        assert reason in raised.value.reason
        assert isinstance(raised.value, ProtocolError)


def test_a_malformed_payload_names_the_request_id_it_carried() -> None:
    with pytest.raises(MalformedFrame) as raised:
        decode(federation_update(parameters={"version": "x"}))
    assert raised.value.request_id == "fed-1"
    assert str(raised.value) == (
        "federation_update: config.parameters[\"version\"] 'x' is not a decimal integer"
        " (request_id 'fed-1')"
    )


@pytest.mark.parametrize("data", [b"\xff\xff\xff", b"\x0a\x05ab", b"not a protobuf frame"])
def test_bytes_that_do_not_parse_are_a_malformed_frame(data: bytes) -> None:
    with pytest.raises(MalformedFrame) as raised:
        decode_bytes(data)
    assert raised.value.reason.startswith("frame does not parse: ")
    assert raised.value.request_id is None


def test_a_malformed_frame_pickles_with_its_reason_and_request_id() -> None:
    error = MalformedFrame("config is missing", "fed-1")
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), copy.reason, copy.request_id, str(copy)) == (
        MalformedFrame,
        "config is missing",
        "fed-1",
        str(error),
    )


def test_the_wire_package_does_not_import_grpc() -> None:
    probe = ("import sys, actors.stream.wire.decode, actors.stream.wire.encode\n"
             "assert 'grpc' not in sys.modules\n")
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO_ROOT,
        env=project_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
