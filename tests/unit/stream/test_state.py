"""The connection state machine: one table, illegal moves raise."""

from __future__ import annotations

import pytest

from actors.stream.errors import IllegalTransition, StreamError
from actors.stream.state import (
    TRANSITIONS,
    ConnectionState,
    ConnectionStateMachine,
    Transition,
)

S = ConnectionState
ALL_MOVES = [(source, target) for source in S for target in S]


def test_state_values_are_the_names_operators_see() -> None:
    assert [state.value for state in S] == [
        "disconnected", "connecting", "registering", "connected",
        "reconnecting", "failed", "suspended",
    ]


def test_every_state_has_a_row_in_the_table() -> None:
    assert set(TRANSITIONS) == set(S)


def test_a_new_machine_starts_disconnected() -> None:
    assert ConnectionStateMachine().state is S.DISCONNECTED


def test_the_happy_path_connects_through_registration() -> None:
    machine = ConnectionStateMachine()
    steps = [machine.move(target, "test") for target in (S.CONNECTING, S.REGISTERING,
                                                         S.CONNECTED)]
    assert steps[-1] == Transition(S.REGISTERING, S.CONNECTED, "test")
    assert machine.state is S.CONNECTED


def test_a_lost_stream_reconnects_and_can_fail() -> None:
    machine = ConnectionStateMachine(S.CONNECTED)
    for target in (S.RECONNECTING, S.CONNECTING, S.FAILED, S.CONNECTING):
        machine.move(target, "stream lost")
    assert machine.state is S.CONNECTING


@pytest.mark.parametrize(("source", "target"), [
    move for move in ALL_MOVES if move[1] in TRANSITIONS[move[0]]
])
def test_every_move_in_the_table_is_allowed(source: S, target: S) -> None:
    machine = ConnectionStateMachine(source)
    assert machine.move(target, "why") == Transition(source, target, "why")
    assert machine.state is target


@pytest.mark.parametrize(("source", "target"), [
    move for move in ALL_MOVES if move[1] not in TRANSITIONS[move[0]]
])
def test_every_move_outside_the_table_raises_and_changes_nothing(source: S, target: S) -> None:
    machine = ConnectionStateMachine(source)
    with pytest.raises(IllegalTransition) as raised:
        machine.move(target, "why")
    assert (raised.value.current, raised.value.target) == (source, target)
    assert machine.state is source


def test_moving_to_the_same_state_is_illegal() -> None:
    assert all(state not in TRANSITIONS[state] for state in S)


def test_illegal_transition_is_a_stream_error() -> None:
    with pytest.raises(StreamError):
        ConnectionStateMachine().move(S.CONNECTED, "skipping ahead")


def test_every_state_is_reachable_from_disconnected() -> None:
    reached, frontier = {S.DISCONNECTED}, [S.DISCONNECTED]
    while frontier:
        for target in TRANSITIONS[frontier.pop()] - reached:
            reached.add(target)
            frontier.append(target)
    assert reached == set(S)
