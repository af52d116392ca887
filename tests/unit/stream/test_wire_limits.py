"""Total, bounded decoding: whatever governance sends, the reader gets an event or a refusal.

`decode_frame` is what the stream's reader calls. These tests feed it any
bytes and any `StreamResponse` with values at and past every bound, and
check that it never raises, that what it returns stays within the caps, and
that each refusal has its kind and a short, printable reason. Only protobuf
is imported here, never grpc (the gRPC side is in
tests/integration/test_hostile_frames.py).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors.stream.wire.checks import (
    INT64_MAX,
    MAX_ID_CHARS,
    MAX_KEY_BYTES,
    MAX_RETRY_AFTER_S,
    MAX_SIGNATURE_BYTES,
    MAX_TEXT_CHARS,
    Refusal,
    shown,
    text,
)
from actors.stream.wire.decode import _DECODERS, DEFAULT_LIMITS, decode, decode_frame
from actors.stream.wire.enums import SIGNATURE_TYPES
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
from nodeconfig.model import GovernanceLimitsConfig
from protocol import governance_pb2 as pb
from protocol.errors import MalformedFrame

# Small caps, so that the generated frames cross them often and cheaply.
SMALL = GovernanceLimitsConfig(
    max_frame_bytes=32 * 1024, max_witnesses=6, max_members=6, max_parameters=6,
    max_parameter_bytes=128, max_proposal_data_bytes=256,
)
KEY = bytes([0x02]) + bytes([7]) * 32
SIGNATURE = b"\x30\x44" + b"\x11" * 68 + b"\x01"
# A refusal's text goes to a log line: two quotes of governance's text, an id and our words.
MAX_REASON_CHARS = 1000


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def unknown_field(number: int, payload: bytes = b"\x08\x01") -> bytes:
    """A length-delimited field `number`: what a newer governance's payload looks like to us."""
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def frame(request_id: str = "r-1", **payload: Any) -> pb.StreamResponse:
    return pb.StreamResponse(
        metadata=pb.ResponseMetadata(request_id=request_id, status=pb.STATUS_CODE_SUCCESS),
        **payload)


def federation(*, version: str = "3", members: int = 3, threshold: int = 2,
               effective_height: int = 100, parameters: dict[str, str] | None = None,
               member_id: str = "m", signature: bytes = b"sig") -> pb.StreamResponse:
    return frame("fed-1", federation_update=pb.FederationUpdate(
        update_type=pb.FEDERATION_UPDATE_TYPE_MEMBER_ADD,
        members=[pb.FederationMember(member_id=f"{member_id}{i}", public_key=KEY, weight=1,
                                     active=True) for i in range(members)],
        effective_height=effective_height,
        update_signature=signature,
        config=pb.FederationConfig(signature_threshold=threshold, member_count=members,
                                   parameters={"version": version, **(parameters or {})})))


def refused(response: pb.StreamResponse | bytes,
            limits: GovernanceLimitsConfig = DEFAULT_LIMITS) -> MalformedFrame:
    """The refusal `decode_frame` returns for `response`, checked like any refusal."""
    data = response if isinstance(response, bytes) else response.SerializeToString()
    result = decode_frame(data, limits)
    assert isinstance(result, MalformedFrame), result
    assert_bounded(result, limits)
    return result


# -- what "bounded" means --------------------------------------------------------------


def is_id(value: str, *, empty_ok: bool = False) -> bool:
    return (bool(value) or empty_ok) and len(value) <= MAX_ID_CHARS and value.isprintable()


def is_text(value: str | None) -> bool:
    return value is None or (len(value) <= MAX_TEXT_CHARS + 40 and value.isprintable())


def in_int64(*values: int) -> bool:
    return all(0 <= value <= INT64_MAX for value in values)


