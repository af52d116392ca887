"""A control request as the endpoints see it, and readers for the fields of its JSON body.

Readers raise InvalidRequestBody naming the key and what it takes, so a
caller's typo comes back as a 400 that says what to fix.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from google.protobuf import json_format
from google.protobuf.message import Message

from mock_governance.errors import InvalidRequestBody


@dataclass(frozen=True)
class ControlRequest:
    query: Mapping[str, str] = field(default_factory=dict)
    body: Any = None  # parsed JSON, None when the request had no body


def message_to_json(message: Message) -> dict[str, Any]:
    """Protobuf's canonical JSON with proto field names, as every endpoint speaks it."""
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def kind_of(value: object) -> str:
    return "null" if value is None else type(value).__name__


def integer_in(value: object, low: int, high: int | None) -> TypeGuard[int]:
    # bool is an int in Python, and never what a caller meant here.
    if not isinstance(value, int) or isinstance(value, bool):
        return False
    return value >= low and (high is None or value <= high)


def object_body(request: ControlRequest, *, required: bool) -> dict[str, Any]:
    if request.body is None and not required:
        return {}
    if not isinstance(request.body, dict):
        raise InvalidRequestBody(f"request body must be a JSON object, got {kind_of(request.body)}")
    return request.body


def only_keys(body: Mapping[str, object], allowed: Iterable[str], what: str) -> None:
    unexpected = sorted(set(body) - set(allowed))
    if unexpected:
        raise InvalidRequestBody(f"unexpected key(s) in {what} body: {', '.join(unexpected)}")


def integer(
    body: Mapping[str, object],
    key: str,
    low: int,
    high: int | None = None,
    default: int | None = None,
) -> int:
    """``body[key]``, which is required unless there is a default."""
    if key not in body and default is not None:
        return default
    value = body.get(key)
    if not integer_in(value, low, high):
        bound = f"from {low}" if high is None else f"from {low} to {high}"
        raise InvalidRequestBody(f"{key!r} must be an integer {bound}, got {value!r}")
    return int(value)


def boolean(body: Mapping[str, object], key: str, default: bool) -> bool:
    value = body.get(key, default)
    if not isinstance(value, bool):
        raise InvalidRequestBody(f"{key!r} must be true or false, got {value!r}")
    return value


def optional_string(body: Mapping[str, object], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidRequestBody(f"{key!r} must be a string, got {kind_of(value)}")
    return value


def integer_list(body: Mapping[str, object], key: str) -> tuple[int, ...]:
    value = body.get(key)
    if not isinstance(value, list) or not all(integer_in(item, 0, None) for item in value):
        raise InvalidRequestBody(f"{key!r} must be a list of integers >= 0, got {value!r}")
    return tuple(value)


def boolean_list(body: Mapping[str, object], key: str) -> tuple[bool, ...] | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, bool) for item in value):
        raise InvalidRequestBody(f"{key!r} must be a list of true/false, got {value!r}")
    return tuple(value)
