"""Hostile frames on command (POST /hostile): what a buggy or malicious governance sends.

Where a misbehaviour (POST /behaviour) changes how the mock answers from now
on, a hostile frame is one-shot: build the frames of one named kind now and
put them on the stream(s) at once. Frames that answer something take their
request ids from the mock's record (the latest ``count`` requests of the
kind they pretend to answer), or from ``request_id``; so a test can aim at
"the peg-out the node is waiting for" without knowing its id.

Raw bytes reach the wire through the Stream method's response serializer,
which passes ``bytes`` through unchanged (mock_governance.servicer), so
``garbage`` is a frame that does not parse, not a message gRPC would refuse
to serialize. An ``oversized`` frame is a valid ProposalNotification, only
bigger than the node's frame cap; the mock's own send limit bounds it.

Add a kind by adding a HostileFrame to KINDS.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import DecodeError

from actors.stream.wire.enums import INT32_MAX
from mock_governance import signer
from mock_governance.bodies import (
    ControlRequest,
    integer,
    kind_of,
    object_body,
    only_keys,
    optional_string,
)
from mock_governance.errors import InvalidRequestBody, NothingToTarget
from mock_governance.handlers import MAX_MESSAGE_BYTES
from mock_governance.state import MockState
from mock_governance.updates import UpdateSpec, build_federation_update
from protocol import governance_pb2 as pb

Frame = pb.StreamResponse | bytes

UINT32_MAX = 2**32 - 1
UINT64_MAX = 2**64 - 1
HUGE_VERSION_DIGITS = 5000
# Room for the frame's own fields around proposal_data, under the mock's send limit.
MAX_OVERSIZED_BYTES = MAX_MESSAGE_BYTES - 1024
MAX_GARBAGE_BYTES = 1024 * 1024
MAX_COUNT = 1000
_KEYS = ("frame", "node_id", "count", "request_id", "size_bytes", "version", "seed")


@dataclass(frozen=True)
class HostileSpec:
    """What POST /hostile asked for, checked."""

    frame: str
    node_id: str | None
    count: int  # frames (or targeted ids) to send
    request_id: str | None  # aim at this id instead of the latest recorded ones
    size_bytes: int | None
    version: int  # the version a federation update claims
    seed: int  # for the bytes of `garbage`


@dataclass(frozen=True)
class Target:
    """One request a frame pretends to answer, and the node whose streams get the frame."""

    node_id: str | None
    request: pb.StreamRequest | None  # None: only an id was given
    request_id: str


@dataclass(frozen=True)
class HostileFrame:
    name: str
    description: str
    # The kind of recorded request whose ids the frames take; None: frames carry no
    # answer (pushes, garbage) and go to `node_id`'s streams, or every stream.
    aims_at: str | None
    build: Callable[[MockState, HostileSpec, Target], list[Frame]]
    takes: frozenset[str] = frozenset()  # body keys beyond frame, node_id, count, request_id


def _metadata(target: Target, state: MockState,
              status: pb.StatusCode = pb.STATUS_CODE_SUCCESS) -> pb.ResponseMetadata:
    return pb.ResponseMetadata(request_id=target.request_id, timestamp=int(state.clock()),
                               node_id=target.node_id or "", status=status)


def _ack(state: MockState, spec: HostileSpec, target: Target) -> list[Frame]:
    return [pb.StreamResponse(metadata=_metadata(target, state))]


def _pending(state: MockState, spec: HostileSpec, target: Target) -> list[Frame]:
    answer = pb.SignatureResponse(status=pb.SIGNATURE_STATUS_PENDING)
    return [pb.StreamResponse(metadata=_metadata(target, state), signature_response=answer)]


def _answer_twice(state: MockState, spec: HostileSpec, target: Target) -> list[Frame]:
    # The real answer again, twice: the node has routed (or will route) it once already.
    if target.request is None:
        answer = signer.failed("a duplicate of an answer the mock never computed")
    else:
        answer = signer.sign_request(state.signing, target.request.signature_request, None)
    frame = pb.StreamResponse(metadata=_metadata(target, state), signature_response=answer)
    return [frame, frame]


def _signature_for_pegin(state: MockState, spec: HostileSpec, target: Target) -> list[Frame]:
    # COMPLETE and empty: were it taken for a peg-out's answer, it could not verify.
    answer = pb.SignatureResponse(status=pb.SIGNATURE_STATUS_COMPLETE)
    return [pb.StreamResponse(metadata=_metadata(target, state), signature_response=answer)]


def _retry_after_max(state: MockState, spec: HostileSpec, target: Target) -> list[Frame]:
    error = pb.ErrorResponse(error_code=pb.ERROR_CODE_RATE_LIMITED,
                             error_message="rate limited for 68 years (hostile frame)",
                             retry_info=pb.RetryInfo(retry_after=INT32_MAX))
    metadata = _metadata(target, state, pb.STATUS_CODE_RATE_LIMITED)
    return [pb.StreamResponse(metadata=metadata, error_response=error)]


def _update(state: MockState, spec: HostileSpec, target: Target, *, threshold: int = 3,
            effective_height: int = 0) -> pb.StreamResponse:
    """An update of the mock's current signers, under a request id of its own."""
    indices = state.signing.indices
    update_spec = UpdateSpec(
        version=spec.version, indices=tuple(indices), threshold=threshold,
        request_id=target.request_id, effective_height=effective_height,
        # No address: the multisig of an absurd threshold cannot be derived.
        with_address=False, node_id=target.node_id or "")
    return build_federation_update(state.federation_seed, update_spec, state.governance_key,
                                   int(state.clock())).response


