"""The StreamActor's metrics (`alys_stream_` prefix), written from its own process.

Label values are few and fixed (message types, states, drop reasons), never
request ids, endpoints or anything a credential could end up in.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from prometheus_client import Counter, Gauge, Histogram

from actors.stream.wire.enums import ERROR_CODES, UNSPECIFIED

UP = Gauge("alys_stream_up", "1 while the governance stream is connected and registered.",
           multiprocess_mode="livemax")
STATE = Gauge("alys_stream_state", "1 for the stream's current connection state.", ["state"],
              multiprocess_mode="livemax")
TRANSITIONS = Counter("alys_stream_state_transitions_total",
                      "Connection state changes, by the state entered.", ["state"])
RECONNECTS = Counter("alys_stream_reconnects_total",
                     "Reconnect attempts after a connected stream was lost.")
SENT = Counter("alys_stream_messages_sent_total", "Messages written to the stream, by type.",
               ["type"])
RECEIVED = Counter("alys_stream_messages_received_total",
                   "Messages read from the stream, by type.", ["type"])
OUTBOX = Gauge("alys_stream_outbox_size", "Requests waiting in the outbox.",
               multiprocess_mode="livemax")
DROPS = Counter("alys_stream_outbox_drops_total", "Requests the outbox refused or evicted.",
                ["reason"])
PENDING = Gauge("alys_stream_pending_requests", "Requests sent and not yet answered.",
                multiprocess_mode="livemax")
HEARTBEAT_RTT = Histogram("alys_stream_heartbeat_rtt_seconds",
                          "Heartbeat round trip.",
                          buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                   0.5, 1.0, 2.5))
TIMEOUTS = Counter("alys_stream_request_timeouts_total", "Requests that timed out, by type.",
                   ["type"])
LATE_ANSWERS = Counter("alys_stream_late_answers_total",
                       "Signature answers that came after their request timed out (routed).")
CIRCUIT = Counter("alys_stream_circuit_transitions_total",
                  "Circuit breaker state changes, by the state entered.", ["state"])
CIRCUIT_STATE = Gauge("alys_stream_circuit_state",
                      "1 for the circuit breaker's current state (closed, open, half_open).",
                      ["state"], multiprocess_mode="livemax")
GOVERNANCE_ERRORS = Counter("alys_stream_governance_errors_total",
                            "ErrorResponses from governance, by error code (a code this node "
                            "does not know counts as `other`).", ["code"])
UNEXPECTED = Counter("alys_stream_unexpected_frames_total",
                     "Frames the stream could not use, by kind.", ["kind"])
UNHANDLED = Gauge("alys_stream_unhandled_messages",
                  "Messages routed to the bridge or chain and not yet confirmed Handled.",
                  multiprocess_mode="livemax")
CLOSED = Counter("alys_stream_closed_total",
                 "Streams that ended, by gRPC status code (UNAUTHENTICATED: governance refused "
                 "the node's credentials before any frame; a code gRPC does not define counts "
                 "as `other`).", ["code"])
PUSH_ACKS = Counter("alys_stream_push_acks_total",
                    "Pushes acknowledged to governance (convention 8), by why: handled (the "
                    "chain committed it), repeat (pushed again after it was handled), "
                    "refused (malformed, never routed).", ["reason"])


# The codes `alys_stream_governance_errors_total` names; anything else is `other`, so that a
# governance inventing codes cannot grow the label set.
ERROR_CODE_LABELS = frozenset({*ERROR_CODES.by_name, UNSPECIFIED})
OTHER_CODE = "other"


def error_code_label(code: str) -> str:
    return code if code in ERROR_CODE_LABELS else OTHER_CODE


# gRPC's status code names (grpc.StatusCode; a unit test compares them), spelled out so
# that declaring the metrics imports no grpc.
STATUS_CODE_LABELS = frozenset({
    "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
    "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
    "UNAUTHENTICATED"})


def status_code_label(code: str) -> str:
    return code if code in STATUS_CODE_LABELS else OTHER_CODE


def declare_known_series(drop_reasons: Iterable[str], request_kinds: Iterable[str]) -> None:
    """Give the error, close, drop and timeout counters their 0 for every label value they can
    take: Prometheus sees an increase only from a sample it already had."""
    for code in (*ERROR_CODE_LABELS, OTHER_CODE):
        GOVERNANCE_ERRORS.labels(code=code)
    for status in (*STATUS_CODE_LABELS, OTHER_CODE):
        CLOSED.labels(code=status)
    for reason in drop_reasons:
        DROPS.labels(reason=reason)
    for kind in request_kinds:
        TIMEOUTS.labels(type=kind)


# A ladder for answers that take milliseconds to minutes; `request_duration_buckets` cuts it
# at the longest configured timeout and adds the timeouts themselves, so that answers near
# a timeout are told apart from those well within it.
_LADDER_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
             120.0, 300.0, 600.0, 1800.0, 3600.0)


def request_duration_buckets(timeouts_s: Iterable[float]) -> tuple[float, ...]:
    """Histogram bounds that reach every one of `timeouts_s` (each one is a bound)."""
    limits = sorted({float(t) for t in timeouts_s if t > 0})
    if not limits:
        return _LADDER_S
    return tuple(sorted({*(b for b in _LADDER_S if b < limits[-1]), *limits}))


@functools.cache
def request_seconds(buckets: tuple[float, ...]) -> Histogram:
    """The request-duration histogram with `buckets` (the StreamActor derives them from its
    config at start). Samples live in the multiprocess files, so it needs no registry, and
    a second StreamActor in one process (unit tests) gets the same one."""
    return Histogram("alys_stream_request_duration_seconds",
                     "From sending a request to its answer.", ["type"], buckets=buckets,
                     registry=None)
