"""The bridge keeps a peg-out's parsed transaction only while it waits for signatures."""

from __future__ import annotations

from actors.bridge.actor import BridgeActor
from actors.bridge.ledger import PegoutState, transition
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
