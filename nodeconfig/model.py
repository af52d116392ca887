"""The node's configuration as frozen dataclasses: every key, with its default and checks.

Every default lives here and nowhere else. Field names are the YAML keys;
each field's checks sit next to its default (see ``rules.setting``). The
objects travel between actor processes by pickle, so every class is
module-level and enumerated values are plain strings.
"""

# setting() wraps dataclasses.field(); RUF009 does not know it is a field specifier.
# ruff: noqa: RUF009

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Literal, get_args

from nodeconfig.names import ACTOR_NAMES, ROOT, SUPERVISORS
from nodeconfig.rules import (
    at_least,
    at_most,
    at_most_chars,
    compressed_pubkey,
    env_name,
    fraction,
    host_port,
    http_url,
    no_whitespace,
    non_empty,
    non_negative,
    port_number,
    positive,
    private_ip,
    setting,
    trace_endpoint,
    tx_versions,
)

if TYPE_CHECKING:
    from btc.policy import SpendPolicy

Strategy = Literal["one_for_one", "one_for_all", "rest_for_one"]
Restart = Literal["permanent", "transient", "temporary"]
Overflow = Literal["drop_oldest", "drop_lowest_priority", "reject_new"]
BroadcasterKind = Literal["spool", "bitcoin_rpc"]
HeightSourceKind = Literal["clock", "evm_rpc"]
IntegrityCheck = Literal["full", "header"]
PushAcks = Literal["auto", "on", "off"]
AuthType = Literal["bearer", "api_key", "signature"]
Network = Literal["regtest", "testnet", "signet", "mainnet"]
ScriptType = Literal["p2wsh", "p2tr"]  # btc.federation.SCRIPT_TYPES
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
LogFormat = Literal["text", "json"]

STRATEGIES: tuple[str, ...] = get_args(Strategy)
RESTARTS: tuple[str, ...] = get_args(Restart)
OVERFLOW_POLICIES: tuple[str, ...] = get_args(Overflow)
NETWORKS: tuple[str, ...] = get_args(Network)
LOG_LEVELS: tuple[str, ...] = get_args(LogLevel)

# The names the tree gives its actors (nodeconfig.names is their one source).
SUPERVISOR_NAMES: tuple[str, ...] = (ROOT, *SUPERVISORS)
CHILD_NAMES: tuple[str, ...] = ACTOR_NAMES[1:]


@dataclass(frozen=True)
class NodeSection:
    id: str = setting(no_whitespace, default="alys-local-1")
    # The node's secp256k1 key (btc.nodekey), created on first start; null: `node.key`
    # beside the database (storage.path).
    key_file: str | None = setting(non_empty, default=None, path=True)


@dataclass(frozen=True)
class ActorSystemConfig:
    admin_port: int = setting(port_number, default=19500)
    # The only address actor sockets bind to (docs/security.md, "Actor sockets stay on loopback").
    host: str = setting(private_ip, default="127.0.0.1")


@dataclass(frozen=True)
class EndpointConfig:
    url: str = setting(host_port)
    priority: int = setting(default=100)


@dataclass(frozen=True)
class MockConfig:
    enabled: bool = setting(default=True)
    port: int = setting(port_number, default=50051)
    control_port: int = setting(port_number, default=50052)
    federation_seed: str = setting(non_empty, default="local-dev")
    # The local federation the mock signs for, and that the ChainActor starts
    # with when chain.federation is not given: the first federation_size keys
    # derived from the seed, federation_threshold of them needed per input.
    federation_size: int = setting(at_least(1), default=5)
    federation_threshold: int = setting(at_least(1), default=3)


