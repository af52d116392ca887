"""Named misbehaviours the control interface can switch on (POST /behaviour).

Each entry parses its JSON value and applies it to the MockState, returning
a JSON-able result (the new value of a switch, or what a one-shot action
did). Add a misbehaviour by adding a Misbehaviour to REGISTRY.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from protocol.mock.errors import InvalidBehaviourValue, UnknownBehaviour
from protocol.mock.state import MockState


@dataclass(frozen=True)
class Misbehaviour:
    name: str
    description: str
    parse: Callable[[str, Any], Any]
    apply: Callable[[MockState, Any], Any]


def _boolean(name: str, value: Any) -> bool:
    # JSON true/false only: 0/1 or "yes" are more likely mistakes than intent.
    if not isinstance(value, bool):
        raise InvalidBehaviourValue(name, "true or false", value)
    return value


def _switch(name: str) -> Callable[[MockState, bool], bool]:
    def apply(state: MockState, value: bool) -> bool:
        state.flags.set(**{name: value})
        return value

    return apply


def _drop_streams(state: MockState, value: bool) -> int:
    if not value:
        return 0
    return state.drop_streams("stream dropped by the mock (behaviour drop_streams)")


REGISTRY: Mapping[str, Misbehaviour] = {
    m.name: m
    for m in (
        Misbehaviour(
            "refuse_registration",
            "switch: answer NodeRegistration with accepted=false",
            _boolean,
            _switch("refuse_registration"),
        ),
        Misbehaviour(
            "drop_streams",
            "one-shot: abort every open stream with UNAVAILABLE; result: streams dropped",
            _boolean,
            _drop_streams,
        ),
        Misbehaviour(
            "stall",
            "switch: stop reading requests and writing responses on every stream",
            _boolean,
            _switch("stall"),
        ),
    )
}


def apply_behaviours(state: MockState, settings: Mapping[str, Any]) -> dict[str, Any]:
    """Validate every setting first, so a bad request changes nothing; then apply in order."""
    unknown = [name for name in settings if name not in REGISTRY]
    if unknown:
        raise UnknownBehaviour(unknown, REGISTRY)
    parsed = {name: REGISTRY[name].parse(name, value) for name, value in settings.items()}
    return {name: REGISTRY[name].apply(state, value) for name, value in parsed.items()}


def describe() -> dict[str, str]:
    return {name: m.description for name, m in REGISTRY.items()}
