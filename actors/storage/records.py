"""What owners persist through the StorageActor, and what they load back at start.

Every record is keyed and carries a `revision` that its owner increases with
each change: a write is an upsert that only replaces an older revision. So a
write re-sent after a StorageActor restart, or overtaken by a newer one (Thespian
may reorder messages between two actors), never moves a row backwards.
"""

from __future__ import annotations

from dataclasses import dataclass

from actors.messages import Member, PegoutState
from btc.federation import Federation

# The open peg-outs are loaded at start; the finished ones stay in SQLite until asked for.
OPEN_PEGOUT_STATES = tuple(state.value for state in PegoutState if state.is_open)
FINISHED_PEGOUT_STATES = tuple(state.value for state in PegoutState if not state.is_open)


@dataclass(frozen=True)
class PegoutRecord:
    """A peg-out, owned by the BridgeActor. `attempt` numbers the governance
    request `<request_id>/<attempt>` in flight; `failures` holds each failed
    attempt's reason, oldest first."""

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

    @property
    def halted(self) -> bool:
        """While this version is in force, nothing is signed or broadcast."""
        return self.update_type == "emergency_halt"

    def federation(self) -> Federation[Member]:
        return Federation(self.version, self.members, self.threshold, halted=self.halted)


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


# The tables `Expired` may prune, and the column that says how old a row is.
PRUNABLE = {"inbound_handled": "at", "proposals": "received_at"}

# Meta keys are shared by the owners: the bridge's start with this prefix, and each owner
# loads only its own.
BRIDGE_META = "bridge."
# Where the bridge's next start reads the spool from (see `actors.bridge.spoolmarks`).
SPOOL_READ_FROM = BRIDGE_META + "spool_read_from"

Record = (PegoutRecord | PeginRecord | FederationRecord | ProposalRecord | InboundHandled
          | MetaValue | Expired)
Loaded = Record | ProposalSeen  # what `_Load` may answer
