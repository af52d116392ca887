"""What owners persist through the StorageActor, and what they load back at start.

Every record is keyed and carries a `revision` that its owner increases with
each change: a write is an upsert that only replaces an older revision. So a
write re-sent after a StorageActor restart, or overtaken by a newer one (Thespian
may reorder messages between two actors), never moves a row backwards.

Reservations are the exception to revisions: an outpoint (a coin a peg-out spends) is
held by at most one peg-out, and `Claim`, `Transfer` and `Release` change who holds it.
Each is idempotent instead, so a second copy of one changes nothing either.
"""

from __future__ import annotations

from dataclasses import dataclass

from actors.messages import Member, PegoutState
from btc.federation import Federation

# The open peg-outs are loaded at start; the finished ones stay in SQLite until asked for.
OPEN_PEGOUT_STATES = tuple(state.value for state in PegoutState if state.is_open)
FINISHED_PEGOUT_STATES = tuple(state.value for state in PegoutState if not state.is_open)
# What an operator decided about a peg-out in needs_review (`PegoutRecord.resolution`).
RESOLUTIONS = ("paid", "not_paid")


@dataclass(frozen=True)
class PegoutRecord:
    """A peg-out, owned by the BridgeActor. `attempt` numbers the governance
    request `<request_id>/<attempt>` in flight; `failures` holds each failed
    attempt's reason, oldest first.

    Replacement: `replaces` is the peg-out this one replaces (it spends some of the same
    coins), `replaced_by` the open replacement of this one. `payout_sat` is what the peg-out
    pays out (what the outflow window counts) and `fee_sat` its fee; `confirmations` and
    `broadcast_at` follow the broadcast transaction. `resolution` is an operator's word on
    a peg-out in needs_review (one of `RESOLUTIONS`), given at `resolved_at`."""

    request_id: str
    tx_hex: str
    input_indices: tuple[int, ...]
    amounts: tuple[int, ...]
    state: str
    attempt: int
    signatures_required: int
    signatures_collected: int = 0
    error: str | None = None
    signed_tx_hex: str | None = None
    txid: str | None = None
    failures: tuple[str, ...] = ()
    created_at: float = 0.0
    updated_at: float = 0.0
    revision: int = 1
    # The attempt series in progress (a `RetryPegout` starts a new one): the answers that
    # spent one of `bridge.signature_retries` in it, and when it began (0: at created_at).
    series_failures: int = 0
    series_started_at: float = 0.0
    replaces: str | None = None
    replaced_by: str | None = None
    payout_sat: int = 0
    fee_sat: int = 0
    confirmations: int = 0
    broadcast_at: float = 0.0
    resolution: str | None = None
    resolved_at: float = 0.0
    # The federation version whose coins it spends (`InitiatePegout.federation_version`,
    # or the version in force when it was accepted). None only in records from before the
    # field, which are signed under the version in force at each attempt.
    federation_version: int | None = None

    @property
    def series_start(self) -> float:
        return self.series_started_at or self.created_at


@dataclass(frozen=True)
class PeginRecord:
    """A peg-in notice, owned by the BridgeActor, re-sent until governance acknowledges it."""

    request_id: str
    btc_txid: str
    vout: int
    amount: int
    evm_address: str
    confirmations: int
    acknowledged: bool = False
    created_at: float = 0.0
    revision: int = 1


@dataclass(frozen=True)
class FederationRecord:
    """A federation version, owned by the ChainActor: `scheduled` until its
    activation height, then `applied`."""

    version: int
    update_type: str
    members: tuple[Member, ...]
    threshold: int
    effective_height: int
    witness_script: bytes
    address: str
    state: str
    request_id: str | None = None
    recorded_at: float = 0.0
    revision: int = 1
    script_type: str = "p2wsh"  # btc.federation.SCRIPT_TYPES

    @property
    def halted(self) -> bool:
        """While this version is in force, nothing is signed or broadcast."""
        return self.update_type == "emergency_halt"

    def federation(self) -> Federation[Member]:
        return Federation(self.version, self.members, self.threshold, halted=self.halted,
                          script_type=self.script_type)


