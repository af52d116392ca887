"""Build a signed FederationUpdate as governance would push it (convention 5). Pure.

``members`` is the full new member set (member ``i`` is ``m<i>``, derived
key ``i``); the version travels as a decimal in ``config.parameters``, with
the P2WSH address of the active members' multisig next to it when asked
for. Governance's key signs SHA-256 of the update serialized
deterministically with ``update_signature`` empty: DER ECDSA, and no sighash
byte, since this is not a Bitcoin signature.

Some fields can be made wrong on purpose (a signature over something else,
an address that does not match), for tests of the node's checks.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from coincurve import PrivateKey

from actors.stream.wire.enums import FEDERATION_UPDATE_TYPES
from mock_governance.federation import derive_member
from mock_governance.multisig import (
    DEFAULT_NETWORK,
    p2tr_address,
    p2wsh_address,
    taproot_multisig,
    witness_script,
)
from protocol import governance_pb2 as pb


@dataclass(frozen=True)
class UpdateSpec:
    version: int
    indices: tuple[int, ...]  # derived keys of the members, in the order they are listed
    threshold: int
    request_id: str
    effective_height: int = 0
    update_type: str = "member_add"  # a actors.stream.convert.FEDERATION_UPDATE_TYPES name
    active: tuple[bool, ...] | None = None  # per member; None: every member is active
    sign: bool = True
    bad_signature: bool = False  # sign something other than the update
    with_address: bool = True
    address_override: str | None = None  # sent as the address instead of the derived one
    network: str = DEFAULT_NETWORK
    node_id: str = ""
    # Convention 10: sent as config.parameters["script_type"] when set; "p2tr" also sends
    # the address as p2tr_address.
    script_type: str | None = None


@dataclass(frozen=True)
class BuiltUpdate:
    response: pb.StreamResponse
    digest: bytes  # what a correct signature is over, whatever was signed
    witness_script: bytes | None  # of the active members (P2TR: the leaf); None if not derived
    p2wsh_address: str | None  # as sent
    p2tr_address: str | None = None  # as sent


def _members(seed: str, spec: UpdateSpec) -> list[pb.FederationMember]:
    if not spec.indices or len(set(spec.indices)) != len(spec.indices):
        raise ValueError(f"indices must be distinct and not empty, got {list(spec.indices)}")
    active = spec.active if spec.active is not None else (True,) * len(spec.indices)
    if len(active) != len(spec.indices):
        raise ValueError(f"{len(spec.indices)} indices but {len(active)} 'active' flags")
    return [
        pb.FederationMember(
            member_id=f"m{index}",
            public_key=derive_member(seed, index).public_key,
            weight=1,
            active=is_active,
        )
        for index, is_active in zip(spec.indices, active, strict=True)
    ]


def _something_else(digest: bytes) -> bytes:
    return hashlib.sha256(b"not the update" + digest).digest()


def build_federation_update(
    seed: str, spec: UpdateSpec, governance: PrivateKey, now_s: int
) -> BuiltUpdate:
    """ValueError if the spec cannot be built (an address of an impossible multisig, ...)."""
    if spec.update_type not in FEDERATION_UPDATE_TYPES.by_name:
        known = ", ".join(FEDERATION_UPDATE_TYPES.by_name)
        raise ValueError(f"unknown update_type {spec.update_type!r}; known: {known}")
    if spec.bad_signature and not spec.sign:
        raise ValueError("bad_signature needs sign: a missing signature cannot be a bad one")
    members = _members(seed, spec)
    script = None
    parameters = {"version": str(spec.version)}
    taproot = spec.script_type == "p2tr"
    address_key = "p2tr_address" if taproot else "p2wsh_address"
    if spec.script_type is not None:
        parameters["script_type"] = spec.script_type
    if spec.with_address:
        keys = [m.public_key for m in members if m.active]
        if taproot:
            script, script_pubkey = taproot_multisig(keys, spec.threshold)
            parameters[address_key] = p2tr_address(script_pubkey, spec.network)
        else:
            script = witness_script(keys, spec.threshold)
            parameters[address_key] = p2wsh_address(script, spec.network)
    if spec.address_override is not None:
        parameters[address_key] = spec.address_override
    update = pb.FederationUpdate(
        update_type=FEDERATION_UPDATE_TYPES.by_name[spec.update_type],
        members=members,
        effective_height=spec.effective_height,
        config=pb.FederationConfig(
            signature_threshold=spec.threshold,
            member_count=len(members),
            parameters=parameters,
        ),
    )
    digest = hashlib.sha256(update.SerializeToString(deterministic=True)).digest()
    if spec.sign:
        signed = _something_else(digest) if spec.bad_signature else digest
        update.update_signature = governance.sign(signed, hasher=None)
    metadata = pb.ResponseMetadata(
        request_id=spec.request_id,
        timestamp=now_s,
        node_id=spec.node_id,
        status=pb.STATUS_CODE_SUCCESS,
    )
    return BuiltUpdate(
        response=pb.StreamResponse(metadata=metadata, federation_update=update),
        digest=digest,
        witness_script=script,
        p2wsh_address=parameters.get("p2wsh_address"),
        p2tr_address=parameters.get("p2tr_address"),
    )
