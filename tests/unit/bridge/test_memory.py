"""What the bridge keeps in memory: open peg-outs, and a parsed transaction only while its
peg-out waits for signatures; a finished peg-out leaves once its last state is committed."""

from __future__ import annotations

from typing import Any

from actors.bridge.actor import BridgeActor
from actors.bridge.ledger import PegoutState, transition
from actors.storage.protocol import _Persist
from actors.storage.records import PegoutRecord

NOW = 1_700_000_000.0


def awaiting(request_id: str) -> PegoutRecord:
    return PegoutRecord(request_id=request_id, tx_hex="00", input_indices=(0,), amounts=(1,),
                        state=PegoutState.AWAITING_SIGNATURES.value, attempt=1,
                        signatures_required=3, txid="aa" * 32, created_at=NOW, updated_at=NOW)


def test_a_retry_keeps_the_parsed_transaction() -> None:
    bridge = BridgeActor()
    record = awaiting("p1")
    bridge._parsed["p1"] = object()  # type: ignore[assignment]
    bridge._persist(transition(record, PegoutState.AWAITING_SIGNATURES, NOW + 1, attempt=2))
    assert "p1" in bridge._parsed


def test_signed_and_failed_peg_outs_let_it_go() -> None:
    bridge = BridgeActor()
    for request_id, state, changes in (
            ("p1", PegoutState.SIGNED, {"signed_tx_hex": "01", "signatures_collected": 3}),
            ("p2", PegoutState.FAILED, {"error": "no usable signatures"})):
        bridge._parsed[request_id] = object()  # type: ignore[assignment]
        bridge._persist(transition(awaiting(request_id), state, NOW + 1, **changes))
        assert request_id not in bridge._parsed
    assert len(bridge.store) == 2  # both writes still wait to be sent


def bridge_with_storage() -> tuple[BridgeActor, list[Any]]:
    """A bridge whose writes are captured instead of sent to a StorageActor."""
    bridge, sent = BridgeActor(), []
    bridge.store._send = lambda to, message: sent.append(message)  # type: ignore[method-assign]
    return bridge, sent


def commit(bridge: BridgeActor, sent: list[Any]) -> None:
    bridge.store.flush("storage")
    persist = sent.pop()
    assert isinstance(persist, _Persist)
    bridge.store.persisted(persist.seq)


def test_a_finished_peg_out_leaves_memory_once_its_state_is_committed() -> None:
    bridge, sent = bridge_with_storage()
    signed = transition(awaiting("p1"), PegoutState.SIGNED, NOW + 1, signed_tx_hex="01")
    bridge._persist(signed)
    commit(bridge, sent)
    done = []
    bridge._persist(transition(signed, PegoutState.BROADCAST, NOW + 2),
                    then=lambda: done.append("then ran"))
    assert "p1" in bridge.pegouts and "p1" not in bridge.finished  # not committed yet
    commit(bridge, sent)
    assert done == ["then ran"]
    assert "p1" not in bridge.pegouts and "p1" in bridge.finished


def test_a_peg_out_changed_again_before_the_commit_stays() -> None:
    bridge, sent = bridge_with_storage()
    record = awaiting("p1")
    bridge._persist(transition(record, PegoutState.FAILED, NOW + 1, error="gave up"))
    bridge.pegouts["p1"] = record  # (as if) replaced in memory before the commit came
    commit(bridge, sent)
    assert bridge.pegouts["p1"] is record and "p1" not in bridge.finished
