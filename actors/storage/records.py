"""What owners persist through the StorageActor, and what they load back at start.

Every record is keyed and carries a `revision` that its owner increases with
each change: a write is an upsert that only replaces an older revision. So a
write re-sent after a StorageActor restart, or overtaken by a newer one (Thespian
may reorder messages between two actors), never moves a row backwards.
"""

from __future__ import annotations

from dataclasses import dataclass

from actors.messages import Member, PegoutState

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
class FinishedPegouts:
    """The request ids of the bridge's broadcast and failed peg-outs. The BridgeActor
    loads these instead of the peg-outs themselves, which stay in SQLite and are read
    when asked for: a node that has handled millions does not hold them all."""

    request_ids: tuple[str, ...]


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


@dataclass(frozen=True)
class ProposalRecord:
    proposal_id: str
    proposal_type: str
    data: bytes
    voting_deadline: int
    required_votes: int
    received_at: float = 0.0


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


Record = PegoutRecord | PeginRecord | FederationRecord | ProposalRecord | InboundHandled | MetaValue
Loaded = Record | FinishedPegouts  # what `_Load` may answer: every record, and the finished ids
