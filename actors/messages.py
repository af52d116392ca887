"""The catalogue of messages between the node's actors and its outside clients.

Every message is a frozen dataclass at module level: Thespian pickles messages
between processes, and external clients (tools, tests) import this module to
talk to a running node through the ActorSystem API. Commands are imperative,
events past tense, replies name what they carry. Messages that only the node's
own supervision uses start with an underscore; they are not a public contract.

The public messages keep their module and names (Thespian pickles them by name);
fields are added only with defaults, so that older senders keep working.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only named in annotations: the catalogue imports nothing at run time
    from thespian.actors import ActorAddress

# --------------------------------------------------------------------------
# Shared envelope


@dataclass(frozen=True, repr=False)
class Batch:
    """Many messages in one Thespian send: each item is handled as if sent alone."""

    items: tuple[object, ...]

    def __repr__(self) -> str:
        # Thespian formats every message it sends for its debug log, logging or
        # not: the repr of thousands of items made that a third of a busy
        # sender's time. Keep it constant-time.
        first = type(self.items[0]).__name__ if self.items else "-"
        return f"Batch({len(self.items)} items, first {first})"


# --------------------------------------------------------------------------
# Node and supervision (public)


@dataclass(frozen=True)
class Ping:
    """Liveness probe; every actor answers with a `Pong`."""

    nonce: int = 0


@dataclass(frozen=True)
class Pong:
    nonce: int
    name: str
    pid: int


@dataclass(frozen=True)
class NodeStatus:
    """Ask the root for the state of every actor and of the governance stream."""


@dataclass(frozen=True)
class ActorInfo:
    """One actor as its supervisor sees it.

    `state` is one of `starting`, `running`, `restarting`, `stopped`, `failed`;
    `supervisor` is the name of the supervising actor (`launcher` for the root).
    """

    name: str
    pid: int | None
    state: str
    restarts: int
    uptime_s: float
    supervisor: str


@dataclass(frozen=True)
class ConnectionStatus:
    """The governance stream's connection, as the StreamActor reports it."""

    state: str
    endpoint: str | None = None
    connected_since: float | None = None
    last_heartbeat_ack: float | None = None
    messages_sent: int = 0
    messages_received: int = 0
    buffered: int = 0
    pending: int = 0
    reconnects: int = 0
    circuit: str = "closed"
    unhandled: int = 0  # routed to the bridge or chain and not yet confirmed `Handled`
    # Why the stream is in `state` (the reason of its last change), e.g. that reconnect
    # attempts are exhausted and it keeps trying at the longest backoff.
    reason: str = ""
    last_error: str | None = None  # why the last connection failed; None while it is up


@dataclass(frozen=True)
class NodeStatusReport:
    node_id: str
    actors: tuple[ActorInfo, ...]
    stream: ConnectionStatus | None


@dataclass(frozen=True)
class ReloadConfig:
    """Re-read the node's config file (outside -> root; SIGHUP to the launcher does the
    same). All or nothing: if the file is invalid, or a changed key needs a restart, nothing
    is applied. Credential files are re-read either way. Answered `ConfigReloaded`."""


@dataclass(frozen=True)
class ConfigReloaded:
    """`applied`: the changed keys now in force (empty: the file says what runs already);
    `restart_needed`: changed keys that only a restart applies; `refused`: why nothing of
    the reload was applied (the loader's error, or those keys), None when it was."""

    source: str
    applied: tuple[str, ...] = ()
    restart_needed: tuple[str, ...] = ()
    refused: str | None = None


@dataclass(frozen=True)
class Lookup:
    """Ask the root for the current address of an actor, by name."""

    name: str


@dataclass(frozen=True)
class ActorRef:
    name: str
    address: ActorAddress | None  # None when the name is unknown


# --------------------------------------------------------------------------
# Stream (public): requests to governance, and what governance sends back


@dataclass(frozen=True)
class GetConnectionStatus:
    """Ask the StreamActor for its `ConnectionStatus`."""


