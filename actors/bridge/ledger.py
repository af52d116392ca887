"""A peg-out's record: the transitions between its states, and the ids it goes by (pure).

    awaiting_signatures --(valid signatures)--> signed --(broadcast)--> broadcast
    awaiting_signatures --(bad answer, retries left)--> awaiting_signatures (attempt + 1)
    awaiting_signatures --(no retries or time left)--> failed
    signed --(the network refuses it, proving it unpaid)--> failed
    signed | broadcast --(its coins are spent, by what the node cannot tell)--> needs_review
    broadcast --(a confirmation more, or a reorg that takes it out of the chain)--> broadcast
    broadcast --(`bridge.confirmations` deep)--> confirmed
    signed --(its broadcast finds it already that deep)--> confirmed
    signed | broadcast | needs_review | failed (if signed) --(its replacement broadcast)-->
        replaced
    needs_review --(ResolvePegout)--> confirmed (paid) | failed (not paid)
    failed --(RetryPegout, if it was never signed)--> awaiting_signatures (a new series)

Every transition returns a new record with the revision raised; the bridge
persists it before it acts on it. The governance request id of an attempt is
`<request_id>/<attempt>`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TypedDict, Unpack

from actors.messages import PegoutState, PegoutStatus
from actors.storage.records import PegoutRecord

A, S, B, C = (PegoutState.AWAITING_SIGNATURES, PegoutState.SIGNED, PegoutState.BROADCAST,
              PegoutState.CONFIRMED)
F, R, N = PegoutState.FAILED, PegoutState.REPLACED, PegoutState.NEEDS_REVIEW

_ALLOWED: dict[PegoutState, frozenset[PegoutState]] = {
    A: frozenset({A, S, F}),
    S: frozenset({B, C, F, N, R}),  # C: found already deep in the chain
    B: frozenset({B, C, N, R}),
    C: frozenset(),
    N: frozenset({C, F, R}),
    # Only `workflow.retry` takes this, and only for a peg-out never signed; a signed
    # one that failed can still be replaced (its coins stay reserved until then).
    F: frozenset({A, R}),
    R: frozenset(),
}


class IllegalTransition(Exception):
    pass


def allowed(current: PegoutState, target: PegoutState) -> bool:
    return target in _ALLOWED[current]


class Changes(TypedDict, total=False):
    """The fields a transition may change besides the state, the time and the revision."""

    attempt: int
    signatures_collected: int
    error: str | None
    signed_tx_hex: str | None
    txid: str | None
    failures: tuple[str, ...]
    series_failures: int
    series_started_at: float
    replaced_by: str | None
    confirmations: int
    broadcast_at: float
    resolution: str | None
    resolved_at: float


def transition(record: PegoutRecord, state: PegoutState, now_s: float,
               **changes: Unpack[Changes]) -> PegoutRecord:
    current = PegoutState(record.state)
    if not allowed(current, state):
        raise IllegalTransition(
            f"peg-out {record.request_id}: {current.value} -> {state.value} is not allowed")
    return dataclasses.replace(record, state=state.value, updated_at=now_s,
                               revision=record.revision + 1, **changes)


# A client's request id travels to governance (a peg-out's as `<id>/<attempt>`), whose
# answers the node accepts only with ids of at most 256 printable characters.
MAX_REQUEST_ID_CHARS = 200


def request_id_problem(request_id: object) -> str | None:
    """Why `request_id` cannot name a peg-out or a peg-in notice, or None."""
    if not isinstance(request_id, str):
        return f"request_id must be text, got {type(request_id).__name__}"
    if not request_id:
        return "request_id is empty"
    if len(request_id) > MAX_REQUEST_ID_CHARS:
        return (f"request_id has {len(request_id)} characters; at most "
                f"{MAX_REQUEST_ID_CHARS} are allowed")
    if not request_id.isprintable():
        # Control characters, line separators and lone surrogates: they would forge log
        # lines, fail to be stored, or come back from governance refused.
        return "request_id holds a control character, a line separator or a lone surrogate"
    return None


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


def same_request(record: PegoutRecord, tx_hex: str, input_indices: Sequence[int],
                 amounts: Sequence[int], replaces: str | None = None) -> bool:
    return (record.tx_hex.lower() == tx_hex.lower()
            and record.input_indices == tuple(input_indices)
            and record.amounts == tuple(amounts) and record.replaces == replaces)


def status_of(record: PegoutRecord) -> PegoutStatus:
    return PegoutStatus(
        request_id=record.request_id, state=record.state, txid=record.txid,
        signatures_collected=record.signatures_collected,
        signatures_required=record.signatures_required, error=record.error,
        signed_tx_hex=record.signed_tx_hex, attempts=record.attempt, fee_sat=record.fee_sat,
        payout_sat=record.payout_sat, confirmations=record.confirmations,
        replaces=record.replaces, replaced_by=record.replaced_by, resolution=record.resolution,
        resolved_at=record.resolved_at,
    )
