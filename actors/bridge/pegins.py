"""The peg-in notice workflow, pure: a client's `NotifyPegin` is checked, stored, answered,
and sent to governance until governance acknowledges it (`Delivered`).

    NotifyPegin --checked--> stored; then PeginAccepted, and the notice to the stream
    governance error or timeout --> the notice goes again after `PEGIN_RETRY_S`
    Delivered --> acknowledged; stored (the notice is not sent again)
"""

from __future__ import annotations

import dataclasses
from typing import Any

from actors.bridge.effects import Drop, Effects, Event, Note, Persist, Reply, SendNotice
from actors.bridge.ledger import request_id_problem
from actors.messages import NotifyPegin, PeginAccepted, PeginRejected
from actors.storage.records import PeginRecord
from btc.errors import BtcError
from btc.pegin import validate_pegin

PEGIN_RETRY_S = 5.0


def notified(existing: PeginRecord | None, notice: NotifyPegin, client: Any,
             min_confirmations: int, now_s: float) -> tuple[PeginRecord | None, Effects]:
    """A client's `NotifyPegin`: the record to keep (None: nothing new) and the effects."""
    rid = notice.request_id
    if existing is not None:
        if same_notice(existing, notice):
            return None, (Persist(None, then=(Reply(client, PeginAccepted(rid)),)),)
        return None, _reject(client, rid,
                             f"request id {rid!r} is already used by a different peg-in")
    try:
        problem = request_id_problem(rid)
        if problem is not None:
            raise BtcError(problem)
        validate_pegin(notice.btc_txid, notice.vout, notice.amount, notice.evm_address,
                       notice.confirmations, min_confirmations=min_confirmations)
    except BtcError as exc:
        return None, _reject(client, rid, str(exc))
    record = PeginRecord(rid, notice.btc_txid.lower(), notice.vout, notice.amount,
                         notice.evm_address, notice.confirmations, created_at=now_s)
    accepted = (Note(Event.PEGIN_ACCEPTED, rid), Reply(client, PeginAccepted(rid)),
                SendNotice(record))
    return record, (Persist(record, then=accepted, refused_for=client, request=notice),)


def already_stored(existing: PeginRecord, notice: NotifyPegin, client: Any,
                   written: PeginRecord | None = None) -> Effects:
    """The new peg-in's first write found its id in storage (an acknowledged peg-in, which
    memory no longer holds): the same notice is accepted again, another is refused, at
    once (the stored record is durable); `written` leaves memory."""
    drop: Effects = (Drop(written),) if written is not None else ()
    if same_notice(existing, notice):
        return (*drop, Reply(client, PeginAccepted(notice.request_id)))
    return (*drop, *_reject(client, notice.request_id,
                            f"request id {notice.request_id!r} is already used by a "
                            "different peg-in"))


def same_notice(record: PeginRecord, notice: NotifyPegin) -> bool:
    # A transaction id is the same whatever the case of its hex digits.
    return ((record.btc_txid, record.vout, record.amount, record.evm_address)
            == (notice.btc_txid.lower(), notice.vout, notice.amount, notice.evm_address))


def not_stored(record: PeginRecord, client: Any, reason: str) -> Effects:
    return (Drop(record), *_reject(client, record.request_id, f"not stored: {reason}"))


def delivered(record: PeginRecord | None) -> tuple[PeginRecord | None, Effects]:
    """Governance acknowledged the notice: it is not sent again."""
    if record is None or record.acknowledged:
        return None, ()
    record = dataclasses.replace(record, acknowledged=True, revision=record.revision + 1)
    return record, (Note(Event.PEGIN_DELIVERED, record.request_id), Persist(record))


def unanswered(record: PeginRecord | None, reason: str, delay_s: float) -> Effects:
    """The notice got a governance error or timed out: it goes again, no sooner than
    `PEGIN_RETRY_S` (or governance's `retry_after`)."""
    if record is None or record.acknowledged:
        return ()
    delay_s = max(delay_s, PEGIN_RETRY_S)
    return (Note(Event.PEGIN_RETRIED, record.request_id, detail=reason, delay_s=delay_s),
            SendNotice(record, delay_s))


def notice_of(record: PeginRecord) -> NotifyPegin:
    """The notice the stream sends governance for a stored peg-in."""
    return NotifyPegin(record.request_id, record.btc_txid, record.vout, record.amount,
                       record.evm_address, record.confirmations)


def _reject(client: Any, rid: str, reason: str) -> Effects:
    return (Note(Event.PEGIN_REJECTED, rid, detail=reason),
            Reply(client, PeginRejected(rid, reason)))
