"""What the bridge's workflows ask the BridgeActor to do, as plain data.

The workflows (`pegouts`, `pegins`) decide; the actor only carries these out,
in order. An effect that must wait until a record is durable sits inside
`Persist.then`: the actor runs those once the StorageActor has committed the
write, never before. `Note`s are what happened, for the metrics and the log
(`observe`), so that no decision is also a place that counts or logs.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from actors.storage.records import PeginRecord, PegoutRecord, Record


class Event(Enum):
    """Things worth a metric or a log line; `observe` says which of each."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"
    SIGNED = "signed"
    SIGNATURE_FAILURE = "signature_failure"
    RETRIED = "retried"
    TRANSIENT_FAILURE = "transient_failure"
    RETRY_STARTED = "retry_started"
    FAILED = "failed"
    BROADCAST = "broadcast"
    BROADCAST_DEFERRED = "broadcast_deferred"
    BROADCAST_REFUSED = "broadcast_refused"
    DUPLICATE_ANSWER = "duplicate_answer"
    UNKNOWN_ANSWER = "unknown_answer"
    SET_ASIDE = "set_aside"
    NEEDS_REVIEW = "needs_review"
    SPENT_ELSEWHERE = "spent_elsewhere"  # "inputs spent", and our own txid was found
    CONFIRMATIONS = "confirmations"
    CONFIRMED = "confirmed"
    UNCONFIRMED = "unconfirmed"  # a reorg took it out of the chain
    LEFT_MEMPOOL = "left_mempool"
    REPLACED = "replaced"
    RESOLVED = "resolved"
    PEGIN_ACCEPTED = "pegin_accepted"
    PEGIN_REJECTED = "pegin_rejected"
    PEGIN_DELIVERED = "pegin_delivered"
    PEGIN_RETRIED = "pegin_retried"


@dataclass(frozen=True)
class Note:
    event: Event
    request_id: str
    kind: str = ""  # a short label for a metric (a rejection's or a failure's reason kind)
    detail: str = ""  # the human sentence for the log
    attempt: int = 0
    delay_s: float = 0.0  # when what follows happens
    # A broadcast's or a confirmation's: the time since acceptance (None: not known).
    since_accepted_s: float | None = None
    # False for a decision on a request that did not begin the peg-out's trace (one under
    # a live peg-out's id): its outcome must not end the live one's trace.
    ends_trace: bool = True


@dataclass(frozen=True)
class Reply:
    """Send `message` to `to` (a client, or the stream for a `Handled`). `can_wait`: it may
    ride with the next send to `to`, within a few tens of milliseconds (`NodeActor.send_soon`):
    a confirmation whose delay costs nothing but a later send saves a hop."""

    to: Any  # a Thespian ActorAddress
    message: Any
    can_wait: bool = False


@dataclass(frozen=True)
class AskSignatures:
    """Ask governance for this attempt's signatures, now or after `delay_s`. The actor sends
    the request only if the peg-out is still at this attempt when the time comes."""

    request_id: str
    attempt: int
    delay_s: float = 0.0


@dataclass(frozen=True)
class Broadcast:
    """Hand the signed transaction to the broadcaster (the actor batches these per turn)."""

    request_id: str


@dataclass(frozen=True)
class BroadcastLater:
    """The broadcaster could not take a transaction now: try the signed ones again later."""


@dataclass(frozen=True)
class NotifyChain:
    """Tell the ChainActor a peg-out was broadcast (`PegoutCompleted`)."""

    request_id: str
    txid: str


@dataclass(frozen=True)
class SendNotice:
    """Send a peg-in notice to the stream, now or after `delay_s` (until governance
    acknowledges it)."""

    record: PeginRecord
    delay_s: float = 0.0


@dataclass(frozen=True)
class CountOutflow:
    """Count `sat` (negative: take back) against the outflow window, as paid out at `at`."""

    at: float
    sat: int


@dataclass(frozen=True)
class Rebroadcast:
    """Hand a broadcast transaction that left the mempool unconfirmed to Bitcoin Core
    again."""

    request_id: str


@dataclass(frozen=True)
class Supersede:
    """The replacement `by` was broadcast: the peg-out it replaces becomes `replaced`
    (read back from storage if memory has it not), and the coins they share are the
    replacement's from now on."""

    original: str
    by: str
    outpoints: tuple[str, ...]


@dataclass(frozen=True)
class Drop:
    """A new record could not be stored: forget it from memory."""

    record: PegoutRecord | PeginRecord


@dataclass(frozen=True)
class Persist:
    """Write `record` (none: only wait until what is written so far is durable), then carry
    out `then`. When the write of a new record fails, `refused_for` (the client that asked)
    is told so through the workflow's `not_stored`; any other failed write is retried.

    `request`: the client's request a new record comes from (`InitiatePegout`,
    `NotifyPegin`), whose id memory does not know. The record is then inserted only if
    storage holds no record under its id; if it does (a finished peg-out, an acknowledged
    peg-in), `then` is not carried out, and the workflow's `already_stored` decides on the
    stored record instead. So a reused id is found by the write the new record needs
    anyway, and the bridge keeps no set of every id it has finished."""

    record: PegoutRecord | PeginRecord | None
    then: tuple[Effect, ...] = ()
    refused_for: Any = None
    request: Any = None
    # Records written in the same write, before `record`: a peg-out's coin reservations
    # (`Claim`, `Release`, `Transfer`).
    extra: tuple[Record, ...] = ()
    # A `Claim` in `extra` on an existing record (`RetryPegout`): if a coin is held by
    # another peg-out, nothing is written and the workflow's `reclaim_refused` decides.
    reclaim: bool = False
    # Nothing on a client's or governance's path waits for this commit: the write goes
    # with the next one that cannot wait, or after a short timer (`actors.owner`).
    can_wait: bool = False


Effect = Note | Reply | AskSignatures | Broadcast | BroadcastLater | NotifyChain | SendNotice \
    | Drop | Persist | CountOutflow | Rebroadcast | Supersede
Effects = tuple[Effect, ...]