@dataclass(frozen=True)
class AuthConfig:
    """How the node proves itself to governance (docs/protocol.md, conventions 2 and 9).

    ``bearer``: the token in ``token_file`` (or, not rotatable, the variable named by
    ``token_env``; neither: no credential). ``api_key``: the key in ``api_key_file``.
    ``signature``: the node key signs each registration. Files are re-read when they
    change, checked every ``check_interval_s``.
    """

    type: AuthType = setting(default="bearer")
    # The name of the variable holding the bearer token, never the token itself.
    token_env: str | None = setting(env_name, default=None)
    token_file: str | None = setting(non_empty, default=None, path=True)
    api_key_file: str | None = setting(non_empty, default=None, path=True)
    check_interval_s: float = setting(positive, default=2.0)

    def problem(self) -> tuple[str, str] | None:
        """The key (under `governance.auth`) and the problem of keys that do not go
        together, or None; nodeconfig.validate and the StreamActor's start check it."""
        if self.token_env and self.token_file:
            return "token_file", "give token_file or token_env, not both"
        if self.type == "api_key" and not self.api_key_file:
            return "api_key_file", "auth type api_key needs api_key_file"
        if self.type != "bearer" and (self.token_env or self.token_file):
            return "type", f"token_env and token_file are for type bearer, not {self.type}"
        if self.type != "api_key" and self.api_key_file:
            return "type", f"api_key_file is for type api_key, not {self.type}"
        return None


@dataclass(frozen=True)
class TlsConfig:
    enabled: bool = setting(default=False)
    ca_file: str | None = setting(non_empty, default=None, path=True)
    cert_file: str | None = setting(non_empty, default=None, path=True)
    key_file: str | None = setting(non_empty, default=None, path=True)


@dataclass(frozen=True)
class ReconnectConfig:
    """gRPC's connection-backoff defaults; ``max_attempts`` None retries forever."""

    initial_backoff_s: float = setting(positive, default=1.0)
    multiplier: float = setting(at_least(1), default=1.6)
    jitter: float = setting(fraction, default=0.2)
    max_backoff_s: float = setting(positive, default=120.0)
    max_attempts: int | None = setting(at_least(1), default=None)


@dataclass(frozen=True)
class CircuitBreakerConfig:
    failure_threshold: int = setting(at_least(1), default=5)
    reset_timeout_s: float = setting(positive, default=30.0)


@dataclass(frozen=True)
class OutboxConfig:
    capacity: int = setting(at_least(1), default=10000)
    overflow: Overflow = setting(default="drop_oldest")


@dataclass(frozen=True)
class RequestTimeoutsConfig:
    signature: float = setting(positive, default=60.0)
    pegin: float = setting(positive, default=30.0)
    status: float = setting(positive, default=30.0)


@dataclass(frozen=True)
class GovernanceLimitsConfig:
    """Caps on one frame from governance, checked before the node acts on it.

    Governance controls every byte the node reads; each cap is far above what
    an honest governance sends (configs/README.md says why each default) and
    low enough that the worst frame costs tens of milliseconds and of MB.
    """

    # Also gRPC's max_receive_message_length: a larger frame ends the call.
    max_frame_bytes: int = setting(at_least(4096), at_most(64 * 1024 * 1024),
                                   default=1024 * 1024)
    # Signatures in one SignatureResponse.
    max_witnesses: int = setting(at_least(1), default=4096)
    # Members in one FederationUpdate, inactive ones included.
    max_members: int = setting(at_least(1), default=64)
    # Entries of a FederationUpdate's config.parameters, and the UTF-8 bytes of
    # each key and each value.
    max_parameters: int = setting(at_least(1), default=64)
    max_parameter_bytes: int = setting(at_least(128), default=1024)
    # A ProposalNotification's proposal_data.
    max_proposal_data_bytes: int = setting(at_least(1), default=64 * 1024)


