"""Control endpoints for the auth policy and session tokens (docs/protocol.md, conventions 2 and 9).

    GET  /auth                       the policy (how many credentials, not which)
    POST /auth {"type", "credentials"?, "public_keys"?, "max_skew_s"?, "session_ttl_s"?}
                                     replace the policy; sessions already granted stay
    GET  /sessions                   the session tokens granted and when they expire
    POST /sessions/expire {"node_id"?}
                                     forget those tokens and end those nodes' streams
                                     with UNAUTHENTICATED
"""

from __future__ import annotations

from typing import Any

from mock_governance.auth import AUTH_TYPES, DEFAULT_MAX_SKEW_S, AuthPolicy
from mock_governance.bodies import (
    ControlRequest,
    integer,
    kind_of,
    object_body,
    only_keys,
    optional_string,
)
from mock_governance.errors import InvalidRequestBody
from mock_governance.state import MockState

_POLICY_KEYS = ("type", "credentials", "public_keys", "max_skew_s", "session_ttl_s")


def get_auth(state: MockState, request: ControlRequest) -> dict[str, Any]:
    return {"auth": state.auth_policy.to_json()}


def post_auth(state: MockState, request: ControlRequest) -> dict[str, Any]:
    body = object_body(request, required=True)
    only_keys(body, _POLICY_KEYS, "auth")
    auth_type = body.get("type")
    if auth_type not in AUTH_TYPES:
        raise InvalidRequestBody(f"'type' must be one of {', '.join(AUTH_TYPES)}, "
                                 f"got {auth_type!r}")
    credentials, public_keys = _strings(body, "credentials"), _strings(body, "public_keys")
    if auth_type in ("bearer", "api_key") and not credentials:
        raise InvalidRequestBody(f"type {auth_type} needs 'credentials'")
    ttl = None if body.get("session_ttl_s") is None else integer(body, "session_ttl_s", 1)
    state.auth_policy = AuthPolicy(
        auth_type, credentials, public_keys,
        integer(body, "max_skew_s", 0, default=DEFAULT_MAX_SKEW_S), ttl)
    return {"auth": state.auth_policy.to_json()}


def get_sessions(state: MockState, request: ControlRequest) -> dict[str, Any]:
    return {"sessions": state.auth_sessions.to_json()}


def post_expire(state: MockState, request: ControlRequest) -> dict[str, Any]:
    body = object_body(request, required=False)
    only_keys(body, ("node_id",), "sessions/expire")
    return state.expire_sessions(optional_string(body, "node_id"))


def _strings(body: dict[str, Any], key: str) -> tuple[str, ...]:
    value = body.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise InvalidRequestBody(f"{key!r} must be a list of non-empty strings, "
                                 f"got {kind_of(value)}")
    return tuple(value)
