"""Control endpoints for the federation: what the mock signs with, and signed updates to push.

    GET  /federation[?network=regtest]  the signing federation, its script and address
    POST /federation                    {"indices": [...], "threshold": m,
                                         "script_type"?: "p2wsh"|"p2tr"}: sign with these
    POST /federation/update             build a signed FederationUpdate and push it

POST /federation changes only who signs. The node learns of a new
federation from a FederationUpdate, so a test pushes a matching update too.
"""

from __future__ import annotations

from typing import Any

from mock_governance.bodies import (
    ControlRequest,
    boolean,
    boolean_list,
    integer,
    integer_list,
    message_to_json,
    object_body,
    only_keys,
    optional_string,
)
from mock_governance.errors import InvalidQuery, InvalidRequestBody
from mock_governance.federation import signing_federation
from mock_governance.multisig import DEFAULT_NETWORK, NETWORKS
from mock_governance.state import MockState
from mock_governance.updates import UpdateSpec, build_federation_update

UINT32_MAX = 2**32 - 1
UINT64_MAX = 2**64 - 1

_FEDERATION_KEYS = ("indices", "threshold", "script_type")
_UPDATE_KEYS = (
    "version",
    "indices",
    "threshold",
    "effective_height",
    "update_type",
    "sign",
    "bad_signature",
    "with_address",
    "address_override",
    "network",
    "node_id",
    "request_id",
    "active",
    "script_type",
)


def federation_json(state: MockState, network: str) -> dict[str, Any]:
    signing = state.signing
    return {
        "seed": signing.seed,
        "size": len(signing.members),
        "threshold": signing.threshold,
        "indices": list(signing.indices),
        "public_keys": [key.hex() for key in signing.public_keys],
        "witness_script": signing.witness_script.hex(),
        "script_type": signing.script_type,
        "script_pubkey": signing.script_pubkey.hex(),
        "network": network,
        f"{signing.script_type}_address": signing.address(network),
        "governance_public_key": state.governance_key.public_key.format().hex(),
        "non_member_public_key": signing.outsider.public_key.hex(),
    }


def get_federation(state: MockState, request: ControlRequest) -> dict[str, Any]:
    network = request.query.get("network", DEFAULT_NETWORK)
    if network not in NETWORKS:
        raise InvalidQuery(f"unknown network {network!r}; known: {', '.join(NETWORKS)}")
    return federation_json(state, network)


def post_federation(state: MockState, request: ControlRequest) -> dict[str, Any]:
    body = object_body(request, required=True)
    only_keys(body, _FEDERATION_KEYS, "federation")
    indices = integer_list(body, "indices")
    threshold = integer(body, "threshold", 1)
    script_type = optional_string(body, "script_type") or "p2wsh"
    try:
        state.signing = signing_federation(state.federation_seed, indices, threshold,
                                           script_type)
    except ValueError as error:
        raise InvalidRequestBody(str(error)) from error
    return federation_json(state, DEFAULT_NETWORK)


def update_spec(state: MockState, body: dict[str, Any]) -> UpdateSpec:
    only_keys(body, _UPDATE_KEYS, "federation update")
    version = integer(body, "version", 0, UINT64_MAX)
    network = body.get("network", DEFAULT_NETWORK)
    if network not in NETWORKS:
        raise InvalidRequestBody(f"'network' must be one of {', '.join(NETWORKS)}, got {network!r}")
    return UpdateSpec(
        version=version,
        indices=integer_list(body, "indices"),
        threshold=integer(body, "threshold", 0, UINT32_MAX),
        request_id=optional_string(body, "request_id") or state.next_update_id(version),
        effective_height=integer(body, "effective_height", 0, UINT64_MAX, default=0),
        update_type=optional_string(body, "update_type") or "member_add",
        active=boolean_list(body, "active"),
        sign=boolean(body, "sign", True),
        bad_signature=boolean(body, "bad_signature", False),
        with_address=boolean(body, "with_address", True),
        address_override=optional_string(body, "address_override"),
        network=network,
        node_id=optional_string(body, "node_id") or "",
        script_type=_script_type(body),
    )


def _script_type(body: dict[str, Any]) -> str | None:
    """Convention 10's script_type to send, or None to send none. Any string goes, so that
    a test can send one the node must refuse."""
    return optional_string(body, "script_type")


def post_federation_update(state: MockState, request: ControlRequest) -> dict[str, Any]:
    """Build the update, push it like /push (to ``node_id``, or every stream), say what it was."""
    body = object_body(request, required=True)
    spec = update_spec(state, body)
    try:
        built = build_federation_update(
            state.federation_seed, spec, state.governance_key, int(state.clock())
        )
    except ValueError as error:
        raise InvalidRequestBody(str(error)) from error
    node_id = body.get("node_id")
    update = built.response.federation_update
    return {
        "delivered": state.sessions.push(built.response, node_id),
        "request_id": spec.request_id,
        "digest": built.digest.hex(),
        "update_signature": update.update_signature.hex(),
        "p2wsh_address": built.p2wsh_address,
        "p2tr_address": built.p2tr_address,
        "witness_script": None if built.witness_script is None else built.witness_script.hex(),
        "message": message_to_json(built.response),
    }