def _huge_version(state: MockState, spec: HostileSpec, target: Target) -> list[Frame]:
    response = _update(state, spec, target)
    # Written as a string: Python refuses to print an int of this many digits.
    response.federation_update.config.parameters["version"] = "9" * HUGE_VERSION_DIGITS
    response.federation_update.ClearField("update_signature")  # it covered the old version
    return [response]


def _max_effective_height(state: MockState, spec: HostileSpec, target: Target) -> list[Frame]:
    return [_update(state, spec, target, effective_height=UINT64_MAX)]


def _threshold_zero(state: MockState, spec: HostileSpec, target: Target) -> list[Frame]:
    return [_update(state, spec, target, threshold=0)]


def _threshold_max(state: MockState, spec: HostileSpec, target: Target) -> list[Frame]:
    return [_update(state, spec, target, threshold=UINT32_MAX)]


def _garbage(state: MockState, spec: HostileSpec, target: Target) -> list[Frame]:
    rng = random.Random(spec.seed)
    size = spec.size_bytes or 64
    while True:
        # 0x0f is field 1 with wire type 7, which does not exist: the first tag is
        # already invalid. Checked anyway, so the frame surely does not parse.
        data = b"\x0f" + rng.randbytes(size - 1)
        try:
            pb.StreamResponse.FromString(data)
        except DecodeError:
            return [data]


def _oversized(state: MockState, spec: HostileSpec, target: Target) -> list[Frame]:
    # An ErrorResponse is no push: a governance that re-sends unacknowledged pushes never
    # sends it again, so it costs the node one reconnect.
    assert spec.size_bytes is not None  # required, checked by parse_spec
    error = pb.ErrorResponse(error_code=pb.ERROR_CODE_INTERNAL_ERROR,
                             error_message="oversized (hostile frame)",
                             error_details="x" * spec.size_bytes)
    return [pb.StreamResponse(metadata=_metadata(target, state, pb.STATUS_CODE_ERROR),
                              error_response=error)]


def _oversized_push(state: MockState, spec: HostileSpec, target: Target) -> list[Frame]:
    assert spec.size_bytes is not None  # required, checked by parse_spec
    notice = pb.ProposalNotification(proposal_id=target.request_id,
                                     proposal_type=pb.PROPOSAL_TYPE_UPGRADE,
                                     proposal_data=b"\x00" * spec.size_bytes)
    return [pb.StreamResponse(metadata=_metadata(target, state), proposal_notification=notice)]


KINDS: Mapping[str, HostileFrame] = {
    frame.name: frame
    for frame in (
        HostileFrame("ack_for_pegout", "a metadata-only ack under a signature request's id "
                     "(answers nothing: unexpected_ack)", "signature_request", _ack),
        HostileFrame("pending_for_pegout", "a PENDING SignatureResponse under a signature "
                     "request's id (the request stays open)", "signature_request", _pending),
        HostileFrame("answer_twice", "the real answer to a signature request, twice more",
                     "signature_request", _answer_twice),
        HostileFrame("retry_after_max", "ErrorResponse RATE_LIMITED with retry_after 2^31-1 "
                     "under a signature request's id", "signature_request", _retry_after_max),
        HostileFrame("signature_for_pegin", "a COMPLETE SignatureResponse, no signatures, "
                     "under a peg-in notice's id (cross-kind)", "pegin_notification",
                     _signature_for_pegin),
        HostileFrame("huge_version", f"a FederationUpdate whose version has "
                     f"{HUGE_VERSION_DIGITS} digits", None, _huge_version),
        HostileFrame("max_effective_height", "a FederationUpdate of `version` with "
                     "effective_height 2^64-1", None, _max_effective_height,
                     frozenset({"version"})),
        HostileFrame("threshold_zero", "a FederationUpdate of `version` with threshold 0",
                     None, _threshold_zero, frozenset({"version"})),
        HostileFrame("threshold_max", "a FederationUpdate of `version` with threshold "
                     "2^32-1", None, _threshold_max, frozenset({"version"})),
        HostileFrame("garbage", "`size_bytes` (default 64) bytes that do not parse as a "
                     "StreamResponse, from `seed`", None, _garbage,
                     frozenset({"size_bytes", "seed"})),
        HostileFrame("oversized", "an ErrorResponse with `size_bytes` of error_details under "
                     "a signature request's id (to pass the node's "
                     "governance.limits.max_frame_bytes); no push, so never re-sent",
                     "signature_request", _oversized, frozenset({"size_bytes"})),
        HostileFrame("oversized_push", "a ProposalNotification with `size_bytes` of "
                     "proposal_data: a push, which the node cannot acknowledge, so one "
                     "that re-sending governance sends on every registration", None,
                     _oversized_push, frozenset({"size_bytes"})),
    )
}


