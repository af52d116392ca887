"""The StreamActor's side of a target that fails on, or never confirms, what it was
routed: neither may hold the target's lane for good (the chain's takes one send at a
time, so one stuck federation update would stop every later one)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from thespian.actors import PoisonMessage

from actors.messages import Batch
from actors.stream.actor import StreamActor
from actors.stream.routing import IN_ORDER, REDELIVER_S, InboundRouter


@dataclass(frozen=True)
class Push:
    request_id: str


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def stream_routing_to_the_chain(clock: Clock) -> tuple[StreamActor, list[Any]]:
    """A StreamActor with only its routing parts, sends captured."""
    actor, sent = StreamActor(), []
    actor.router = InboundRouter(in_order=IN_ORDER, clock=clock)
    actor.peers = {"chain": "chain-1"}  # type: ignore[dict-item]
    actor.routed_to = {"chain": "chain-1"}  # type: ignore[dict-item]
    actor._handled_from = None
    actor.send = lambda to, message: sent.append((to, message))  # type: ignore
    for version in ("v3", "v4"):  # pushed one after the other
        assert actor.router.admit(version, "chain", Push(version))  # type: ignore[arg-type]
        actor._pump("chain")
    assert sent == [("chain-1", Push("v3"))]  # v4 waits for v3's Handled
    return actor, sent


def test_a_push_the_chain_failed_on_no_longer_holds_the_later_ones_back() -> None:
    actor, sent = stream_routing_to_the_chain(Clock())

    actor.receiveMsg_PoisonMessage(PoisonMessage(Push("v3"), "Traceback ..."), "chain-1")

    assert sent[-1] == ("chain-1", Push("v4"))
    assert not actor.router.was_handled("v3", "chain")  # not acknowledged: pushed again


def test_a_failed_batch_frees_every_push_it_carried() -> None:
    actor, sent = stream_routing_to_the_chain(Clock())
    actor.receiveMsg_PoisonMessage(PoisonMessage(Batch((Push("v3"), "not a push"))),
                                   "chain-1")
    assert sent[-1] == ("chain-1", Push("v4"))


def test_a_chain_that_confirms_nothing_is_sent_it_all_again() -> None:
    clock = Clock()
    actor, sent = stream_routing_to_the_chain(clock)
    clock.now = REDELIVER_S - 1
    actor._redeliver_stalled()
    assert len(sent) == 1
    clock.now = REDELIVER_S
    actor._redeliver_stalled()  # the chain dropped v3 (a sender it did not know yet)
    to, again = sent[-1]
    assert len(sent) == 2 and to == "chain-1"
    assert again.items == (Push("v3"), Push("v4"))  # in their order, in one send
