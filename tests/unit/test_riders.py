"""`NodeActor.send_soon`: a message that may wait rides with the next send to its address,
or goes alone after `RIDE_S`; nothing is lost, duplicated or reordered on the way."""

from __future__ import annotations

from typing import Any

import pytest
from thespian.actors import Actor, ActorExitRequest, WakeupMessage

from actors.base import RIDE_MAX, RIDE_S, NodeActor
from actors.bridge.actor import BridgeActor
from actors.bridge.effects import Reply
from actors.messages import Batch, Handled, Ping


class Plain(NodeActor):
    name = "plain"


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, Any]]:
    """What reaches Thespian's own send, in order."""
    out: list[tuple[Any, Any]] = []
    monkeypatch.setattr(Actor, "send", lambda self, to, message: out.append((to, message)))
    return out


def with_timers(actor: NodeActor) -> list[tuple[float, Any]]:
    wakeups: list[tuple[float, Any]] = []
    actor.wakeupAfter = lambda delay, payload=None: wakeups.append(  # type: ignore[method-assign]
        (delay, payload))
    return wakeups


def wake(actor: NodeActor, payload: Any) -> None:
    """As Thespian delivers a wakeup: through `receiveMessage`."""
    actor.receiveMessage(WakeupMessage(RIDE_S, payload), None)  # None: its own address here


def test_a_rider_with_nothing_to_ride_on_goes_alone_once_its_time_is_up(sent: list) -> None:
    actor = Plain()
    wakeups = with_timers(actor)
    actor.send_soon("stream", Handled("a/1"))
    assert sent == []
    [(delay, payload)] = wakeups
    assert delay == RIDE_S
    wake(actor, payload)
    assert sent == [("stream", Handled("a/1"))]
    wake(actor, payload)  # a late second wakeup finds nothing to send
    assert len(sent) == 1


def test_riders_go_in_front_of_the_next_send_to_their_address_and_only_theirs(
        sent: list) -> None:
    actor = Plain()
    wakeups = with_timers(actor)
    actor.send_soon("stream", Handled("a/1"))
    actor.send_soon("chain", Handled("c/1"))
    assert len(wakeups) == 1  # one timer for all of them

    actor.send("stream", Ping(7))
    assert sent == [("stream", Batch((Handled("a/1"), Ping(7))))]
    actor.send("stream", Ping(8))  # nothing rides twice
    assert sent[-1] == ("stream", Ping(8))

    wake(actor, wakeups[0][1])  # the chain's had nothing to ride on
    assert sent[-1] == ("chain", Handled("c/1")) and len(sent) == 3


def test_riders_for_one_address_go_at_once_when_ride_max_of_them_wait(sent: list) -> None:
    """A sender that waits for confirmations (the stream, after two small batches) must not
    wait out the timer on every turn."""
    actor = Plain()
    wakeups = with_timers(actor)
    actor.send_soon("stream", Handled("a/1"))
    actor.send_soon("chain", Handled("c/1"))
    assert sent == []
    actor.send_soon("stream", Handled("b/1"))
    assert RIDE_MAX == 2 and sent == [("stream", Batch((Handled("a/1"), Handled("b/1"))))]
    wake(actor, wakeups[0][1])
    assert sent[1:] == [("chain", Handled("c/1"))]


def test_the_timer_is_armed_again_for_riders_after_it_fired(sent: list) -> None:
    actor = Plain()
    wakeups = with_timers(actor)
    actor.send_soon("stream", Handled("a/1"))
    wake(actor, wakeups[0][1])
    actor.send_soon("stream", Handled("b/1"))
    assert len(wakeups) == 2
    wake(actor, wakeups[1][1])
    assert sent == [("stream", Handled("a/1")), ("stream", Handled("b/1"))]


def test_riders_from_an_earlier_turn_go_in_front_of_a_coalesced_send(sent: list) -> None:
    actor = Plain()
    with_timers(actor)
    actor.send_soon("stream", Handled("a/1"))
    with actor.coalesced_sends():
        actor.send("stream", Ping(1))
        actor.send("stream", Ping(2))
    assert sent == [("stream", Batch((Handled("a/1"), Ping(1), Ping(2))))]