def parse_spec(request: ControlRequest) -> HostileSpec:
    body = object_body(request, required=True)
    only_keys(body, _KEYS, "hostile")
    name = body.get("frame")
    if not isinstance(name, str) or name not in KINDS:
        raise InvalidRequestBody(f"'frame' must be one of {', '.join(KINDS)}, got {name!r}")
    kind = KINDS[name]
    foreign = sorted(key for key in ("size_bytes", "version", "seed")
                     if key in body and key not in kind.takes)
    if foreign:
        raise InvalidRequestBody(f"frame {name!r} takes no {', '.join(map(repr, foreign))}")
    size_bytes = None
    if name in ("oversized", "oversized_push"):
        size_bytes = integer(body, "size_bytes", 1, MAX_OVERSIZED_BYTES)
    elif name == "garbage":
        size_bytes = integer(body, "size_bytes", 1, MAX_GARBAGE_BYTES, default=64)
    node_id = body.get("node_id")
    if node_id is not None and not isinstance(node_id, str):
        raise InvalidRequestBody(f"'node_id' must be a string, got {kind_of(node_id)}")
    return HostileSpec(
        frame=name, node_id=node_id, count=integer(body, "count", 1, MAX_COUNT, default=1),
        request_id=optional_string(body, "request_id"), size_bytes=size_bytes,
        version=integer(body, "version", 0, UINT64_MAX, default=1),
        seed=integer(body, "seed", 0, None, default=0))


def _targets(state: MockState, spec: HostileSpec, aims_at: str | None) -> list[Target]:
    if spec.request_id is not None:
        return [Target(spec.node_id, None, spec.request_id)] * (1 if aims_at else spec.count)
    if aims_at is None:
        # A fresh id each: a push under an id the node already took would be a duplicate.
        return [Target(spec.node_id, None, f"hostile-{spec.frame}-{uuid.uuid4().hex[:12]}")
                for _ in range(spec.count)]
    targets: list[Target] = []
    for node_id, requests in state.recorder.snapshot(spec.node_id).items():
        latest: dict[str, pb.StreamRequest] = {}
        for request in reversed(requests):
            rid = request.metadata.request_id
            if request.WhichOneof("payload") == aims_at and rid not in latest:
                latest[rid] = request
                if len(latest) == spec.count:
                    break
        targets += [Target(node_id, request, rid) for rid, request in latest.items()]
    if not targets:
        whose = "any node" if spec.node_id is None else f"node {spec.node_id!r}"
        raise NothingToTarget(f"frame {spec.frame!r} answers a {aims_at}, and none from "
                              f"{whose} is recorded; give 'request_id'")
    return targets


def post_hostile(state: MockState, request: ControlRequest) -> dict[str, Any]:
    """Build the frames and queue them on the target streams; say what went where."""
    spec = parse_spec(request)
    kind = KINDS[spec.frame]
    delivered = frames = size = 0
    ids: list[str] = []
    for target in _targets(state, spec, kind.aims_at):
        for frame in kind.build(state, spec, target):
            delivered += state.sessions.push(frame, target.node_id)
            frames += 1
            size += len(frame) if isinstance(frame, bytes) else frame.ByteSize()
        ids.append(target.request_id)
    return {"frame": spec.frame, "frames": frames, "delivered": delivered, "bytes": size,
            "request_ids": ids}


def get_hostile(state: MockState, request: ControlRequest) -> dict[str, Any]:
    return {"frames": {name: kind.description for name, kind in KINDS.items()}}
