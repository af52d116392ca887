"""The StreamActor's side of a target that fails on, or never confirms, what it was
routed: neither may hold the target's lane for good (the chain's takes one send at a
time, so one stuck federation update would stop every later one)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from thespian.actors import PoisonMessage

from actors.messages import (
    ApplySignatures,
    Batch,
    Delivered,
    ProposalReceived,
    UpdateFederation,
)
from actors.stream.actor import StreamActor
from actors.stream.routing import IN_ORDER, REDELIVER_S, InboundRouter


def Push(request_id: str) -> UpdateFederation:  # named as the message it is
    """A federation update pushed under `request_id` (its content is not looked at)."""
    return UpdateFederation(request_id, "member_add", 3, (), 1, 0, None, b"")


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


def test_a_proposal_the_chain_failed_on_is_known_by_its_proposal_id() -> None:
    actor, sent = stream_routing_to_the_chain(Clock())
    assert actor.router.handled("v3", "chain") == "chain"
    actor._pump("chain")  # v4 goes; the proposal waits behind it
    proposal = ProposalReceived("p-1", "parameter_change", b"", 100, 2)
    assert actor.router.admit("p-1", "chain", proposal)
    assert actor.router.handled("v4", "chain") == "chain"
    actor._pump("chain")
    assert sent[-1] == ("chain-1", proposal)
    actor.router.admit("v5", "chain", Push("v5"))

    actor.receiveMsg_PoisonMessage(PoisonMessage(proposal, "Traceback ..."), "chain-1")

    assert sent[-1] == ("chain-1", Push("v5"))  # the proposal no longer holds the lane
    assert actor.router.admit("p-1", "chain", proposal)  # governance's next push is taken


def test_a_reply_the_bridge_failed_on_leaves_an_answer_of_the_same_id_routed() -> None:
    actor, sent = stream_routing_to_the_chain(Clock())
    actor.peers["bridge"] = actor.routed_to["bridge"] = "bridge-1"  # type: ignore[assignment]
    answer = ApplySignatures("pegout-1/1", "complete")
    assert actor.router.admit("pegout-1/1", "bridge", answer)
    actor._pump("bridge")
    assert sent[-1] == ("bridge-1", answer)

    # A reply to one of the bridge's requests (its own id space at the stream), not routed.
    actor.receiveMsg_PoisonMessage(PoisonMessage(Delivered("pegout-1/1"), "..."), "bridge-1")

    assert actor.router.in_flight("bridge") == 1  # still tracked: confirmed or sent again
    assert actor.router.handled("pegout-1/1", "bridge") == "bridge"


def test_a_failed_send_of_coalesced_batches_frees_the_pushes_inside_them() -> None:
    # Sends made while a Batch of `Handled` is handled go out as one Batch per address,
    # so a routed Batch can come back inside another.
    actor, sent = stream_routing_to_the_chain(Clock())
    coalesced = Batch((Batch((Push("v3"),)), Delivered("pegin-1")))
    actor.receiveMsg_PoisonMessage(PoisonMessage(coalesced, "Traceback ..."), "chain-1")
    assert sent[-1] == ("chain-1", Push("v4"))


def test_a_stalled_target_that_is_away_gets_it_all_once_it_is_back(
        caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    actor, sent = stream_routing_to_the_chain(clock)
    actor.peers = {}  # the chain is being restarted
    clock.now = REDELIVER_S
    with caplog.at_level(logging.WARNING):
        actor._redeliver_stalled()
    assert len(sent) == 1  # nothing to send it to
    assert "sending 2 again once it is back" in caplog.text
    actor.peers = {"chain": "chain-2"}  # type: ignore[dict-item]
    actor._pump("chain")
    to, again = sent[-1]
    assert to == "chain-2" and again.items == (Push("v3"), Push("v4"))
