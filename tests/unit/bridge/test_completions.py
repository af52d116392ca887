"""The chain hears of broadcast peg-outs in one send per `COMPLETIONS_EVERY_S`, not one
each: it only counts them, and every send is two hops of CPU in two processes."""

from __future__ import annotations

from typing import Any

from actors.bridge.actor import COMPLETIONS_EVERY_S, BridgeActor, _CompletionsDue
from actors.bridge.effects import NotifyChain
from actors.messages import Batch, Handled, PegoutCompleted


def bridge() -> tuple[BridgeActor, list[Any], list[Any]]:
    actor, sent, wakeups = BridgeActor(), [], []
    actor.peers = {"chain": "chain-1"}  # type: ignore[dict-item]
    actor.send = lambda to, message: sent.append((to, message))  # type: ignore
    actor.wakeupAfter = lambda delay, payload=None: wakeups.append(  # type: ignore
        (delay, payload))
    return actor, sent, wakeups


def test_notices_gathered_in_a_window_go_as_one_send() -> None:
    actor, sent, wakeups = bridge()
    actor._carry_out((NotifyChain("po-1", "aa"), NotifyChain("po-2", "bb")))
    actor._carry_out((NotifyChain("po-3", "cc"),))
    assert sent == []
    [(delay, payload)] = wakeups  # one wakeup for the window
    assert delay == COMPLETIONS_EVERY_S and isinstance(payload, _CompletionsDue)

    actor.on_wakeup(payload)
    [(to, batch)] = sent
    assert to == "chain-1" and isinstance(batch, Batch)
    assert batch.items == (PegoutCompleted("po-1", "aa"), PegoutCompleted("po-2", "bb"),
                           PegoutCompleted("po-3", "cc"))


def test_unconfirmed_notices_go_again_to_a_restarted_chain_and_confirmed_ones_do_not(
        ) -> None:
    actor, sent, wakeups = bridge()
    actor._carry_out((NotifyChain("po-1", "aa"), NotifyChain("po-2", "bb")))
    actor.on_wakeup(wakeups[0][1])
    actor.receiveMsg_Handled(Handled("po-1"), "chain-1")
    sent.clear()

    actor.on_peer_changed("chain", "chain-2")
    [(to, batch)] = sent
    assert to == "chain-2" and batch.items == (PegoutCompleted("po-2", "bb"),)


def test_notices_gathered_while_the_chain_is_away_go_when_it_is_back() -> None:
    actor, sent, wakeups = bridge()
    actor.peers = {}
    actor._carry_out((NotifyChain("po-1", "aa"),))
    actor.on_wakeup(wakeups[0][1])
    assert sent == []  # no chain to tell
    actor.on_peer_changed("chain", "chain-2")
    assert [m for _, m in sent] == [Batch((PegoutCompleted("po-1", "aa"),))]