def assert_bounded(result: Inbound | MalformedFrame, limits: GovernanceLimitsConfig) -> None:
    if isinstance(result, MalformedFrame):
        assert result.kind in {kind.value for kind in Refusal}
        reason = str(result)
        assert len(reason) <= MAX_REASON_CHARS and reason.isprintable(), reason[:200]
        assert result.request_id is None or is_id(result.request_id)
        return
    assert is_id(result.request_id)
    if isinstance(result, SignaturesReceived):
        apply = result.apply
        assert len(apply.signatures) <= limits.max_witnesses
        for witness in apply.signatures:
            assert len(witness.signature) <= MAX_SIGNATURE_BYTES
            assert len(witness.public_key) <= MAX_KEY_BYTES
            assert witness.sig_type in SIGNATURE_TYPES.by_name
        assert is_text(apply.failure_reason)
    elif isinstance(result, FederationReceived):
        update = result.update
        assert len(update.members) <= limits.max_members
        assert all(is_id(m.member_id) and len(m.public_key) <= MAX_KEY_BYTES
                   for m in update.members)
        assert in_int64(update.version, update.effective_height, update.threshold)
        assert update.threshold <= limits.max_members
        assert len(update.update_signature) <= MAX_SIGNATURE_BYTES
        assert update.p2wsh_address is None or is_id(update.p2wsh_address)
    elif isinstance(result, ProposalArrived):
        proposal = result.proposal
        assert is_id(proposal.proposal_id)
        assert len(proposal.data) <= limits.max_proposal_data_bytes
        assert in_int64(proposal.voting_deadline, proposal.required_votes)
    elif isinstance(result, ErrorReceived):
        assert is_text(result.message) and is_text(result.details)
        assert result.retry_after_s is None or 0 <= result.retry_after_s <= MAX_RETRY_AFTER_S
    elif isinstance(result, HeartbeatAcked):
        assert in_int64(result.sequence, result.original_timestamp, result.ack_timestamp)
    elif isinstance(result, RegistrationAck):
        assert is_id(result.assigned_node_id, empty_ok=True)
    else:
        assert isinstance(result, Acknowledged)


# -- strategies: every field at and past its bounds --------------------------------------


def around(low: int, high: int, *edges: int) -> st.SearchStrategy[int]:
    """Integers of a wire type, with its bounds and the node's own bounds made likely."""
    points = sorted({low, high, *(e for e in edges if low <= e <= high)})
    return st.sampled_from(points) | st.integers(low, high)


def mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`good` seven times in eight: a frame has many fields, and must get past all but the
    one that is wrong for a bound deep inside it to be tested."""
    return st.sampled_from((good,) * 7 + (bad,)).flatmap(lambda chosen: chosen)


def enum(high: int) -> st.SearchStrategy[int]:
    return mostly(st.integers(1, high), st.integers(-1, high + 2) | INT32)


def bounded_list(item: st.SearchStrategy[Any], valid_item: st.SearchStrategy[Any],
                 cap: int) -> st.SearchStrategy[list[Any]]:
    """Up to `cap` of any entries, or just past `cap` of entries that pass every other check
    (else the frame would be refused for one of them, and the count never tested)."""
    return mostly(st.lists(item, max_size=cap),
                  st.lists(valid_item, min_size=cap + 1, max_size=cap + 3))


def sized(cap: int) -> st.SearchStrategy[bytes]:
    """Bytes within `cap`, or past it; invalid UTF-8 is fine in a bytes field."""
    over = st.integers(cap + 1, cap + 16).flatmap(lambda n: st.binary(min_size=n, max_size=n))
    return mostly(st.binary(max_size=cap), over)


UINT32 = around(0, 2**32 - 1, 1, 16, 64, 65)
INT32 = around(-(2**31), 2**31 - 1, -1, 0, MAX_RETRY_AFTER_S, MAX_RETRY_AFTER_S + 1)
INT64 = around(-(2**63), INT64_MAX, -1, 0)
UINT64 = around(0, 2**64 - 1, INT64_MAX, INT64_MAX + 1)
TEXTS = (st.text(max_size=30)  # includes control characters: only surrogates are left out
         | st.sampled_from(["", "ok", "a\nb", "\x00", "\u202e", "x" * (MAX_ID_CHARS + 1)])
         | st.text(min_size=200, max_size=3000))
IDS = mostly(st.text(min_size=1, max_size=12,
                     alphabet=st.characters(min_codepoint=33, max_codepoint=126)), TEXTS)
VERSIONS = mostly(
    st.integers(0, INT64_MAX).map(str),
    st.integers(-(2**70), 2**70).map(str)
    | st.sampled_from(["", "007", "+1", " 1", "1.0", "\u0663", str(INT64_MAX + 1)])
    | st.integers(0, 6000).map(lambda n: "9" * n)
    | TEXTS)

metadata = mostly(
    st.builds(pb.ResponseMetadata, request_id=IDS, timestamp=INT64, node_id=TEXTS,
              status=enum(6)),
    st.none())
witnesses = st.builds(pb.WitnessData, signature=sized(MAX_SIGNATURE_BYTES),
                      public_key=sized(MAX_KEY_BYTES), sig_type=enum(3))
valid_witnesses = st.builds(pb.WitnessData, signature=st.binary(max_size=73),
                            public_key=st.binary(max_size=33), sig_type=st.integers(1, 3))
members = st.builds(pb.FederationMember, member_id=IDS, public_key=sized(MAX_KEY_BYTES),
                    weight=UINT32, active=st.booleans())
valid_members = st.builds(pb.FederationMember, member_id=st.uuids().map(str),
                          public_key=st.binary(max_size=33), weight=UINT32,
                          active=st.booleans())
parameters = st.builds(
    lambda version, others, keep: {**others, "version": version} if keep else others,
    VERSIONS,
    mostly(st.dictionaries(IDS, IDS, max_size=SMALL.max_parameters - 1),
           st.dictionaries(TEXTS, TEXTS, max_size=SMALL.max_parameters + 2)),
    mostly(st.just(True), st.just(False)))
PAYLOADS: dict[str, st.SearchStrategy[Any]] = {
    "none": st.just(None),
    "registration_ack": st.builds(
        pb.NodeRegistrationAck, accepted=st.booleans(), assigned_node_id=IDS,
        expires_at=st.none() | INT64),
    "signature_response": st.builds(
        pb.SignatureResponse, status=enum(5),
        signatures=bounded_list(witnesses, valid_witnesses, SMALL.max_witnesses),
        failure_reason=st.none() | TEXTS),
    "federation_update": st.builds(
        pb.FederationUpdate, update_type=enum(4),
        members=bounded_list(members, valid_members, SMALL.max_members),
        effective_height=UINT64,
        update_signature=sized(MAX_SIGNATURE_BYTES),
        config=mostly(st.builds(pb.FederationConfig,
                                signature_threshold=mostly(st.integers(0, SMALL.max_members),
                                                           UINT32),
                                member_count=UINT32, parameters=parameters), st.none())),
    "proposal_notification": st.builds(
        pb.ProposalNotification, proposal_id=IDS, proposal_type=enum(4),
        proposal_data=sized(SMALL.max_proposal_data_bytes), voting_deadline=INT64,
        required_votes=UINT32),
    "error_response": st.builds(
        pb.ErrorResponse, error_code=enum(10), error_message=TEXTS,
        error_details=st.none() | TEXTS,
        retry_info=st.none() | st.builds(pb.RetryInfo, retry_after=INT32)),
    "heartbeat_ack": st.builds(
        pb.HeartbeatAck, original_timestamp=INT64, ack_timestamp=INT64, sequence=UINT64),
}


def responses(kind: str) -> st.SearchStrategy[pb.StreamResponse]:
    def build(meta: pb.ResponseMetadata | None, payload: Any) -> pb.StreamResponse:
        return pb.StreamResponse(metadata=meta, **({} if payload is None else {kind: payload}))

    return st.builds(build, metadata, PAYLOADS[kind])


# Appended to a frame: a payload from a newer governance, or a known field with a wrong type.
extras = st.sampled_from([b"", b"", unknown_field(70), unknown_field(2), varint(10 << 3) + b"\x01",
                          varint(20 << 3 | 5) + b"\x00\x00\x00\x00"])

BOUNDED = settings(max_examples=500, deadline=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@BOUNDED
@given(data=st.binary(max_size=4096))
def test_any_bytes_decode_to_an_event_or_a_refusal(data: bytes) -> None:
    assert_bounded(decode_frame(data, SMALL), SMALL)


@pytest.mark.parametrize("kind", sorted(PAYLOADS))
@BOUNDED
@given(data=st.data(), extra=extras, cut=st.integers(0, 64), flip=st.integers(0, 255))
def test_any_frame_with_extreme_values_decodes_within_the_caps_or_is_refused(
    kind: str, data: st.DataObject, extra: bytes, cut: int, flip: int
) -> None:
    response = data.draw(responses(kind), label="response")
    raw = response.SerializeToString() + extra
    # As sent, cut short, and with its first byte changed (a tag, usually the metadata's).
    for variant in (raw, raw[:-cut] if cut else raw, bytes([flip]) + raw[1:]):
        assert_bounded(decode_frame(variant, SMALL), SMALL)
        assert_bounded(decode_frame(variant, DEFAULT_LIMITS), DEFAULT_LIMITS)


# -- regressions: one per hole --------------------------------------------------------


def test_a_version_of_5000_digits_is_out_of_range_not_a_value_error() -> None:
    response = federation(version="7" * 5000)
    with pytest.raises(MalformedFrame):  # not ValueError from int(): the old reader's crash
        decode(response, GovernanceLimitsConfig(max_parameter_bytes=8192,
                                                max_frame_bytes=64 * 1024))
    refusal = refused(response)
    assert refusal.kind == "out_of_range"
    assert 'config.parameters["version"]' in refusal.reason and "5000 digits" in refusal.reason
    assert refusal.request_id == "fed-1"


@pytest.mark.parametrize(("version", "kind", "problem"), [
    ("007", "malformed", "'007' has a leading zero"),
    ("+7", "malformed", "'+7' is not a decimal integer"),
    (str(INT64_MAX + 1), "out_of_range", "does not fit in 64 bits"),
    ("-" + "1" * 30, "out_of_range", "is negative"),
])
def test_a_version_is_one_spelling_of_an_int64(version: str, kind: str, problem: str) -> None:
    refusal = refused(federation(version=version))
    assert (refusal.kind, problem in refusal.reason) == (kind, True)


def test_the_largest_int64_version_and_height_are_taken() -> None:
    decoded = decode(federation(version=str(INT64_MAX), effective_height=INT64_MAX))
    assert isinstance(decoded, FederationReceived)
    assert (decoded.update.version, decoded.update.effective_height) == (INT64_MAX, INT64_MAX)


def test_an_unknown_payload_field_is_its_own_kind_never_an_acknowledgement() -> None:
    data = frame("pegin-1").SerializeToString() + unknown_field(70)
    refusal = refused(data)
    assert refusal.kind == "unknown_payload"
    assert refusal.reason == "payload field 70 (wire type 2) is not one this node knows"
    assert refusal.request_id == "pegin-1"
    # Only a frame with no payload and nothing unknown acknowledges.
    assert decode_frame(frame("pegin-1").SerializeToString()) == Acknowledged("pegin-1",
                                                                             "success")


def test_a_known_payload_field_with_the_wrong_wire_type_is_malformed() -> None:
    data = frame().SerializeToString() + varint(20 << 3) + b"\x01"  # a varint, not a message
    refusal = refused(data)
    assert refusal.kind == "malformed"
    assert "field 20 (signature_response) has wire type 0" in refusal.reason


def test_a_known_payload_with_extra_unknown_fields_still_decodes() -> None:
    # What a newer governance adds beside a payload the node knows is ignored.
    data = frame(heartbeat_ack=pb.HeartbeatAck(sequence=4)).SerializeToString()
    assert decode_frame(data + unknown_field(70)) == HeartbeatAcked("r-1", 4, 0, 0)


@pytest.mark.parametrize(("response", "field"), [
    (federation(effective_height=2**64 - 1), "effective_height 18446744073709551615"),
    (frame(heartbeat_ack=pb.HeartbeatAck(sequence=2**63)), "sequence 9223372036854775808"),
    (frame(heartbeat_ack=pb.HeartbeatAck(original_timestamp=-1)), "original_timestamp -1"),
    (frame(heartbeat_ack=pb.HeartbeatAck(ack_timestamp=-(2**63))), "ack_timestamp"),
    (frame(proposal_notification=pb.ProposalNotification(
        proposal_id="p", proposal_type=pb.PROPOSAL_TYPE_UPGRADE, voting_deadline=-5)),
     "voting_deadline -5 is negative"),
    (frame(error_response=pb.ErrorResponse(retry_info=pb.RetryInfo(retry_after=-1))),
     "retry_info.retry_after -1"),
    (federation(threshold=2**32 - 1), "config.signature_threshold 4294967295"),
], ids=["effective-height", "sequence", "original-timestamp", "ack-timestamp",
        "voting-deadline", "retry-after", "threshold"])
def test_a_number_out_of_range_is_refused_naming_the_field(
    response: pb.StreamResponse, field: str
) -> None:
    refusal = refused(response)
    assert refusal.kind == "out_of_range"
    assert field in refusal.reason


def test_a_retry_after_of_decades_is_cut_to_a_day_not_refused() -> None:
    # The error still answers its request; the stream then caps the hold-off further
    # (`governance.max_retry_after_s`).
    result = decode_frame(frame(error_response=pb.ErrorResponse(
        retry_info=pb.RetryInfo(retry_after=2**31 - 1))).SerializeToString())
    assert not isinstance(result, MalformedFrame)
    assert getattr(result, "retry_after_s", None) == MAX_RETRY_AFTER_S


def test_a_frame_over_the_cap_is_refused_before_it_is_parsed() -> None:
    limits = GovernanceLimitsConfig(max_frame_bytes=4096)
    big = frame(proposal_notification=pb.ProposalNotification(
        proposal_id="p", proposal_type=pb.PROPOSAL_TYPE_UPGRADE, proposal_data=b"x" * 4096))
    data = big.SerializeToString()
    refusal = refused(data, limits)
    assert refusal.kind == "too_large"
    assert refusal.reason == (f"frame is {len(data)} bytes, more than "
                              "governance.limits.max_frame_bytes (4096); "
                              "payload proposal_notification")
    # Not parsed: only its head was read, for the id a refused push is acknowledged by.
    assert refusal.request_id == big.metadata.request_id


def test_a_request_id_with_a_newline_is_a_bad_id_and_is_not_logged_raw() -> None:
    refusal = refused(frame("pegout-1/1\nINFO forged line", heartbeat_ack=pb.HeartbeatAck()))
    assert refusal.kind == "bad_id"
    assert refusal.request_id is None
    assert "\n" not in str(refusal) and "U+000A" in refusal.reason
    assert "'pegout-1/1\\nINFO forged line'" in refusal.reason


@pytest.mark.parametrize(("response", "field"), [
    (frame("x" * (MAX_ID_CHARS + 1)), "metadata.request_id"),
    (frame(proposal_notification=pb.ProposalNotification(
        proposal_id="p\x00", proposal_type=pb.PROPOSAL_TYPE_UPGRADE)), "proposal_id"),
    (federation(member_id="m\u202e"), "members[0].member_id"),
    (frame(registration_ack=pb.NodeRegistrationAck(accepted=True, assigned_node_id="a\rb")),
     "assigned_node_id"),
    (federation(parameters={"p2wsh_address": "bcrt1q\n"}), 'config.parameters["p2wsh_address"]'),
], ids=["long-request-id", "proposal-id", "member-id", "assigned-node-id", "address"])
def test_an_id_that_is_too_long_or_not_printable_is_a_bad_id(
    response: pb.StreamResponse, field: str
) -> None:
    refusal = refused(response)
    assert (refusal.kind, refusal.reason.partition(field)[1]) == ("bad_id", field)


def witness() -> pb.WitnessData:
    return pb.WitnessData(signature=SIGNATURE, public_key=KEY, sig_type=pb.SIGNATURE_TYPE_ECDSA)


@pytest.mark.parametrize(("response", "kind", "reason"), [
    (frame(signature_response=pb.SignatureResponse(
        status=pb.SIGNATURE_STATUS_COMPLETE, signatures=[witness()] * 7)),
     "too_many", "signature_response: signatures has 7 entries, more than "
                 "governance.limits.max_witnesses (6)"),
    (federation(members=7), "too_many", "federation_update: members has 7 entries, more than "
                                        "governance.limits.max_members (6)"),
    (federation(parameters={f"k{i}": "v" for i in range(6)}), "too_many",
     "config.parameters has 7 entries"),
    (federation(parameters={"note": "n" * 129}), "too_large",
     "config.parameters value 'note' is 129 bytes, more than "
     "governance.limits.max_parameter_bytes (128)"),
    (frame(proposal_notification=pb.ProposalNotification(
        proposal_id="p", proposal_type=pb.PROPOSAL_TYPE_UPGRADE, proposal_data=b"d" * 257)),
     "too_large", "proposal_data is 257 bytes, more than "
                  "governance.limits.max_proposal_data_bytes (256)"),
    (frame(signature_response=pb.SignatureResponse(
        status=pb.SIGNATURE_STATUS_COMPLETE,
        signatures=[witness(), pb.WitnessData(signature=b"s" * 129, public_key=KEY,
                                              sig_type=pb.SIGNATURE_TYPE_ECDSA)])),
     "too_large", "signatures[1].signature is 129 bytes, more than the longest signature (128)"),
    (federation(signature=b"s" * 129), "too_large", "update_signature is 129 bytes"),
], ids=["witnesses", "members", "parameters", "parameter-bytes", "proposal-data",
        "witness-signature", "update-signature"])
def test_a_field_over_its_cap_is_refused_with_the_cap_it_crossed(
    response: pb.StreamResponse, kind: str, reason: str
) -> None:
    refusal = refused(response, SMALL)
    assert refusal.kind == kind
    assert reason in refusal.reason


def test_every_cap_is_inclusive() -> None:
    exactly = [
        frame(signature_response=pb.SignatureResponse(
            status=pb.SIGNATURE_STATUS_COMPLETE, signatures=[witness()] * 6)),
        federation(members=6, threshold=6, parameters={f"k{i}": "v" * 128 for i in range(5)}),
        frame(proposal_notification=pb.ProposalNotification(
            proposal_id="p" * MAX_ID_CHARS, proposal_type=pb.PROPOSAL_TYPE_UPGRADE,
            proposal_data=b"d" * 256)),
        frame(error_response=pb.ErrorResponse(retry_info=pb.RetryInfo(
            retry_after=MAX_RETRY_AFTER_S))),
    ]
    for response in exactly:
        result = decode_frame(response.SerializeToString(), SMALL)
        assert not isinstance(result, MalformedFrame), result
        assert_bounded(result, SMALL)


def test_free_text_is_kept_but_cut_and_escaped() -> None:
    response = frame(error_response=pb.ErrorResponse(
        error_code=pb.ERROR_CODE_INTERNAL_ERROR, error_message="boom\nERROR forged",
        error_details="d" * 5000))
    decoded = decode(response)
    assert isinstance(decoded, ErrorReceived)
    assert decoded.message == "boom\\nERROR forged"
    assert decoded.details == "d" * MAX_TEXT_CHARS + "... (5000 characters)"
    assert text("\x00" * 2000).startswith("\\x00") and len(text("\x00" * 2000)) < 1100


def test_shown_quotes_a_bounded_ascii_slice() -> None:
    assert shown("v2") == "'v2'"
    assert shown("\u202e" + "x" * 100) == "'\\u202e" + "x" * 39 + "'... (101 long)"


def test_an_exception_from_a_conversion_becomes_a_malformed_refusal(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> Inbound:
        raise ValueError("surprise\n" * 1000)

    monkeypatch.setitem(_DECODERS, "heartbeat_ack", broken)
    refusal = refused(frame(heartbeat_ack=pb.HeartbeatAck(sequence=1)))
    assert refusal.kind == "malformed"
    assert refusal.reason.startswith("frame could not be decoded: ValueError: 'surprise\\n")
