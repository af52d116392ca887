"""The governance connection's states and the one table of moves between them.

Pure: the StreamActor owns a ConnectionStateMachine and reports each Transition
as a log line and a metric; an illegal move is a bug and raises.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from actors.stream.errors import IllegalTransition


class ConnectionState(StrEnum):
    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    REGISTERING = "registering"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    # The circuit is open, or reconnect attempts are past max_attempts. Never final: a
    # reconnect is always scheduled (at the breaker's trial, or the longest backoff).
    FAILED = "failed"
    SUSPENDED = "suspended"


_S = ConnectionState

# Every state may go to DISCONNECTED except DISCONNECTED itself: a shutdown or
# an operator's stop must always be possible, and no move is ever to the same state.
TRANSITIONS: dict[ConnectionState, frozenset[ConnectionState]] = {
    _S.DISCONNECTED: frozenset({_S.CONNECTING}),
    _S.CONNECTING: frozenset({_S.REGISTERING, _S.RECONNECTING, _S.FAILED, _S.DISCONNECTED}),
    _S.REGISTERING: frozenset({_S.CONNECTED, _S.RECONNECTING, _S.FAILED, _S.DISCONNECTED}),
    _S.CONNECTED: frozenset({_S.RECONNECTING, _S.SUSPENDED, _S.DISCONNECTED}),
    _S.SUSPENDED: frozenset({_S.CONNECTED, _S.RECONNECTING, _S.DISCONNECTED}),
    _S.RECONNECTING: frozenset({_S.CONNECTING, _S.FAILED, _S.DISCONNECTED}),
    _S.FAILED: frozenset({_S.CONNECTING, _S.DISCONNECTED}),
}


@dataclass(frozen=True)
class Transition:
    source: ConnectionState
    target: ConnectionState
    reason: str


class ConnectionStateMachine:
    """The current connection state; changes only through `move`."""

    def __init__(self, initial: ConnectionState = ConnectionState.DISCONNECTED) -> None:
        self._state = initial

    @property
    def state(self) -> ConnectionState:
        return self._state

    def move(self, target: ConnectionState, reason: str) -> Transition:
        if target not in TRANSITIONS[self._state]:
            raise IllegalTransition(self._state, target)
        transition = Transition(self._state, target, reason)
        self._state = target
        return transition