@dataclass(frozen=True)
class GovernanceConfig:
    endpoints: tuple[EndpointConfig, ...] = setting(
        non_empty, default=(EndpointConfig("127.0.0.1:50051", 100),)
    )
    mock: MockConfig = setting(factory=MockConfig)
    auth: AuthConfig = setting(factory=AuthConfig)
    tls: TlsConfig = setting(factory=TlsConfig)
    heartbeat_interval_s: float = setting(positive, default=5.0)
    heartbeat_timeout_s: float = setting(positive, default=15.0)
    status_interval_s: float = setting(positive, default=30.0)
    reconnect: ReconnectConfig = setting(factory=ReconnectConfig)
    circuit_breaker: CircuitBreakerConfig = setting(factory=CircuitBreakerConfig)
    outbox: OutboxConfig = setting(factory=OutboxConfig)
    request_timeout_s: RequestTimeoutsConfig = setting(factory=RequestTimeoutsConfig)
    # The longest `retry_after` honoured: a larger one from governance is cut to this.
    max_retry_after_s: float = setting(positive, default=300.0)
    limits: GovernanceLimitsConfig = setting(factory=GovernanceLimitsConfig)
    # What the stream's reader may hold decoded and not yet handled, counted as the raw
    # frames' sizes; when it is full the reader waits (gRPC flow control slows
    # governance). A single frame larger than this still goes through, alone.
    inbox_max_bytes: int = setting(at_least(65_536), default=32 * 1024 * 1024)
    # Convention 8: acknowledge each push once it is handled. `auto` asks governance
    # (GetCapabilities, feature `push-ack`) on every connect, since a governance older
    # than the convention may refuse a request without a payload.
    push_acks: PushAcks = setting(default="auto")
    # The production profile (mock disabled) requires governance.tls; this accepts
    # plaintext instead, explicitly. Mainnet refuses it.
    allow_plaintext: bool = setting(default=False)


@dataclass(frozen=True)
class HealthConfig:
    ping_interval_s: float = setting(positive, default=1.0)
    ping_timeout_s: float = setting(positive, default=5.0)


@dataclass(frozen=True)
class BackoffConfig:
    """Delay before restarting a child; the first restart is immediate by default."""

    initial_s: float = setting(non_negative, default=0.0)
    multiplier: float = setting(at_least(1), default=2.0)
    max_s: float = setting(non_negative, default=5.0)
    jitter: float = setting(fraction, default=0.2)
    reset_after_s: float = setting(positive, default=30.0)


@dataclass(frozen=True)
class SupervisorFlags:
    """OTP supervisor flags: more than ``intensity`` restarts in ``period_s`` escalates."""

    strategy: Strategy = setting(default="one_for_one")
    intensity: int = setting(at_least(0), default=10)
    period_s: float = setting(positive, default=60.0)


@dataclass(frozen=True)
class ChildConfig:
    restart: Restart = setting(default="permanent")
    # 0 kills the child at once, like OTP's brutal_kill.
    shutdown_s: float = setting(non_negative, default=5.0)


def default_supervisors() -> dict[str, SupervisorFlags]:
    return {
        "root": SupervisorFlags(intensity=3),
        "storage_supervisor": SupervisorFlags(),
        "system_supervisor": SupervisorFlags(),
    }


@dataclass(frozen=True)
class SupervisionConfig:
    health: HealthConfig = setting(factory=HealthConfig)
    backoff: BackoffConfig = setting(factory=BackoffConfig)
    supervisors: dict[str, SupervisorFlags] = setting(
        factory=default_supervisors, names=SUPERVISOR_NAMES
    )
    children: dict[str, ChildConfig] = setting(factory=dict, names=CHILD_NAMES)

    def flags_for(self, name: str) -> SupervisorFlags:
        """The flags of a known supervisor; KeyError for a name the schema lacks."""
        try:
            return self.supervisors[name]
        except KeyError:
            known = ", ".join(SUPERVISOR_NAMES)
            raise KeyError(f"unknown supervisor {name!r}; known: {known}") from None

    def child(self, name: str) -> ChildConfig:
        """The child's settings, or the defaults when the config does not mention it."""
        return self.children.get(name, ChildConfig())


@dataclass(frozen=True)
class BroadcasterConfig:
    kind: BroadcasterKind = setting(default="spool")
    spool_path: str = setting(non_empty, default="data/broadcast.spool", path=True)
    rpc_url: str | None = setting(http_url, default=None)
    rpc_user_env: str | None = setting(env_name, default=None)
    rpc_password_env: str | None = setting(env_name, default=None)