@dataclass(frozen=True)
class ProposalRecord:
    proposal_id: str
    proposal_type: str
    data: bytes
    voting_deadline: int
    required_votes: int
    received_at: float = 0.0


@dataclass(frozen=True)
class ProposalSeen:
    """A stored proposal's id and when it came, without its data (up to 4 MB): what the
    ChainActor loads and keeps to answer a re-delivery. `ListProposals` reads the data."""

    proposal_id: str
    received_at: float


@dataclass(frozen=True)
class InboundHandled:
    """An inbound request id its owner has dealt with (applied or rejected), so a
    re-delivery is answered without being applied again."""

    request_id: str
    owner: str
    outcome: str
    at: float = 0.0


@dataclass(frozen=True)
class MetaValue:
    """A named value of an owner (the chain's height, its clock's genesis);
    replaced only by a higher revision."""

    key: str
    value: str
    revision: int = 1


@dataclass(frozen=True)
class Expired:
    """Delete an owner's rows of `table` older than `before` (seconds since the epoch):
    what has passed its retention (`chain.retention`). Only the tables that say when a
    row was written can be pruned: `inbound_handled` (by `at`, for `owner`) and
    `proposals` (by `received_at`)."""

    table: str
    owner: str
    before: float


@dataclass(frozen=True)
class Claim:
    """Reserve every outpoint (`<txid hex>:<vout>`, the txid as 64 lowercase hex digits and
    the vout in decimal without leading zeros, so that one coin has one spelling; or a
    token `<kind>:<text>`, reserved the same way) for the peg-out `request_id`, at `at`.
    Per outpoint, in order: a free one is reserved; one `request_id` holds already (a
    re-sent claim) or `shares_with` holds (the peg-out being replaced, which keeps it until
    a `Transfer`) is left as it is; one held by any other peg-out is a conflict, and the
    claim's whole write is undone (see `Held`).

    A claim is written only in a write that reports what it finds (`DurableStore.write`
    with `found`): a conflict no one hears of would be a payment made twice."""

    request_id: str
    outpoints: tuple[str, ...]
    shares_with: str | None = None
    at: float = 0.0


@dataclass(frozen=True)
class Held:
    """What a conflicting `Claim` found: the first of its outpoints, in the claim's order,
    that another peg-out holds, and that peg-out. Never written."""

    outpoint: str
    request_id: str


@dataclass(frozen=True)
class Release:
    """Free every outpoint `request_id` holds (it was paid for good, replaced, or will never
    be signed). Releasing what is not held changes nothing."""

    request_id: str


@dataclass(frozen=True)
class Transfer:
    """The outpoints among `outpoints` that `from_id` holds are held by `to_id` from now
    on: a replacement was broadcast, and the coins it shares with the peg-out it replaces
    are its own. The others are left as they are, so a second copy changes nothing."""

    from_id: str
    to_id: str
    outpoints: tuple[str, ...]


@dataclass(frozen=True)
class OutflowEntry:
    """What counts against the outflow window: the payouts of the peg-outs whose latest
    series began in one minute, summed, dated by the latest of them. Loaded only
    (`_Load.outflow_since`)."""

    at: float
    payout_sat: int


# The tables `Expired` may prune, and the column that says how old a row is.
PRUNABLE = {"inbound_handled": "at", "proposals": "received_at"}

# Meta keys are shared by the owners: the bridge's start with this prefix, and each owner
# loads only its own.
BRIDGE_META = "bridge."
# Where the bridge's next start reads the spool from (see `actors.bridge.spoolmarks`).
SPOOL_READ_FROM = BRIDGE_META + "spool_read_from"
# When an operator last reset the outflow window: peg-outs created before it no longer count.
OUTFLOW_RESET_AT = BRIDGE_META + "outflow_reset_at"

Record = (PegoutRecord | PeginRecord | FederationRecord | ProposalRecord | InboundHandled
          | MetaValue | Expired | Claim | Release | Transfer)
Loaded = Record | ProposalSeen | OutflowEntry  # what `_Load` may answer
# What a first write may find instead of writing: the stored record that holds its key,
# or the reservation that stands in the way of its claim.
Taken = PegoutRecord | PeginRecord | Held
