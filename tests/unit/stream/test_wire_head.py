"""The head of a frame, read without parsing its body, agrees with a full parse."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from actors.stream.wire.decode import decode_frame
from actors.stream.wire.head import frame_head
from nodeconfig.model import GovernanceLimitsConfig
from protocol import governance_pb2 as pb
from protocol.errors import MalformedFrame

PAYLOADS = {
    "signature_response": pb.SignatureResponse(status=pb.SIGNATURE_STATUS_COMPLETE),
    "federation_update": pb.FederationUpdate(effective_height=7),
    "proposal_notification": pb.ProposalNotification(proposal_id="p", proposal_data=b"d" * 99),
    "error_response": pb.ErrorResponse(error_message="e"),
    "heartbeat_ack": pb.HeartbeatAck(sequence=3),
    "registration_ack": pb.NodeRegistrationAck(accepted=True),
}


@settings(max_examples=200, deadline=None)
@given(request_id=st.text(max_size=40), payload=st.sampled_from([None, *PAYLOADS]),
       timestamp=st.integers(-(2**63), 2**63 - 1))
def test_the_head_of_any_frame_is_what_a_full_parse_finds(
        request_id: str, payload: str | None, timestamp: int) -> None:
    response = pb.StreamResponse(metadata=pb.ResponseMetadata(request_id=request_id,
                                                              timestamp=timestamp))
    if payload is not None:
        getattr(response, payload).CopyFrom(PAYLOADS[payload])
    metadata, found = frame_head(response.SerializeToString())
    assert metadata is not None and metadata.request_id == request_id
    assert found == payload


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=200))
def test_any_bytes_give_a_head_or_none_never_an_exception(data: bytes) -> None:
    metadata, payload = frame_head(data)
    assert metadata is None or isinstance(metadata, pb.ResponseMetadata)
    assert payload is None or payload in PAYLOADS or isinstance(payload, str)


def test_a_push_over_the_cap_is_refused_unparsed_with_its_id() -> None:
    limits = GovernanceLimitsConfig(max_frame_bytes=4096)
    big = pb.StreamResponse(metadata=pb.ResponseMetadata(request_id="fed-9"),
                            proposal_notification=pb.ProposalNotification(
                                proposal_id="p", proposal_data=b"x" * 8192))

    refused = decode_frame(big.SerializeToString(), limits)

    assert isinstance(refused, MalformedFrame) and refused.kind == "too_large"
    assert refused.request_id == "fed-9" and "proposal_notification" in refused.reason


def test_an_oversized_frame_with_an_id_that_cannot_be_logged_gives_no_id() -> None:
    limits = GovernanceLimitsConfig(max_frame_bytes=4096)
    big = pb.StreamResponse(metadata=pb.ResponseMetadata(request_id="x\nINFO forged"),
                            proposal_notification=pb.ProposalNotification(
                                proposal_data=b"x" * 8192))

    refused = decode_frame(big.SerializeToString(), limits)

    assert isinstance(refused, MalformedFrame) and refused.request_id is None