@dataclass(frozen=True)
class BridgePolicyConfig:
    """The peg-out spending policy: a peg-out that breaks it is refused before it is
    stored or signed. The fields and defaults are `btc.policy.SpendPolicy`'s, which says
    why each default; configs/README.md says what each rule refuses."""

    max_outputs: int = setting(at_least(1), default=100)
    min_fee_rate_sat_vb: float = setting(positive, default=1.0)
    max_fee_rate_sat_vb: float = setting(positive, default=500.0)
    max_fee_sat: int = setting(at_least(1), default=1_000_000)
    # Paid to others than the federation, per peg-out: 10 BTC.
    max_payout_sat: int = setting(at_least(1), default=1_000_000_000)
    versions: tuple[int, ...] = setting(tx_versions, default=(2,))
    # 0: no lock time. Heights below 500,000,000, Unix times from there.
    max_locktime: int = setting(non_negative, at_most(0xFFFF_FFFF), default=0)
    max_change_outputs: int = setting(at_least(0), default=1)
    dust_relay_fee_sat_kvb: int = setting(non_negative, default=3000)

    def spend_policy(self) -> SpendPolicy:
        # Imported here: btc.policy loads embit, which reading a config does not need.
        from btc.policy import SpendPolicy

        return SpendPolicy(**{spec.name: getattr(self, spec.name) for spec in fields(self)})


@dataclass(frozen=True)
class OutflowConfig:
    """The outflow circuit breaker: at most `max_sat` paid out in any `window_s`."""

    window_s: float = setting(positive, default=86_400.0)
    # 50 BTC a day: five peg-outs at bridge.policy.max_payout_sat.
    max_sat: int = setting(at_least(1), default=5_000_000_000)


@dataclass(frozen=True)
class BridgeConfig:
    broadcaster: BroadcasterConfig = setting(factory=BroadcasterConfig)
    max_pegout_sat: int = setting(at_least(1), default=1_000_000_000)
    # Final bad answers (FAILED, signatures that do not verify) a peg-out may get per series.
    signature_retries: int = setting(at_least(0), default=3)
    # How long a series of attempts may take: transient failures (rate limited,
    # unavailable, timeouts) cost time, not retries, until this has passed.
    signature_deadline_s: float = setting(positive, default=3600.0)
    # The bridge's own clock per attempt: no answer in this time ends the attempt.
    attempt_timeout_s: float = setting(positive, default=90.0)
    # The pause before asking again after a transient failure (not after a timeout).
    transient_retry_s: float = setting(non_negative, default=5.0)
    min_pegin_confirmations: int = setting(at_least(0), default=6)
    policy: BridgePolicyConfig = setting(factory=BridgePolicyConfig)
    outflow: OutflowConfig = setting(factory=OutflowConfig)
    # A broadcast peg-out is final once its transaction has this many confirmations.
    confirmations: int = setting(at_least(1), default=6)
    # How often the bridge asks Bitcoin Core about the transactions it broadcast.
    follow_interval_s: float = setting(positive, default=30.0)


@dataclass(frozen=True)
class HeightSourceConfig:
    kind: HeightSourceKind = setting(default="clock")
    slot_s: float = setting(positive, default=2.0)
    rpc_url: str | None = setting(http_url, default=None)


@dataclass(frozen=True)
class FederationMemberConfig:
    member_id: str = setting(non_empty)
    # Lower-cased so comparisons with bytes.hex() and duplicate checks agree.
    public_key: str = setting(compressed_pubkey, normalize=str.lower)


@dataclass(frozen=True)
class FederationConfig:
    threshold: int = setting(at_least(1), default=2)
    members: tuple[FederationMemberConfig, ...] = setting(non_empty, default=())
    # p2wsh: OP_CHECKMULTISIG and ECDSA; p2tr: a tapscript multisig leaf and Schnorr
    # (docs/federations.md). Updates may change it (convention 10).
    script_type: ScriptType = setting(default="p2wsh")


@dataclass(frozen=True)
class RetentionConfig:
    """How long the ChainActor keeps what it has handled, in SQLite and in memory; older
    rows are pruned every `prune_interval_s`. Governance sends a push again only while it
    is unacknowledged (minutes at most), so days are far more than a re-delivery needs."""

    # Handled inbound request ids (federation updates), with each outcome or rejection.
    handled_ids_s: float = setting(positive, default=30 * 86_400.0)
    # Received proposals (ListProposals lists those within it).
    proposals_s: float = setting(positive, default=30 * 86_400.0)
    prune_interval_s: float = setting(positive, default=3600.0)


