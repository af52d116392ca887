"""The ceilings' payloads: what governance pushes, what the node sends, what it routes.

Payload kinds: "signature" (a complete `SignatureResponse`: 3-of-5 signers x
2 inputs = 6 DER signatures made by the mock's signer over a real peg-out,
with their 33-byte keys), "federation" (a signed `FederationUpdate` of 5
members, version, threshold and address, as the mock builds it) and "mixed"
(the two alternating). The actor pipeline carries what the node routes for
them: `ApplySignatures` and `UpdateFederation`, decoded from those frames.

Only protobuf here, never grpc: the benchmark's main process imports this
and creates actor systems, which fork.
"""

from __future__ import annotations

import time
from functools import lru_cache

from actors.messages import ApplySignatures, RequestSignatures, UpdateFederation
from actors.stream.wire.decode import decode
from actors.stream.wire.encode import signature_request
from actors.stream.wire.events import FederationReceived, SignaturesReceived
from btc.testing import make_unsigned_pegout
from mock_governance.federation import governance_key, signing_federation
from mock_governance.signer import sign_request
from mock_governance.updates import UpdateSpec, build_federation_update
from protocol import governance_pb2 as pb

PAYLOADS = ("signature", "federation", "mixed")
SEED = "bench-ceilings"
MEMBERS = 5
THRESHOLD = 3
INPUTS = 2

Routed = ApplySignatures | UpdateFederation


@lru_cache(maxsize=1)
def _templates() -> dict[str, pb.StreamResponse]:
    """One real frame of each kind; every frame of a run is a copy with its own request id.

    Signing costs ~0.1 ms per signature: six real ones per frame for 20,000
    frames would take longer than the run they feed, and a copy is
    byte-for-byte the same size and shape as what the mock sends.
    """
    federation = signing_federation(SEED, range(MEMBERS), THRESHOLD)
    tx_hex, indices, amounts = make_unsigned_pegout(federation.witness_script, n_inputs=INPUTS)
    request = pb.SignatureRequest(tx_hex=tx_hex, input_indices=indices, amounts=amounts,
                                  tx_type=pb.TRANSACTION_TYPE_PEGOUT,
                                  required_signatures=THRESHOLD)
    signed = sign_request(federation, request)
    if signed.status != pb.SIGNATURE_STATUS_COMPLETE or len(signed.signatures) != 6:
        raise RuntimeError(f"the mock's signer did not answer with 6 signatures: {signed}")
    signature = pb.StreamResponse(
        metadata=pb.ResponseMetadata(request_id="template", timestamp=int(time.time()),
                                     status=pb.STATUS_CODE_SUCCESS),
        signature_response=signed)
    spec = UpdateSpec(version=2, indices=tuple(range(MEMBERS)), threshold=THRESHOLD,
                      request_id="template")
    update = build_federation_update(SEED, spec, governance_key(SEED), int(time.time()))
    return {"signature": signature, "federation": update.response}


def frame_kind(payload: str, index: int) -> str:
    """Which kind of frame the `index`-th of `payload` is; ValueError for an unknown payload."""
    if payload not in PAYLOADS:
        raise ValueError(f"unknown payload {payload!r}; known: {', '.join(PAYLOADS)}")
    if payload == "mixed":
        return ("signature", "federation")[index % 2]
    return payload


def _request_id(index: int) -> str:
    return f"ceiling-{index:08d}"


def response_frames(payload: str, count: int) -> list[pb.StreamResponse]:
    """`count` frames governance would push, each with its own request id."""
    templates = _templates()
    frames = []
    for index in range(count):
        frame = pb.StreamResponse()
        frame.CopyFrom(templates[frame_kind(payload, index)])
        frame.metadata.request_id = _request_id(index)
        frames.append(frame)
    return frames


def echo_request() -> pb.StreamRequest:
    """What the client sends in echo mode: the node's own `SignatureRequest` for a peg-out."""
    federation = signing_federation(SEED, range(MEMBERS), THRESHOLD)
    tx_hex, indices, amounts = make_unsigned_pegout(federation.witness_script, n_inputs=INPUTS)
    message = RequestSignatures("echo", tx_hex, indices, amounts, required_signatures=THRESHOLD)
    return signature_request(message, request_id="echo", node_id="alys-bench",
                             now=int(time.time()))


def routed_messages(payload: str, count: int) -> list[Routed]:
    """`count` messages as the node routes them to the bridge or the chain.

    Each is decoded from its own frame, the node's way: its bytes and strings
    are objects of its own, as in the node. (Copies of one decoded template
    would share them, and pickle, which writes a shared object once per
    message, would make a `Batch` of 500 about 20 times smaller than the
    node's.)
    """
    routed: list[Routed] = []
    for frame in response_frames(payload, count):
        inbound = decode(frame)
        if isinstance(inbound, SignaturesReceived):
            routed.append(inbound.apply)
        elif isinstance(inbound, FederationReceived):
            routed.append(inbound.update)
        else:
            raise RuntimeError(f"a {payload} frame decodes to {type(inbound).__name__}")
    return routed
