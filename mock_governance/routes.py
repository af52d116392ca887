"""The control interface's endpoints: plain functions from a parsed request to JSON.

Messages travel as protobuf's canonical JSON (json_format, proto field names):
64-bit integers are strings, bytes are base64, enums are their names. The
HTTP plumbing lives in control.py; this module knows nothing about sockets.

POST /push sends any StreamResponse as given: a response whose
``metadata.request_id`` no node ever sent is just a /push with a made-up id.
POST /push_raw sends bytes that need not parse at all. The federation's
endpoints are in federation_routes.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from typing import Any

from google.protobuf import json_format

from mock_governance import auth_routes, behaviour, federation_routes, hostile, push_routes
from mock_governance.bodies import (
    ControlRequest,
    integer,
    kind_of,
    message_to_json,
    object_body,
    only_keys,
    optional_string,
)
from mock_governance.errors import (
    InvalidMessage,
    InvalidRequestBody,
    MethodNotAllowed,
    NotFound,
)
from mock_governance.state import MockState
from protocol import governance_pb2 as pb

__all__ = ["ROUTES", "ControlRequest", "Route", "resolve"]


Route = Callable[[MockState, ControlRequest], dict[str, Any]]


def parse_stream_response(value: Any) -> pb.StreamResponse:
    if not isinstance(value, dict):
        raise InvalidMessage("StreamResponse", f"expected a JSON object, got {kind_of(value)}")
    message = pb.StreamResponse()
    try:
        json_format.ParseDict(value, message)
    except json_format.ParseError as error:
        raise InvalidMessage("StreamResponse", str(error)) from error
    return message


def get_health(state: MockState, request: ControlRequest) -> dict[str, Any]:
    return {"ok": True}


def get_record(state: MockState, request: ControlRequest) -> dict[str, Any]:
    snapshot = state.recorder.snapshot(request.query.get("node_id"))
    return {
        "nodes": {
            node_id: [message_to_json(r) for r in requests]
            for node_id, requests in snapshot.items()
        }
    }


def get_connections(state: MockState, request: ControlRequest) -> dict[str, Any]:
    return {"connections": [c.to_json() for c in state.sessions.connections()]}


def get_behaviour(state: MockState, request: ControlRequest) -> dict[str, Any]:
    return {
        "behaviour": state.flags.current.to_json(),
        "available": behaviour.describe(),
        "held_signatures": state.held.to_json(),
    }


def post_behaviour(state: MockState, request: ControlRequest) -> dict[str, Any]:
    applied = behaviour.apply_behaviours(state, object_body(request, required=True))
    return {"applied": applied, "behaviour": state.flags.current.to_json()}


def _push_body(request: ControlRequest, payload_key: str, what: str) -> tuple[Any, str | None]:
    """The payload and the optional target node of a /push or /push_raw body."""
    body = object_body(request, required=True)
    only_keys(body, ("node_id", payload_key), "push")
    if payload_key not in body:
        raise InvalidRequestBody(f"push body needs {payload_key!r} ({what})")
    node_id = body.get("node_id")
    if node_id is not None and not isinstance(node_id, str):
        raise InvalidRequestBody(f"'node_id' must be a string, got {kind_of(node_id)}")
    return body[payload_key], node_id


def post_push(state: MockState, request: ControlRequest) -> dict[str, Any]:
    value, node_id = _push_body(request, "message", "a StreamResponse as JSON")
    message = parse_stream_response(value)
    return {"delivered": state.sessions.push(message, node_id)}


MAX_PUSH_MANY = 1_000_000


def post_push_many(state: MockState, request: ControlRequest) -> dict[str, Any]:
    """Push `count` copies of one message, request ids `<id_prefix><i>`, as fast as it goes.

    For load: governance sending many messages without one HTTP call each. A
    proposal's `proposal_id` is numbered the same way, since it is its id. With
    `version_from`, a federation update's `config.parameters["version"]` is
    numbered too (`version_from + i`), so every copy is a valid newer version;
    an update signed by governance's key cannot be copied that way (its
    signature covers the version), so the copies go unsigned. With `hold`, the
    copies are built and kept with the held signature answers, and go out with
    them on POST /release: a benchmark then times the node, not the building.
    """
    body = object_body(request, required=True)
    only_keys(body, ("node_id", "message", "count", "id_prefix", "version_from", "hold"),
              "push_many")
    hold = body.get("hold", False)
    if not isinstance(hold, bool):
        raise InvalidRequestBody(f"'hold' must be true or false, got {kind_of(hold)}")
    version_from = body.get("version_from")
    if version_from is not None and (not isinstance(version_from, int)
                                     or isinstance(version_from, bool) or version_from < 0):
        raise InvalidRequestBody("'version_from' must be a non-negative integer")
    count, prefix = body.get("count"), body.get("id_prefix", "pushed-")
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_PUSH_MANY:
        raise InvalidRequestBody(f"'count' must be an integer from 1 to {MAX_PUSH_MANY}")
    if not isinstance(prefix, str):
        raise InvalidRequestBody(f"'id_prefix' must be a string, got {kind_of(prefix)}")
    template = parse_stream_response(body.get("message"))
    node_id = body.get("node_id")
    copies = (_numbered_copy(template, prefix, index, version_from) for index in range(count))
    if hold:
        messages = list(copies)
        sessions = state.sessions.sessions(node_id)
        for session in sessions:
            state.held.hold(session, messages)
        return {"held": len(messages) * len(sessions)}
    return {"delivered": sum(state.sessions.push(message, node_id) for message in copies)}


def _numbered_copy(template: pb.StreamResponse, prefix: str, index: int,
                   version_from: int | None) -> pb.StreamResponse:
    message = pb.StreamResponse()
    message.CopyFrom(template)
    message.metadata.request_id = f"{prefix}{index}"
    if message.HasField("proposal_notification"):
        message.proposal_notification.proposal_id = f"{prefix}{index}"
    if version_from is not None and message.HasField("federation_update"):
        update = message.federation_update
        update.config.parameters["version"] = str(version_from + index)
        update.ClearField("update_signature")
    return message


def post_push_raw(state: MockState, request: ControlRequest) -> dict[str, Any]:
    value, node_id = _push_body(request, "base64", "the frame's bytes, base64")
    if not isinstance(value, str):
        raise InvalidRequestBody(f"'base64' must be a string, got {kind_of(value)}")
    try:
        frame = base64.b64decode(value, validate=True)
    except binascii.Error as error:
        raise InvalidRequestBody(f"'base64' is not valid base64: {error}") from error
    return {"delivered": state.sessions.push(frame, node_id), "bytes": len(frame)}


def get_stats(state: MockState, request: ControlRequest) -> dict[str, Any]:
    return state.stats.to_json(request.query.get("node_id"))


def post_release(state: MockState, request: ControlRequest) -> dict[str, Any]:
    """Send answers held by ``hold_signatures``: ``{"count"?: n, "node_id"?: id}``, oldest first."""
    body = object_body(request, required=False)
    only_keys(body, ("count", "node_id"), "release")
    count = None if body.get("count") is None else integer(body, "count", 1)
    released = state.held.release(count, optional_string(body, "node_id"))
    return {**released.to_json(), "held_signatures": state.held.to_json()}


def post_reset(state: MockState, request: ControlRequest) -> dict[str, Any]:
    """Forget the record and the stats; behaviours stay as they are."""
    state.stats.clear()
    state.pushes.clear()
    return {"cleared": state.recorder.clear()}


ROUTES: Mapping[str, Mapping[str, Route]] = {
    "/health": {"GET": get_health},
    "/record": {"GET": get_record},
    "/connections": {"GET": get_connections},
    "/behaviour": {"GET": get_behaviour, "POST": post_behaviour},
    "/push": {"POST": post_push},
    "/push_raw": {"POST": post_push_raw},
    "/push_many": {"POST": post_push_many},
    "/hostile": {"GET": hostile.get_hostile, "POST": hostile.post_hostile},
    "/stats": {"GET": get_stats},
    "/federation": {
        "GET": federation_routes.get_federation,
        "POST": federation_routes.post_federation,
    },
    "/federation/update": {"POST": federation_routes.post_federation_update},
    "/release": {"POST": post_release},
    "/reset": {"POST": post_reset},
    "/acks": {"GET": push_routes.get_acks, "POST": push_routes.post_acks},
    "/auth": {"GET": auth_routes.get_auth, "POST": auth_routes.post_auth},
    "/sessions": {"GET": auth_routes.get_sessions},
    "/sessions/expire": {"POST": auth_routes.post_expire},
}


def resolve(method: str, path: str) -> Route:
    methods = ROUTES.get(path.rstrip("/") or "/")
    if methods is None:
        raise NotFound(f"no endpoint {path}; endpoints: {', '.join(sorted(ROUTES))}")
    route = methods.get(method)
    if route is None:
        raise MethodNotAllowed(f"{path} accepts {', '.join(sorted(methods))}, not {method}")
    return route
