"""The client library's waiting and naming rules, against a scripted stand-in for Thespian.

A real node is driven through the client in tests/integration; here the
stand-in decides what arrives when, so each rule is checked exactly: what an
ask takes, what it keeps for later, and what an error says.
"""

from __future__ import annotations

from collections import deque

import pytest
from thespian.actors import ActorAddress, ActorSystemFailure

from actors.front_desk import _NoRoot
from actors.messages import (
    ActorRef,
    Batch,
    Delivered,
    Lookup,
    PegoutAccepted,
    PegoutRejected,
    PegoutStatus,
    Pong,
)
from client import NodeClient, NodeUnreachable, NoReply, UnknownActor


class ScriptedSystem:
    """Answers each ask and listen with the next scripted message (None: silence)."""

    def __init__(self, *arrivals: object) -> None:
        self.arrivals: deque[object] = deque(arrivals)
        self.sent: list[tuple[object, object]] = []
        self.roots_created = 0
        self.fail_with: Exception | None = None

    def createActor(self, actor_class: object, globalName: str | None = None) -> ActorAddress:
        self.roots_created += 1
        return ActorAddress(f"root-{self.roots_created}")

    def ask(self, to: object, message: object, timeout: float) -> object:
        self.sent.append((to, message))
        return self.listen(timeout)

    def tell(self, to: object, message: object) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.sent.append((to, message))

    def listen(self, timeout: float) -> object:
        return self.arrivals.popleft() if self.arrivals else None


# An address as Thespian hands them out (a str would be taken for an actor's name).
ADDR = ActorAddress("addr")


def client(*arrivals: object) -> tuple[NodeClient, ScriptedSystem]:
    system = ScriptedSystem(*arrivals)
    return NodeClient(system, host="127.0.0.1", admin_port=1, admin_pid=1), system  # type: ignore[arg-type]


def test_an_ask_takes_the_expected_reply_and_keeps_what_came_before_it() -> None:
    node, _ = client(Delivered("old"), PegoutStatus("po-1", "signed"))
    reply = node.ask(ADDR, object(), PegoutStatus)
    assert reply == PegoutStatus("po-1", "signed")
    assert node.listen(0.01) == Delivered("old")


def test_silence_names_what_was_expected_and_what_came_instead() -> None:
    node, _ = client(Delivered("late"))
    with pytest.raises(NoReply) as caught:
        node.ask(ADDR, Lookup("x"), (PegoutAccepted, PegoutRejected),
                 timeout_s=0.01)
    text = str(caught.value)
    assert "Lookup to ActorAddr-addr" in text and "PegoutAccepted or PegoutRejected" in text
    assert "Delivered(request_id='late')" in text
    assert caught.value.got == (Delivered("late"),)
    assert node.listen(0.01) == Delivered("late")  # kept, not lost


def test_replies_opens_batches_and_keeps_the_rest_in_order() -> None:
    node, _ = client(Batch((PegoutAccepted("a"), Pong(1, "x", 2))), Delivered("d"),
                     PegoutRejected("b", "no"), PegoutAccepted("c"))
    assert node.replies(2, (PegoutAccepted, PegoutRejected), 0.01) == [
        PegoutAccepted("a"), PegoutRejected("b", "no")]
    assert node.take_unsolicited() == [Pong(1, "x", 2), Delivered("d")]
    assert node.replies(1, PegoutAccepted, 0.01) == [PegoutAccepted("c")]


def test_replies_that_time_out_take_nothing() -> None:
    node, _ = client(PegoutAccepted("a"), Delivered("d"))
    with pytest.raises(NoReply, match=r"2 replies \(1 came\)"):
        node.replies(2, PegoutAccepted, timeout_s=0.01)
    assert node.take_unsolicited() == [PegoutAccepted("a"), Delivered("d")]


def test_a_name_the_root_does_not_know_is_an_unknown_actor() -> None:
    node, system = client(ActorRef("nobody", None))
    with pytest.raises(UnknownActor, match="nobody"):
        node.lookup("nobody")
    assert system.sent == [(ActorAddress("root-1"), Lookup("nobody"))]


def test_a_probe_answering_for_the_root_makes_the_client_look_the_root_up_again() -> None:
    node, system = client(_NoRoot(), ActorRef("bridge", ActorAddress("bridge")))
    assert node.lookup("bridge") == ActorAddress("bridge")
    assert [to for to, _ in system.sent] == [ActorAddress("root-1"), ActorAddress("root-2")]


def test_tell_batches_sends_one_batch_per_chunk_and_a_single_item_as_itself() -> None:
    node, system = client()
    node.tell_batches(ADDR, [1, 2, 3], size=2)
    assert system.sent == [(ADDR, Batch((1, 2))), (ADDR, 3)]


def test_a_failing_actor_system_is_a_client_error() -> None:
    node, system = client()
    system.fail_with = ActorSystemFailure("gone")
    with pytest.raises(NodeUnreachable, match="gone"):
        node.tell(ADDR, object())