@dataclass(frozen=True)
class ChainConfig:
    network: Network = setting(default="regtest")
    height_source: HeightSourceConfig = setting(factory=HeightSourceConfig)
    # When set, federation updates must carry a valid update_signature.
    governance_pubkey: str | None = setting(compressed_pubkey, default=None, normalize=str.lower)
    # None is allowed only while the mock derives a federation from its seed.
    federation: FederationConfig | None = setting(default=None)
    retention: RetentionConfig = setting(factory=RetentionConfig)
    # Whether `AdvanceHeight` from outside the tree is taken; None: only in local mode
    # (the mock enabled), where tests and operators set heights by hand.
    allow_advance_height: bool | None = setting(default=None)


@dataclass(frozen=True)
class MetricsConfig:
    host: str = setting(no_whitespace, default="127.0.0.1")
    port: int = setting(port_number, default=9464)
    # /metrics names every actor, pid and counter: a host other than loopback needs this.
    allow_remote: bool = setting(default=False)


@dataclass(frozen=True)
class LogRateLimitConfig:
    """Per kind of WARNING-or-worse line (logger, level, message template): at most
    ``lines`` in ``window_s``; the rest are counted in one line (runtime/lograte.py)."""

    lines: int = setting(at_least(1), default=10)
    window_s: float = setting(positive, default=60.0)


@dataclass(frozen=True)
class LoggingConfig:
    file: str = setting(non_empty, default="logs/node.log", path=True)
    level: LogLevel = setting(default="INFO")
    # text: one line for people (the format of every release so far); json: one JSON
    # object per line for machines (runtime/logline.py lists the fields).
    format: LogFormat = setting(default="text")
    rate_limit: LogRateLimitConfig = setting(factory=LogRateLimitConfig)


@dataclass(frozen=True)
class TracingConfig:
    """OpenTelemetry traces (runtime/tracing.py), off while `endpoint` is null."""

    # Where spans go, by OTLP over HTTP (protobuf): the full URL of the collector's
    # traces path. Plain http only to loopback: spans name peg-outs and amounts.
    endpoint: str | None = setting(trace_endpoint, default=None)
    # The share of new traces recorded; a trace begun elsewhere follows its parent.
    sample_ratio: float = setting(fraction, default=1.0)
    service_name: str = setting(no_whitespace, at_most_chars(64), default="alys-node")


@dataclass(frozen=True)
class StorageConfig:
    path: str = setting(non_empty, default="data/node.sqlite3", path=True)
    # A quota on the database file; a write past it fails like a full disk
    # (nothing is written, the owner is told). null: only the disk limits it.
    max_size_mb: float | None = setting(positive, default=None)
    # What `scripts/start` checks before any actor starts: `header` (the default) that
    # the file is a SQLite database of a schema this node knows, so start-up does not
    # grow with history; `full` also reads every page (PRAGMA quick_check: about two
    # seconds per million peg-outs). A corrupt page met later is fatal to the
    # StorageActor either way; the StorageActor itself checks the header.
    integrity_check: IntegrityCheck = setting(default="header")


@dataclass(frozen=True)
class NodeConfig:
    node: NodeSection = setting(factory=NodeSection)
    actor_system: ActorSystemConfig = setting(factory=ActorSystemConfig)
    governance: GovernanceConfig = setting(factory=GovernanceConfig)
    supervision: SupervisionConfig = setting(factory=SupervisionConfig)
    bridge: BridgeConfig = setting(factory=BridgeConfig)
    chain: ChainConfig = setting(factory=ChainConfig)
    metrics: MetricsConfig = setting(factory=MetricsConfig)
    logging: LoggingConfig = setting(factory=LoggingConfig)
    tracing: TracingConfig = setting(factory=TracingConfig)
    storage: StorageConfig = setting(factory=StorageConfig)
    # The absolute path of the file loaded; not a key of the file.
    source: str = setting(default="", internal=True)
