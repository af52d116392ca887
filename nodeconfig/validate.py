"""Checks that involve more than one key; single values are checked where read."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable

from nodeconfig.errors import ConfigError
from nodeconfig.model import NodeConfig


def validate(config: NodeConfig) -> None:
    """Raise ConfigError for the first combination of values the node cannot run with."""
    checks: tuple[Callable[[NodeConfig], None], ...] = (
        _ports,
        _heartbeat,
        _endpoints,
        _tls,
        _backoff_bounds,
        _broadcaster,
        _signature_clock,
        _spending,
        _chain,
        _federation,
        _governance_limits,
        _auth,
        _production,
        _metrics_host,
    )
    for check in checks:
        check(config)


def _fail(config: NodeConfig, key: str, problem: str) -> ConfigError:
    return ConfigError(config.source, key, problem)


def _ports(config: NodeConfig) -> None:
    users = [
        ("actor_system.admin_port", config.actor_system.admin_port),
        ("metrics.port", config.metrics.port),
    ]
    mock = config.governance.mock
    # The mock's ports matter only when the launcher starts it.
    if mock.enabled:
        users += [
            ("governance.mock.port", mock.port),
            ("governance.mock.control_port", mock.control_port),
        ]
    owners: dict[int, str] = {}
    for key, port in users:
        if port in owners:
            raise _fail(config, key, f"port {port} is already used by {owners[port]}")
        owners[port] = key


def _heartbeat(config: NodeConfig) -> None:
    governance = config.governance
    if governance.heartbeat_timeout_s <= governance.heartbeat_interval_s:
        raise _fail(
            config,
            "governance.heartbeat_timeout_s",
            f"must be greater than heartbeat_interval_s ({governance.heartbeat_interval_s}), "
            f"got {governance.heartbeat_timeout_s}",
        )


def _endpoints(config: NodeConfig) -> None:
    endpoints = config.governance.endpoints
    urls = ((f"governance.endpoints[{i}].url", e.url) for i, e in enumerate(endpoints))
    _reject_duplicates(config, urls, "endpoint")


def _tls(config: NodeConfig) -> None:
    tls = config.governance.tls
    if tls.enabled and tls.ca_file is None:
        raise _fail(config, "governance.tls.ca_file", "required when tls.enabled is true")
    if tls.cert_file is not None and tls.key_file is None:
        raise _fail(config, "governance.tls.key_file", "required when cert_file is set")
    if tls.key_file is not None and tls.cert_file is None:
        raise _fail(config, "governance.tls.cert_file", "required when key_file is set")


def _backoff_bounds(config: NodeConfig) -> None:
    reconnect = config.governance.reconnect
    if reconnect.max_backoff_s < reconnect.initial_backoff_s:
        raise _fail(
            config,
            "governance.reconnect.max_backoff_s",
            f"must be at least initial_backoff_s ({reconnect.initial_backoff_s}), "
            f"got {reconnect.max_backoff_s}",
        )
    backoff = config.supervision.backoff
    if backoff.max_s < backoff.initial_s:
        raise _fail(
            config,
            "supervision.backoff.max_s",
            f"must be at least initial_s ({backoff.initial_s}), got {backoff.max_s}",
        )


def _signature_clock(config: NodeConfig) -> None:
    # The bridge's clock backs up the stream's: were it the shorter, every slow answer would
    # be asked for again before the stream had given up on it.
    bridge, stream_timeout = config.bridge, config.governance.request_timeout_s.signature
    if bridge.attempt_timeout_s < stream_timeout:
        raise _fail(config, "bridge.attempt_timeout_s",
                    f"must be at least governance.request_timeout_s.signature "
                    f"({stream_timeout:g}), got {bridge.attempt_timeout_s:g}")
    if bridge.signature_deadline_s < bridge.attempt_timeout_s:
        raise _fail(config, "bridge.signature_deadline_s",
                    f"must be at least bridge.attempt_timeout_s ({bridge.attempt_timeout_s:g}),"
                    f" got {bridge.signature_deadline_s:g}")


def _spending(config: NodeConfig) -> None:
    policy, outflow = config.bridge.policy, config.bridge.outflow
    if policy.min_fee_rate_sat_vb > policy.max_fee_rate_sat_vb:
        raise _fail(config, "bridge.policy.min_fee_rate_sat_vb",
                    f"must be at most bridge.policy.max_fee_rate_sat_vb "
                    f"({policy.max_fee_rate_sat_vb:g}), got {policy.min_fee_rate_sat_vb:g}")
    # Otherwise a peg-out the policy accepts might never fit the outflow window.
    if outflow.max_sat < policy.max_payout_sat:
        raise _fail(config, "bridge.outflow.max_sat",
                    f"must be at least bridge.policy.max_payout_sat ({policy.max_payout_sat}), "
                    f"got {outflow.max_sat}")


def _broadcaster(config: NodeConfig) -> None:
    broadcaster = config.bridge.broadcaster
    if broadcaster.kind == "bitcoin_rpc" and broadcaster.rpc_url is None:
        raise _fail(config, "bridge.broadcaster.rpc_url", "required when kind is bitcoin_rpc")


def _chain(config: NodeConfig) -> None:
    chain = config.chain
    if chain.height_source.kind == "evm_rpc" and chain.height_source.rpc_url is None:
        raise _fail(config, "chain.height_source.rpc_url", "required when kind is evm_rpc")
    mock = config.governance.mock
    mock_enabled = mock.enabled
    if mock.federation_threshold > mock.federation_size:
        raise _fail(
            config,
            "governance.mock.federation_threshold",
            f"{mock.federation_threshold} is greater than "
            f"governance.mock.federation_size ({mock.federation_size})",
        )
    if mock_enabled and chain.network == "mainnet":
        raise _fail(
            config,
            "governance.mock.enabled",
            "the mock governance server signs with test keys; it cannot run on mainnet",
        )
    if chain.federation is None and not mock_enabled:
        raise _fail(
            config,
            "chain.federation",
            "required when governance.mock.enabled is false "
            "(only the mock derives a federation from its seed)",
        )


def _federation(config: NodeConfig) -> None:
    federation = config.chain.federation
    if federation is None:
        return
    members = federation.members
    if not members:  # checked here too: "members" may be left out of the file
        raise _fail(config, "chain.federation.members", "must list at least one member")
    if federation.threshold > len(members):
        raise _fail(
            config,
            "chain.federation.threshold",
            f"{federation.threshold} is greater than the number of members ({len(members)})",
        )
    prefix = "chain.federation.members"
    _reject_duplicates(
        config,
        ((f"{prefix}[{i}].member_id", m.member_id) for i, m in enumerate(members)),
        "member id",
    )
    _reject_duplicates(
        config,
        ((f"{prefix}[{i}].public_key", m.public_key) for i, m in enumerate(members)),
        "public key",
    )
    if federation.script_type == "p2tr":
        # Keys that differ only in their 02/03 prefix are one x-only key (BIP340): the leaf
        # would name it twice, and its one holder would count twice towards the threshold.
        _reject_duplicates(
            config,
            ((f"{prefix}[{i}].public_key", m.public_key[2:]) for i, m in enumerate(members)),
            "x-only key",
        )


def _governance_limits(config: NodeConfig) -> None:
    # A cap on part of a frame that the frame's own cap leaves no room for
    # could never be reached: the setting would say one thing and do another.
    limits = config.governance.limits
    for key in ("max_parameter_bytes", "max_proposal_data_bytes"):
        value = getattr(limits, key)
        if value >= limits.max_frame_bytes:
            raise _fail(config, f"governance.limits.{key}",
                        f"must be less than governance.limits.max_frame_bytes "
                        f"({limits.max_frame_bytes}), got {value}")


def _auth(config: NodeConfig) -> None:
    found = config.governance.auth.problem()  # the keys that do not go together
    if found is not None:
        key, problem = found
        raise _fail(config, f"governance.auth.{key}", problem)


# Networks where a forged federation update moves real coins: updates must be signed.
_SIGNED_UPDATE_NETWORKS = ("mainnet", "testnet")


def _production(config: NodeConfig) -> None:
    """The production profile: with the mock disabled the node talks to a real governance,
    so what is only fit for development must be asked for by name (docs/security.md,
    "The production profile")."""
    governance, network = config.governance, config.chain.network
    if governance.allow_plaintext and network == "mainnet":
        raise _fail(config, "governance.allow_plaintext",
                    "mainnet refuses plaintext governance; configure governance.tls")
    if governance.mock.enabled:
        return
    if not governance.tls.enabled and not governance.allow_plaintext:
        raise _fail(config, "governance.tls.enabled",
                    "must be true when governance.mock.enabled is false: the stream carries "
                    "the node's credentials and governance's answers (set "
                    "governance.allow_plaintext: true to accept plaintext, never on mainnet)")
    if config.chain.governance_pubkey is None and network in _SIGNED_UPDATE_NETWORKS:
        raise _fail(config, "chain.governance_pubkey",
                    f"required on {network} when governance.mock.enabled is false: without it "
                    "federation updates are applied unsigned")


def _metrics_host(config: NodeConfig) -> None:
    metrics = config.metrics
    if metrics.allow_remote or is_loopback_host(metrics.host):
        return
    raise _fail(config, "metrics.host",
                f"{metrics.host} is not loopback; /metrics and /readyz describe every process "
                "of the node (set metrics.allow_remote: true to serve them there)")


def is_loopback_host(host: str) -> bool:
    """`localhost` or a loopback address; any other name may resolve anywhere."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _reject_duplicates(config: NodeConfig, items: Iterable[tuple[str, str]], what: str) -> None:
    first_seen: dict[str, str] = {}
    for key, value in items:
        if value in first_seen:
            raise _fail(config, key, f"duplicate {what} {value!r} (also at {first_seen[value]})")
        first_seen[value] = key