@dataclass(frozen=True)
class RequestSignatures:
    """Ask governance to sign a transaction's inputs (bridge -> stream).

    `tx_type` is one of `pegin`, `pegout`, `federation_change`, `emergency`.
    The answer comes later as `ApplySignatures` (to the bridge), or as
    `RequestTimedOut` / `GovernanceError` to the sender. The stream confirms taking
    it with `RequestQueued` unless `notify_queued` is false (the bridge: it watches
    its own attempts, and one message fewer per peg-out is a hop's CPU saved).
    """

    request_id: str
    tx_hex: str
    input_indices: tuple[int, ...]
    amounts: tuple[int, ...]
    tx_type: str = "pegout"
    required_signatures: int = 1
    timeout_s: float | None = None
    # The span this belongs to, as W3C traceparent text, while tracing is on (runtime/tracing.py).
    traceparent: str | None = None
    notify_queued: bool = True


@dataclass(frozen=True)
class NotifyPegin:
    """Tell governance about a confirmed peg-in (bridge -> stream; outside -> bridge)."""

    request_id: str
    btc_txid: str
    vout: int
    amount: int
    evm_address: str
    confirmations: int


@dataclass(frozen=True)
class RequestQueued:
    """The stream accepted the request: it is sent, or waits in the outbox."""

    request_id: str


@dataclass(frozen=True)
class RequestRejected:
    """The stream did not take the request, or dropped it from its outbox. `kind` is the
    request's (`signature`, `pegin`, `status`): ids are unique within a kind only."""

    request_id: str
    reason: str
    kind: str = ""


@dataclass(frozen=True)
class RequestTimedOut:
    """Governance did not answer within the request type's timeout."""

    request_id: str
    kind: str = ""


@dataclass(frozen=True)
class GovernanceError:
    """Governance answered the request with an `ErrorResponse`."""

    request_id: str
    code: str
    message: str
    retry_after_s: float | None = None
    kind: str = ""  # the answered request's, as for `RequestRejected`


@dataclass(frozen=True)
class Delivered:
    """Governance acknowledged a peg-in notice (convention 7)."""

    request_id: str


@dataclass(frozen=True)
class Witness:
    signature: bytes
    public_key: bytes
    sig_type: str = "ecdsa"


@dataclass(frozen=True)
class ApplySignatures:
    """Governance's answer to `RequestSignatures` (stream -> bridge); answer `Handled`.

    `status` is one of `pending`, `partial`, `complete`, `failed`, `timeout`.
    """

    request_id: str
    status: str
    signatures: tuple[Witness, ...] = ()
    failure_reason: str | None = None
    # The span this belongs to, as W3C traceparent text, while tracing is on (runtime/tracing.py).
    traceparent: str | None = None


@dataclass(frozen=True)
class Member:
    member_id: str
    public_key: bytes
    weight: int = 1
    active: bool = True


@dataclass(frozen=True)
class UpdateFederation:
    """A federation update pushed by governance (stream -> chain); answer `Handled`.

    `update_type` is one of `member_add`, `member_remove`, `config_change`,
    `emergency_halt`; `members` is always the full new set (convention 5).
    `script_type` (`p2wsh` or `p2tr`; None: the latest version's) and `p2tr_address`
    are convention 10's.
    """

    request_id: str
    update_type: str
    version: int
    members: tuple[Member, ...]
    threshold: int
    effective_height: int
    p2wsh_address: str | None
    update_signature: bytes
    # SHA-256 of the update as received, serialized deterministically with
    # `update_signature` empty: what governance signed (convention 5). The
    # stream computes it from the wire bytes; b"" when there were none.
    update_digest: bytes = b""
    script_type: str | None = None
    p2tr_address: str | None = None
    # The span this belongs to, as W3C traceparent text, while tracing is on (runtime/tracing.py).
    traceparent: str | None = None


