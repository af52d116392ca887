"""Peg-outs that reach a freshly started bridge before its first federation wait for it,
within a bound, instead of being refused for a federation that is moments away."""

from __future__ import annotations

from typing import Any

from actors.bridge.actor import BridgeActor, _FederationWaitOver
from actors.bridge.drain import Drain
from actors.bridge.first_federation import FirstFederation
from actors.bridge.outflow import OutflowWindow
from actors.bridge.workflow import Rules
from actors.messages import FederationChanged, Handled, InitiatePegout, PegoutRejected
from actors.storage.records import PegoutRecord
from btc.testing import make_unsigned_pegout
from tests.unit.btc import federation


def test_held_requests_come_back_in_arrival_order() -> None:
    waiting = FirstFederation(limit=3)
    assert waiting.hold("a", "client-1") and waiting.hold("b", "client-2")
    assert len(waiting) == 2
    assert waiting.release() == [("a", "client-1"), ("b", "client-2")]
    assert len(waiting) == 0


def test_past_the_limit_a_request_is_decided_at_once() -> None:
    waiting = FirstFederation(limit=2)
    assert waiting.hold("a", "c") and waiting.hold("b", "c")
    assert not waiting.hold("c", "c")
    assert [m for m, _ in waiting.release()] == ["a", "b"]


def test_past_the_characters_held_a_request_is_decided_at_once() -> None:
    waiting = FirstFederation(max_chars=30)
    small = InitiatePegout("po-1", "00" * 10, (0,), (1,))  # 4 + 20 + 1 + 1 characters
    huge = InitiatePegout("po-2", "00" * 1_000_000, (0,), (1,))
    assert waiting.hold(small, "c")
    assert not waiting.hold(huge, "c")  # a local client's request of any size
    assert not waiting.hold(small, "c")  # 52 in all: over
    assert waiting.release() == [(small, "c")]
    assert waiting.hold(small, "c")  # released: the count starts again


def test_once_the_wait_ran_out_nothing_more_is_held() -> None:
    waiting = FirstFederation()
    waiting.hold("a", "c")
    assert waiting.give_up() == [("a", "c")]
    assert not waiting.hold("b", "c")  # a chain that cannot announce: refused at once


def fresh_bridge() -> tuple[BridgeActor, list[Any], list[Any], list[Any]]:
    """A loaded bridge that has no federation yet, as on a node's very first start."""
    actor, sent, wakeups, written = BridgeActor(), [], [], []
    actor.loaded = True
    actor.rules = Rules(max_pegout_sat=10**8, signature_retries=3)
    actor.outflow = OutflowWindow(86_400.0, 10**8)
    actor.send = lambda to, message: sent.append(message)  # type: ignore
    actor.wakeupAfter = lambda delay, payload=None: wakeups.append(  # type: ignore
        (delay, payload))
    actor.store.write = lambda records, **kw: written.extend(records)  # type: ignore
    return actor, sent, wakeups, written


def stored_ids(written: list[Any]) -> list[str]:
    return [r.request_id for r in written if isinstance(r, PegoutRecord)]


def request(request_id: str) -> InitiatePegout:
    tx_hex, indices, amounts = make_unsigned_pegout(federation(5, 3).witness_script, seed=4)
    return InitiatePegout(request_id, tx_hex, indices, amounts)


def announced() -> FederationChanged:
    known = federation(5, 3)
    return FederationChanged(known.version, known.members, known.threshold,
                             known.witness_script, "bcrt1q-address")


def test_a_pegout_before_the_first_federation_is_decided_once_it_is_announced() -> None:
    actor, sent, wakeups, written = fresh_bridge()

    actor.receiveMsg_InitiatePegout(request("po-1"), "client")
    assert sent == [] and written == []  # neither refused nor stored: held
    [(delay, payload)] = wakeups
    assert delay == actor.first_federation.wait_s and isinstance(payload, _FederationWaitOver)

    actor.receiveMsg_FederationChanged(announced(), "chain")
    assert stored_ids(written) == ["po-1"]  # decided: being stored
    assert not any(isinstance(m, PegoutRejected) for m in sent)


def test_held_pegouts_are_refused_when_no_federation_comes_in_time() -> None:
    actor, sent, wakeups, written = fresh_bridge()
    actor.receiveMsg_InitiatePegout(request("po-1"), "client")
    actor.receiveMsg_InitiatePegout(request("po-2"), "client")
    assert len(wakeups) == 1  # one wait, armed by the first

    actor.on_wakeup(_FederationWaitOver())

    refusals = [m for m in sent if isinstance(m, PegoutRejected)]
    assert [(r.request_id, r.kind) for r in refusals] == [("po-1", "no_federation"),
                                                        ("po-2", "no_federation")]
    actor.receiveMsg_InitiatePegout(request("po-3"), "client")  # refused at once now
    assert sent[-1] == PegoutRejected("po-3", "no federation yet", kind="no_federation")
    assert written == []


def test_a_wait_that_ends_after_the_federation_came_decides_nothing_twice() -> None:
    actor, sent, _wakeups, written = fresh_bridge()
    actor.receiveMsg_InitiatePegout(request("po-1"), "client")
    actor.receiveMsg_FederationChanged(announced(), "chain")
    actor.on_wakeup(_FederationWaitOver())
    assert stored_ids(written) == ["po-1"]
    assert [m for m in sent if not isinstance(m, Handled)] == []


def test_a_drained_bridge_refuses_at_once_rather_than_hold_for_the_federation() -> None:
    actor, sent, wakeups, written = fresh_bridge()
    actor.drain = Drain("maintenance", 1_700_000_000.0)
    # Drained, an id memory does not know is read back first: storage has none.
    actor._fetch = lambda answer, **query: answer((), None)  # type: ignore

    actor.receiveMsg_InitiatePegout(request("po-1"), "client")

    [refused] = sent
    assert isinstance(refused, PegoutRejected) and refused.kind == "draining"
    assert wakeups == [] and written == [] and len(actor.first_federation) == 0
