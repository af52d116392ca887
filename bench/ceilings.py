"""The two ceilings of the node's inbound figure: a plain grpcio stream and a plain Thespian hop.

Issue 6 measures the node's inbound routing against the parts it is built
from, in the same run, with the same payloads:

- `grpc_ceiling`: a plain grpcio bidirectional stream (the project's own
  `GovernanceStream.Stream`) between two subprocesses in the roles of
  governance (server) and node (client). The server pushes pre-built
  `StreamResponse` frames as fast as grpcio takes them; the client counts them.
  That direction is the node's inbound one, so its rate is
  `inbound.grpc_ceiling_msgs_per_s`. The issue's "echo" (the client sends, the
  server answers each frame) is measured beside it and reported separately.
- `actor_ceiling`: a plain Thespian pipeline on `multiprocTCPBase`, a sender
  and a receiver actor, each its own process, one message per send; the
  same pipeline with `Batch`es of 500 is reported beside it.

Payload kinds: "signature" (a complete `SignatureResponse`: 3-of-5 signers x
2 inputs = 6 DER signatures made by the mock's signer over a real peg-out,
with their 33-byte keys), "federation" (a signed `FederationUpdate` of 5
members, version, threshold and address, as the mock builds it) and "mixed"
(the two alternating). The actor pipeline carries what the node routes for
them: `ApplySignatures` and `UpdateFederation`, decoded from those frames.

A rate is the items that arrived after the first one, over the time from
the first arrival to the last, measured where they arrive: the first item's
own transfer is not part of any interval, so counting it would flatter the
figure (by one message in 20,000, but by a whole batch of 500 in the
batched figure).

This module runs in the benchmark's main process, which creates Thespian
actor systems: it must never import grpc. Everything grpcio runs in
`python -m bench.ceiling_grpc` subprocesses that report one JSON line.
"""

from __future__ import annotations

import dataclasses
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from actors.messages import ApplySignatures, RequestSignatures, UpdateFederation
from btc.testing import make_unsigned_pegout
from protocol import governance_pb2 as pb
from protocol.convert import FederationReceived, SignaturesReceived, decode, signature_request
from protocol.mock.federation import governance_key, signing_federation
from protocol.mock.signer import sign_request
from protocol.mock.updates import UpdateSpec, build_federation_update

PAYLOADS = ("signature", "federation", "mixed")
SEED = "bench-ceilings"
MEMBERS = 5
THRESHOLD = 3
INPUTS = 2
REPO_ROOT = Path(__file__).resolve().parents[1]

Routed = ApplySignatures | UpdateFederation


# -- payloads ----------------------------------------------------------------------------


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


def _kind(payload: str, index: int) -> str:
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
        frame.CopyFrom(templates[_kind(payload, index)])
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


@lru_cache(maxsize=1)
def _routed_templates() -> dict[str, Routed]:
    """What the node's StreamActor makes of each frame (decoded the node's way)."""
    routed: dict[str, Routed] = {}
    for kind, frame in _templates().items():
        inbound = decode(frame)
        if isinstance(inbound, SignaturesReceived):
            routed[kind] = inbound.apply
        elif isinstance(inbound, FederationReceived):
            routed[kind] = inbound.update
        else:
            raise RuntimeError(f"the {kind} template decodes to {type(inbound).__name__}")
    return routed


def routed_messages(payload: str, count: int) -> list[Routed]:
    """`count` messages as the node routes them to the bridge or the chain."""
    templates = _routed_templates()
    return [dataclasses.replace(templates[_kind(payload, index)], request_id=_request_id(index))
            for index in range(count)]


# -- figures -----------------------------------------------------------------------------


def summary(rates: Sequence[float]) -> dict[str, Any]:
    """Median, every run, and [min, max] of a list of rates (msg/s), rounded to whole ones."""
    return {"msgs_per_s": round(statistics.median(rates)),
            "runs": [round(rate) for rate in rates],
            "spread": [round(min(rates)), round(max(rates))]}