@dataclass(frozen=True)
class ProposalReceived:
    """A governance proposal (stream -> chain); answer `Handled`."""

    proposal_id: str
    proposal_type: str
    data: bytes
    voting_deadline: int
    required_votes: int
    # The span this belongs to, as W3C traceparent text, while tracing is on (runtime/tracing.py).
    traceparent: str | None = None


@dataclass(frozen=True)
class Handled:
    """The target applied (or rejected for good) what the stream routed to it."""

    request_id: str


@dataclass(frozen=True)
class HeightObserved:
    """The chain's current block height (chain -> stream, for status updates)."""

    height: int


# --------------------------------------------------------------------------
# Bridge (public): peg-outs and peg-in notices


@dataclass(frozen=True)
class InitiatePegout:
    """Have governance sign an unsigned peg-out transaction, then broadcast it (outside -> bridge).

    `tx_hex` spends coins of the federation in force (P2WSH outputs): `input_indices` names
    every input, and `amounts` the value in satoshi of the coin each of them spends. The
    bridge checks it against its spending policy (`bridge.policy`) before anything is stored
    or signed, and reserves each coin for this peg-out alone.

    `replaces`: the request id of a peg-out this one replaces (to bump its fee, or because
    it is stuck). The replacement must spend at least one coin of the original, so that at
    most one of them can confirm; once it is broadcast, the original becomes `replaced`.

    `federation_version`: the federation version whose coins every input spends (None: the
    version in force when the peg-out is accepted). The peg-out keeps that version: after a
    switch, coins still at an earlier federation's address are
    signed under that version's script and members, as long as it is one of the last
    `btc.federation.SPENDABLE_VERSIONS` applied; an unknown or retired version is refused.
    """

    request_id: str
    tx_hex: str
    input_indices: tuple[int, ...]
    amounts: tuple[int, ...]
    replaces: str | None = None
    federation_version: int | None = None


@dataclass(frozen=True)
class RetryPegout:
    """Start a new attempt series for a `failed` peg-out that was never signed, under the
    same request id (outside -> bridge). Answered `PegoutAccepted` when the new series has
    begun, `PegoutRejected` with the reason otherwise (unknown id, not failed, halted, or
    signed once: a signed transaction may have been paid, so it is never signed again)."""

    request_id: str


@dataclass(frozen=True)
class ResolvePegout:
    """An operator's verdict on a `needs_review` peg-out (outside -> bridge): `outcome` is
    `paid` (it becomes `confirmed`) or `not_paid` (`failed`; its coins are released unless
    it was signed). Recorded with the time; answered `PegoutResolved` or `PegoutRejected`."""

    request_id: str
    outcome: str


PAID = "paid"
NOT_PAID = "not_paid"
RESOLUTIONS = (PAID, NOT_PAID)  # what a `ResolvePegout.outcome` may be


@dataclass(frozen=True)
class PegoutResolved:
    request_id: str
    state: str


@dataclass(frozen=True)
class ResetOutflowWindow:
    """Lift the outflow circuit breaker (outside -> bridge): what was paid out before now no
    longer counts against `bridge.outflow.max_sat`. Answered `OutflowReset`."""

    reason: str = ""


@dataclass(frozen=True)
class OutflowReset:
    at: float
    previously_used_sat: int


@dataclass(frozen=True)
class DrainPegouts:
    """Stop accepting new peg-outs, for maintenance (outside -> bridge): from now on an
    `InitiatePegout` or a `RetryPegout` is refused (`draining`, with `reason` and since
    when); peg-outs accepted before go on to completion. Stored: a restarted bridge or node
    stays drained until `UndrainPegouts`. Answered `DrainState` (a second drain keeps the
    first one's time and takes the new reason)."""

    reason: str = ""


@dataclass(frozen=True)
class UndrainPegouts:
    """Accept new peg-outs again (outside -> bridge). Answered `DrainState`, once stored."""


@dataclass(frozen=True)
class GetDrainState:
    """Ask the bridge whether it is drained. Answered `DrainState`."""


