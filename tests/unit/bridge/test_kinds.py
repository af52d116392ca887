"""A peg-in notice `x/1` and peg-out `x`'s first attempt share a governance id: the stream's
failure replies say which kind of request they are about, and the bridge follows that."""

from __future__ import annotations

import time
from typing import Any

import pytest

from actors.bridge.actor import BridgeActor
from actors.bridge.effects import Effect, Note, Persist, SendNotice
from actors.bridge.workflow import Rules
from actors.messages import GovernanceError, PegoutState, RequestRejected, RequestTimedOut
from actors.storage.records import PeginRecord, PegoutRecord
from tests.unit.btc import federation

NOW = time.time()  # the actor reads the real clock: the series starts now


def bridge() -> tuple[BridgeActor, list[Effect]]:
    actor, carried = BridgeActor(), []
    actor.loaded = True  # as if storage had answered `_Load`
    actor.peers = {"stream": "stream"}  # as the tree's `_Peers` sets them
    actor.federation = federation(5, 3)
    actor.rules = Rules(max_pegout_sat=10**8, signature_retries=3)
    actor.book.put(PegoutRecord("x", "00", (0,), (1,), PegoutState.AWAITING_SIGNATURES.value,
                                1, 3, created_at=NOW, updated_at=NOW))
    actor.book.put(PeginRecord("x/1", "ab" * 32, 0, 1, "0x" + "00" * 20, 6, created_at=NOW))
    actor._carry_out = lambda effects: carried.extend(effects)  # type: ignore[method-assign]
    return actor, carried


@pytest.mark.parametrize("message", [
    RequestTimedOut("x/1", "signature"),
    RequestRejected("x/1", "outbox full", "signature"),
    GovernanceError("x/1", "service_unavailable", "later", None, "signature"),
])
def test_a_failure_of_the_signature_request_goes_to_the_pegout(message: Any) -> None:
    actor, carried = bridge()

    actor.receiveMessage(message, "stream")

    persisted = [e.record for e in carried if isinstance(e, Persist)]
    assert [(r.request_id, getattr(r, "attempt", None)) for r in persisted] == [("x", 2)]
    assert not any(isinstance(e, SendNotice) for e in carried)


@pytest.mark.parametrize("message", [
    RequestTimedOut("x/1", "pegin"),
    GovernanceError("x/1", "service_unavailable", "later", None, "pegin"),
    RequestTimedOut("x/1"),  # a sender that does not say: taken by the id, as before
])
def test_a_failure_of_the_pegin_notice_goes_to_the_pegin(message: Any) -> None:
    actor, carried = bridge()

    actor.receiveMessage(message, "stream")

    assert [type(e) for e in carried if not isinstance(e, Note)] == [SendNotice]
    assert actor.book.pegouts["x"].attempt == 1
