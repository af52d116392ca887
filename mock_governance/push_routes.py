"""Control endpoints for push acknowledgements (convention 8; see pushes.py).

    GET  /acks[?node_id=]            per node: pushes sent (copies per id), acknowledgements
                                     (per id), the ids still unacknowledged, how many
                                     were re-sent on registration, acks of unknown ids
    POST /acks {"advertise"?, "resend"?}
                                     list `push-ack` in GetCapabilities or not; re-send
                                     unacknowledged pushes on registration or not
"""

from __future__ import annotations

from typing import Any

from mock_governance.bodies import ControlRequest, kind_of, object_body, only_keys
from mock_governance.errors import InvalidRequestBody
from mock_governance.state import MockState

_KEYS = ("advertise", "resend")


def get_acks(state: MockState, request: ControlRequest) -> dict[str, Any]:
    return state.pushes.to_json(request.query.get("node_id"))


def post_acks(state: MockState, request: ControlRequest) -> dict[str, Any]:
    body = object_body(request, required=True)
    only_keys(body, _KEYS, "acks")
    switches: dict[str, bool | None] = {}
    for key in _KEYS:
        value = body.get(key)
        if value is not None and not isinstance(value, bool):
            raise InvalidRequestBody(f"{key!r} must be true or false, got {kind_of(value)}")
        switches[key] = value
    state.pushes.configure(advertise=switches["advertise"], resend=switches["resend"])
    return {"advertise": state.pushes.advertise, "resend": state.pushes.resend}