def test_riders_do_not_wrap_a_message_thespian_acts_on(sent: list) -> None:
    actor = Plain()
    with_timers(actor)
    actor.send_soon("child", Handled("a/1"))
    actor.send("child", ActorExitRequest())
    [(_, first), (_, second)] = sent
    assert first == Handled("a/1") and isinstance(second, ActorExitRequest)


class OwnTimers(NodeActor):
    """An actor with a wakeup handler of its own that knows nothing of riders."""

    name = "own-timers"

    def receiveMsg_WakeupMessage(self, message: WakeupMessage, sender: Any) -> None:
        pass


def test_no_actor_s_own_wakeup_handler_can_swallow_the_riders_timer(sent: list) -> None:
    actor = OwnTimers()
    wakeups = with_timers(actor)
    actor.send_soon("stream", Handled("a/1"))
    wake(actor, wakeups[0][1])
    assert sent == [("stream", Handled("a/1"))]


def test_a_batch_sent_takes_its_riders_in_front_of_its_items(sent: list) -> None:
    actor = Plain()
    with_timers(actor)
    actor.send_soon("stream", Handled("a/1"))
    actor.send("stream", Batch((Ping(1), Ping(2))))
    assert sent == [("stream", Batch((Handled("a/1"), Ping(1), Ping(2))))]


def test_riders_join_the_batch_of_a_coalesced_turn(sent: list) -> None:
    actor = Plain()
    with_timers(actor)
    with actor.coalesced_sends():
        actor.send("stream", Ping(1))
        actor.send_soon("stream", Handled("a/1"))
        actor.send("stream", Ping(2))
    assert sent == [("stream", Batch((Ping(1), Handled("a/1"), Ping(2))))]


def test_a_rider_joins_what_its_turn_already_sends_to_its_address(sent: list) -> None:
    actor = Plain()
    wakeups = with_timers(actor)
    with actor.coalesced_sends():
        actor.send("stream", Ping(1))
        actor.send_soon("stream", Handled("a/1"))
        actor.send_soon("chain", Handled("c/1"))  # nothing goes to the chain this turn
    assert sent == [("stream", Batch((Ping(1), Handled("a/1"))))]
    wake(actor, wakeups[0][1])
    assert sent[-1] == ("chain", Handled("c/1"))


def test_riders_go_before_the_actor_exits(sent: list) -> None:
    actor = Plain()
    with_timers(actor)
    actor.send_soon("stream", Handled("a/1"))
    actor.receiveMsg_ActorExitRequest(ActorExitRequest(), "supervisor")
    assert sent == [("stream", Handled("a/1"))]


def test_a_wakeup_the_actor_has_no_use_for_is_logged_not_raised(
        sent: list, caplog: pytest.LogCaptureFixture) -> None:
    actor = Plain()
    wake(actor, "something else")
    assert sent == [] and "no use for a wakeup" in caplog.text


def test_the_bridge_confirms_an_answer_with_its_next_send_to_the_stream(sent: list) -> None:
    actor = BridgeActor()
    wakeups = with_timers(actor)
    actor._carry_out((Reply("stream-1", Handled("po-1/1"), can_wait=True),))
    assert sent == [] and len(wakeups) == 1
    actor._carry_out((Reply("stream-1", Ping(3)),))
    assert sent == [("stream-1", Batch((Handled("po-1/1"), Ping(3))))]


def test_the_bridge_s_timer_sends_a_confirmation_nothing_came_to_ride_on(sent: list) -> None:
    actor = BridgeActor()
    wakeups = with_timers(actor)
    actor._carry_out((Reply("stream-1", Handled("po-1/1"), can_wait=True),))
    wake(actor, wakeups[0][1])
    assert sent == [("stream-1", Handled("po-1/1"))]