@dataclass(frozen=True)
class DrainState:
    """Whether the bridge accepts new peg-outs. `since` is when it was drained (Unix
    seconds); `open_pegouts` how many accepted peg-outs it is still finishing (awaiting
    signatures or signed, not yet handed over); `refused` why a `DrainPegouts` was not
    taken (its reason unusable), None when it was."""

    drained: bool
    reason: str = ""
    since: float | None = None
    open_pegouts: int = 0
    refused: str | None = None


@dataclass(frozen=True)
class PegoutAccepted:
    """Stored as `awaiting_signatures`; signatures are being requested."""

    request_id: str


@dataclass(frozen=True)
class PegoutRejected:
    """`kind` names the refusal for machines (`draining`, `halted`, `outflow`, `duplicate`,
    `unknown`, ...: the `reason` label of `alys_pegouts_rejected_total`); "" from an older
    bridge. Not compared: two refusals of one request for one reason are equal."""

    request_id: str
    reason: str
    kind: str = field(default="", compare=False)


@dataclass(frozen=True)
class GetPegoutStatus:
    request_id: str


class PegoutState(StrEnum):
    """A peg-out's states, the one place they are named. A `PegoutStatus.state` holds one of
    these values as a plain string (or `unknown` for an id the bridge has never seen).

        awaiting_signatures -> signed -> broadcast -> confirmed
        awaiting_signatures -> failed   (no usable signatures: retries or deadline spent)
        signed -> failed                (the network refused it, for a reason that proves
                                         it was not paid)
        signed | broadcast -> needs_review  (the network says its coins are spent, and the
                                         node cannot tell whether by this transaction)
        broadcast -> confirmed          (`bridge.confirmations` deep, with `bitcoin_rpc`; a
                                         reorg before that sets its confirmations back)
        signed | broadcast | needs_review | failed (signed) -> replaced
                                        (a replacement that spends its coins was broadcast)
        needs_review -> confirmed | failed  (`ResolvePegout`: paid, or not paid)
        failed -> awaiting_signatures   (`RetryPegout`, only if it was never signed)

    Final: `confirmed`, `failed`, `replaced`. Parked: `needs_review`, until an operator
    decides. With the spool broadcaster a peg-out rests at `broadcast`: the spool is a
    hand-off, and nothing follows the transaction after it.
    """

    AWAITING_SIGNATURES = "awaiting_signatures"
    SIGNED = "signed"
    BROADCAST = "broadcast"
    CONFIRMED = "confirmed"
    FAILED = "failed"
    REPLACED = "replaced"
    NEEDS_REVIEW = "needs_review"

    @property
    def is_open(self) -> bool:
        """Still the bridge's work to sign or hand over (kept in its memory)."""
        return self in (PegoutState.AWAITING_SIGNATURES, PegoutState.SIGNED)

    @property
    def is_final(self) -> bool:
        return self in (PegoutState.CONFIRMED, PegoutState.FAILED, PegoutState.REPLACED)


UNKNOWN_PEGOUT = "unknown"  # the `state` of a `PegoutStatus` for an id the bridge never saw


@dataclass(frozen=True)
class PegoutStatus:
    """A peg-out's state: a `PegoutState` value, or `unknown`. `confirmations` is the
    depth of its transaction when the bridge last looked (with `bitcoin_rpc`);
    `resolution` is an operator's `ResolvePegout` outcome, with `resolved_at`."""

    request_id: str
    state: str
    txid: str | None = None
    signatures_collected: int = 0
    signatures_required: int = 0
    error: str | None = None
    signed_tx_hex: str | None = None
    attempts: int = 0
    fee_sat: int = 0
    payout_sat: int = 0
    confirmations: int = 0
    replaces: str | None = None
    replaced_by: str | None = None
    resolution: str | None = None
    resolved_at: float = 0.0


@dataclass(frozen=True)
class ListPegouts:
    """The newest `limit` peg-outs (1 to `MAX_PEGOUTS_LISTED`), or of those in `state`,
    oldest first; answered `PegoutList`. Finished ones are read back from storage."""

    state: str | None = None
    limit: int = 1000


