"""Peg-outs as records, and the transitions between their states (pure).

    awaiting_signatures --(valid signatures)--> signed --(broadcast)--> broadcast
    awaiting_signatures --(bad answer, retries left)--> awaiting_signatures (attempt + 1)
    awaiting_signatures --(bad answer, no retries left)--> failed
    signed --(the network refuses it for good)--> failed

Every transition returns a new record with the revision raised, which the
BridgeActor persists before it acts on it. The governance request id of an
attempt is `<request_id>/<attempt>`.
"""

from __future__ import annotations

import dataclasses
from enum import Enum

from actors.messages import PegoutStatus
from actors.storage.records import PegoutRecord


class PegoutState(Enum):
    AWAITING_SIGNATURES = "awaiting_signatures"
    SIGNED = "signed"
    BROADCAST = "broadcast"
    FAILED = "failed"


_ALLOWED = {
    PegoutState.AWAITING_SIGNATURES: {PegoutState.AWAITING_SIGNATURES, PegoutState.SIGNED,
                                      PegoutState.FAILED},
    PegoutState.SIGNED: {PegoutState.BROADCAST, PegoutState.FAILED},
    PegoutState.BROADCAST: set(),
    PegoutState.FAILED: set(),
}
FINISHED = frozenset({PegoutState.SIGNED.value, PegoutState.BROADCAST.value,
                      PegoutState.FAILED.value})


class IllegalTransition(Exception):
    pass


def governance_id(request_id: str, attempt: int) -> str:
    return f"{request_id}/{attempt}"


def split_governance_id(governance_request_id: str) -> tuple[str, int] | None:
    """(`request_id`, attempt) of `<request_id>/<attempt>`, or None for another shape."""
    request_id, slash, attempt = governance_request_id.rpartition("/")
    # Exactly the digits `governance_id` writes: ASCII, no leading zero.
    canonical = attempt.isascii() and attempt.isdecimal() and str(int(attempt)) == attempt
    if not slash or not request_id or not canonical:
        return None
    return request_id, int(attempt)


def transition(record: PegoutRecord, state: PegoutState, now_s: float,
               **changes: object) -> PegoutRecord:
    current = PegoutState(record.state)
    if state not in _ALLOWED[current]:
        raise IllegalTransition(
            f"peg-out {record.request_id}: {current.value} -> {state.value} is not allowed")
    return dataclasses.replace(record, state=state.value, updated_at=now_s,
                               revision=record.revision + 1, **changes)  # type: ignore[arg-type]


def same_request(record: PegoutRecord, tx_hex: str, input_indices: tuple[int, ...],
                 amounts: tuple[int, ...]) -> bool:
    return (record.tx_hex.lower() == tx_hex.lower()
            and record.input_indices == tuple(input_indices)
            and record.amounts == tuple(amounts))


def status_of(record: PegoutRecord) -> PegoutStatus:
    return PegoutStatus(
        request_id=record.request_id, state=record.state, txid=record.txid,
        signatures_collected=record.signatures_collected,
        signatures_required=record.signatures_required, error=record.error,
        signed_tx_hex=record.signed_tx_hex, attempts=record.attempt,
    )
