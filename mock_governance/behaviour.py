"""Named misbehaviours the control interface can switch on (POST /behaviour).

Each entry parses its JSON value and applies it to the MockState, returning
a JSON-able result (the new value of a switch, or what a one-shot action
did). Add a misbehaviour by adding a Misbehaviour to REGISTRY.

A misbehaviour may take options: further top-level keys that qualify it and
are only valid next to it, as ``signature_fault_count`` qualifies
``signature_fault``. Its parser then gets one object holding the value
under the misbehaviour's own name and every option (defaults filled in).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from actors.stream.wire.enums import ERROR_CODES, INT32_MAX
from mock_governance.bodies import integer_in
from mock_governance.errors import InvalidBehaviourValue, InvalidRequestBody, UnknownBehaviour
from mock_governance.flags import ErrorNext, Preamble, SignatureFault, SignatureFaultKind
from mock_governance.state import MockState


@dataclass(frozen=True)
class Misbehaviour:
    name: str
    description: str
    # Each entry's parse takes the raw JSON and returns what its own apply takes:
    # the types differ from entry to entry, hence Any between the two.
    parse: Callable[[str, Any], Any]
    apply: Callable[[MockState, Any], Any]
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # key -> default


def _boolean(name: str, value: object) -> bool:
    # JSON true/false only: 0/1 or "yes" are more likely mistakes than intent.
    if not isinstance(value, bool):
        raise InvalidBehaviourValue(name, "true or false", value)
    return value


def _token(name: str, value: object) -> str | None:
    if value is None or (isinstance(value, str) and value):
        return value
    raise InvalidBehaviourValue(name, "a non-empty string, or null to require nothing", value)


_ERROR_NEXT_KEYS = {"count", "code", "retry_after_s", "message"}
DEFAULT_ERROR_MESSAGE = "error injected by the mock (error_next)"


def _error_next(name: str, value: object) -> ErrorNext | None:
    if value is None:
        return None
    shape = (
        f"null or an object {{code: {'|'.join(ERROR_CODES.by_name)}, count?: int >= 1 "
        "(default 1), retry_after_s?: int >= 0 or null, message?: str}"
    )
    if not isinstance(value, dict) or not set(value) <= _ERROR_NEXT_KEYS:
        raise InvalidBehaviourValue(name, shape, value)
    count = value.get("count", 1)
    retry_after_s = value.get("retry_after_s")
    message = value.get("message", DEFAULT_ERROR_MESSAGE)
    if (
        value.get("code") not in ERROR_CODES.by_name
        or not integer_in(count, 1, None)
        or not (retry_after_s is None or integer_in(retry_after_s, 0, INT32_MAX))
        or not isinstance(message, str)
    ):
        raise InvalidBehaviourValue(name, shape, value)
    return ErrorNext(count, value["code"], retry_after_s, message)


FAULT_COUNT = "signature_fault_count"
UNTIL_CHANGED = -1  # as a signature_fault_count: the same as null
_FAULT_KINDS = frozenset(kind.value for kind in SignatureFaultKind)


def _signature_fault(name: str, value: Any) -> SignatureFault | None:
    kind, count = value[name], value[FAULT_COUNT]
    if kind is None:
        return None
    if not isinstance(kind, str) or kind not in _FAULT_KINDS:
        shape = f"one of {', '.join(SignatureFaultKind)}, or null for no fault"
        raise InvalidBehaviourValue(name, shape, kind)
    if integer_in(count, UNTIL_CHANGED, UNTIL_CHANGED):
        count = None
    if not (count is None or integer_in(count, 1, None)):
        shape = "an integer >= 1, or null (or -1) for every answer until changed"
        raise InvalidBehaviourValue(FAULT_COUNT, shape, count)
    return SignatureFault(SignatureFaultKind(kind), count)


def _preamble(name: str, value: object) -> Preamble | None:
    if value is None:
        return None
    if not isinstance(value, str) or value not in {p.value for p in Preamble}:
        raise InvalidBehaviourValue(name, f"one of {', '.join(Preamble)}, or null", value)
    return Preamble(value)


def _switch(name: str) -> Callable[[MockState, Any], Any]:
    def apply(state: MockState, value: Any) -> Any:
        state.flags.set(**{name: value})
        return value

    return apply


def _plan_errors(state: MockState, value: ErrorNext | None) -> dict[str, Any] | None:
    state.flags.set(error_next=value)
    return None if value is None else dataclasses.asdict(value)


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
        Misbehaviour(
            "require_token",
            "string or null: abort streams without `authorization: Bearer <token>` call "
            "metadata with UNAUTHENTICATED, and answer a NodeRegistration whose auth "
            "credential differs with accepted=false",
            _token,
            _switch("require_token"),
        ),
        Misbehaviour(
            "error_next",
            "{code, count?, retry_after_s?, message?} or null: answer the next `count` "
            "signature requests, peg-in notifications and status updates with an "
            "ErrorResponse (retry_info.retry_after when retry_after_s is set)",
            _error_next,
            _plan_errors,
        ),
        Misbehaviour(
            "answer_twice",
            "switch: send every answer to a signature request twice",
            _boolean,
            _switch("answer_twice"),
        ),
        Misbehaviour(
            "silent",
            "switch: record requests but answer only registrations and heartbeats",
            _boolean,
            _switch("silent"),
        ),
        Misbehaviour(
            "signature_fault",
            f"{'|'.join(SignatureFaultKind)} or null, with {FAULT_COUNT}: int >= 1 (default "
            "1), or null or -1 for until changed: make the next signature answers faulty. "
            "too_few: threshold-1 signatures per input; wrong_signature: one over another "
            "digest; non_member: one by a key outside the federation; partial: PARTIAL, first "
            "input only; failed: FAILED; timeout: TIMEOUT",
            _signature_fault,
            _switch("signature_fault"),
            options={FAULT_COUNT: 1},
        ),
        Misbehaviour(
            "signature_preamble",
            f"{'|'.join(Preamble)} or null: ahead of every answer to a signature request, "
            "send one under the same request id that is no answer: ack, a metadata-only "
            "acknowledgement; pending, a SignatureResponse with status PENDING. It goes at "
            "once, even while hold_signatures keeps the answer back",
            _preamble,
            _switch("signature_preamble"),
        ),
        Misbehaviour(
            "hold_signatures",
            "switch: keep answers to signature requests instead of sending them, until "
            "POST /release (switching it off releases nothing)",
            _boolean,
            _switch("hold_signatures"),
        ),
    )
}
# option key -> the misbehaviour it qualifies
OPTIONS: Mapping[str, str] = {option: m.name for m in REGISTRY.values() for option in m.options}


def _with_options(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Each misbehaviour's value, its options folded in; refuse options standing alone."""
    unknown = [name for name in settings if name not in REGISTRY and name not in OPTIONS]
    if unknown:
        raise UnknownBehaviour(unknown, [*REGISTRY, *OPTIONS])
    alone = [option for option in settings if option in OPTIONS and OPTIONS[option] not in settings]
    if alone:
        raise InvalidRequestBody(
            ", ".join(f"{option!r} goes with {OPTIONS[option]!r}" for option in alone)
        )
    values: dict[str, Any] = {}
    for name, value in settings.items():
        if name in OPTIONS:
            continue
        options = REGISTRY[name].options
        if options:
            value = {name: value, **{key: settings.get(key, d) for key, d in options.items()}}
        values[name] = value
    return values


def apply_behaviours(state: MockState, settings: Mapping[str, Any]) -> dict[str, Any]:
    """Validate every setting first, so a bad request changes nothing; then apply in order."""
    values = _with_options(settings)
    parsed = {name: REGISTRY[name].parse(name, value) for name, value in values.items()}
    return {name: _json(REGISTRY[name].apply(state, value)) for name, value in parsed.items()}


def _json(result: Any) -> Any:
    # Results that are dataclasses (a planned fault) go back as plain objects.
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        return dataclasses.asdict(result)
    return result


def describe() -> dict[str, str]:
    return {name: m.description for name, m in REGISTRY.items()}