MAX_PEGOUTS_LISTED = 10_000


@dataclass(frozen=True, repr=False)
class PegoutList:
    """`items` oldest first; `error` why storage could not be read (the open peg-outs in
    memory are still listed), or why the request was refused (then no items)."""

    items: tuple[PegoutStatus, ...]
    error: str | None = None

    def __repr__(self) -> str:  # constant-time: Thespian formats every message it sends
        return f"PegoutList({len(self.items)} items, error={self.error!r})"


@dataclass(frozen=True)
class PeginAccepted:
    request_id: str


@dataclass(frozen=True)
class PeginRejected:
    request_id: str
    reason: str


@dataclass(frozen=True)
class PegoutCompleted:
    """A peg-out was broadcast (bridge -> chain); answer `Handled`."""

    request_id: str
    txid: str


# --------------------------------------------------------------------------
# Chain (public): the federation, the height and proposals


@dataclass(frozen=True)
class FederationChanged:
    """The federation now in force (chain -> bridge); answer `Handled`.

    `halted` is true from an `emergency_halt` update until a later version
    lifts it: no peg-out is signed or broadcast meanwhile. `script_type` is `p2wsh` or
    `p2tr`; `earlier` the applied versions before it whose coins peg-outs may still
    spend (`btc.federation.SPENDABLE_VERSIONS`), newest first, each without `earlier`.
    """

    version: int
    members: tuple[Member, ...]
    threshold: int
    witness_script: bytes
    address: str
    halted: bool = False
    script_type: str = "p2wsh"
    earlier: tuple[FederationChanged, ...] = ()


@dataclass(frozen=True)
class GetChainStatus:
    pass


@dataclass(frozen=True)
class ChainStatus:
    height: int
    federation_version: int | None
    federation_address: str | None
    threshold: int | None
    members: tuple[str, ...]  # hex public keys of the active members, sorted
    scheduled: tuple[tuple[int, int], ...]  # (version, activation height)
    halted: bool = False
    refused: str | None = None  # the answer to an AdvanceHeight not taken: why
    script_type: str | None = None  # the federation in force's: p2wsh or p2tr


@dataclass(frozen=True)
class ListFederations:
    """Ask the chain for the federation versions it recorded, oldest first, read back
    from storage (outside -> chain): the newest `limit` of them (1 to
    `MAX_FEDERATIONS_LISTED`). Answered `FederationHistory`."""

    limit: int = 100


MAX_FEDERATIONS_LISTED = 10_000


@dataclass(frozen=True)
class FederationVersion:
    """One recorded federation version. `state` is `scheduled` (until its activation
    height) or `applied`; `members` are the hex public keys of its active members;
    `script_type` is `p2wsh` or `p2tr` (docs/federations.md), and `address` is of that type."""

    version: int
    update_type: str
    threshold: int
    members: tuple[str, ...]
    address: str
    effective_height: int
    state: str
    recorded_at: float
    halted: bool = False
    script_type: str = "p2wsh"


@dataclass(frozen=True, repr=False)
class FederationHistory:
    """`items` oldest first; `error` why storage could not be read (then no items), or
    why the request was refused."""

    items: tuple[FederationVersion, ...]
    error: str | None = None

    def __repr__(self) -> str:  # constant-time: Thespian formats every message it sends
        return f"FederationHistory({len(self.items)} items, error={self.error!r})"


@dataclass(frozen=True)
class AdvanceHeight:
    """Set the block height (tests, operators); answered with `ChainStatus`. Taken only
    where `chain.allow_advance_height` allows it (unset: in local mode only); otherwise
    the status says `refused` and the height stays."""

    height: int


@dataclass(frozen=True)
class ListProposals:
    pass


@dataclass(frozen=True)
class Proposal:
    proposal_id: str
    proposal_type: str
    data: bytes
    voting_deadline: int
    required_votes: int
    received_at: float


@dataclass(frozen=True)
class ProposalList:
    items: tuple[Proposal, ...]

