"""The production profile: with the mock disabled, what is only fit for development must be
asked for by name, and mainnet refuses plaintext governance outright."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from nodeconfig import ConfigError, NodeConfig, load_config

KEY = "0281025de943d62d221ecb4e5dcca88e22c3a60302cee340512e766eb5b1e2319a"
FEDERATION = {"threshold": 1, "members": [{"member_id": "m1", "public_key": KEY}]}


def production(**overrides: Any) -> dict[str, Any]:
    """A config that passes the profile: mock off, TLS on, a governance key, loopback metrics."""
    document: dict[str, Any] = {
        "governance": {"mock": {"enabled": False},
                       "tls": {"enabled": True, "ca_file": "ca.pem"}},
        "chain": {"network": "mainnet", "governance_pubkey": KEY, "federation": FEDERATION},
        "metrics": {"host": "127.0.0.1"},
    }
    for dotted, value in overrides.items():
        *path, last = dotted.split("__")
        node = document
        for part in path:
            node = node.setdefault(part, {})
        node[last] = value
    return document


def load(tmp_path: Path, document: dict[str, Any]) -> NodeConfig:
    path = tmp_path / "node.yaml"
    path.write_text(yaml.safe_dump(document))
    return load_config(path, env={}, base_dir=tmp_path)


def refusal(tmp_path: Path, document: dict[str, Any]) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, document)
    assert str(caught.value).startswith(f"{tmp_path / 'node.yaml'}: {caught.value.key}: ")
    return caught.value


def test_a_production_config_that_keeps_every_rule_loads(tmp_path: Path) -> None:
    config = load(tmp_path, production())
    assert config.governance.tls.enabled and not config.governance.allow_plaintext
    assert not config.metrics.allow_remote


def test_plaintext_governance_without_the_mock_is_refused_naming_tls(tmp_path: Path) -> None:
    err = refusal(tmp_path, production(governance__tls={"enabled": False}))
    assert err.key == "governance.tls.enabled"
    assert "governance.allow_plaintext" in err.problem


@pytest.mark.parametrize("network", ["regtest", "signet", "testnet"])
def test_plaintext_is_accepted_off_mainnet_only_when_asked_for(tmp_path: Path,
                                                               network: str) -> None:
    config = load(tmp_path, production(governance__tls={"enabled": False},
                                       governance__allow_plaintext=True, chain__network=network))
    assert config.governance.allow_plaintext


@pytest.mark.parametrize("tls", [False, True])
def test_mainnet_refuses_the_plaintext_flag(tmp_path: Path, tls: bool) -> None:
    tls_section = {"enabled": True, "ca_file": "ca.pem"} if tls else {"enabled": False}
    err = refusal(tmp_path, production(governance__tls=tls_section,
                                       governance__allow_plaintext=True))
    assert err.key == "governance.allow_plaintext"
    assert "mainnet" in err.problem


@pytest.mark.parametrize("network", ["mainnet", "testnet"])
def test_a_governance_key_is_required_on_mainnet_and_testnet(tmp_path: Path,
                                                            network: str) -> None:
    err = refusal(tmp_path, production(chain__governance_pubkey=None, chain__network=network))
    assert err.key == "chain.governance_pubkey"
    assert network in err.problem


@pytest.mark.parametrize("network", ["regtest", "signet"])
def test_other_networks_run_without_a_governance_key(tmp_path: Path, network: str) -> None:
    config = load(tmp_path, production(chain__governance_pubkey=None, chain__network=network))
    assert config.chain.governance_pubkey is None


@pytest.mark.parametrize("host", ["0.0.0.0", "10.0.0.5", "metrics.internal", "::"])
def test_metrics_off_loopback_are_refused_naming_the_key(tmp_path: Path, host: str) -> None:
    err = refusal(tmp_path, production(metrics__host=host))
    assert err.key == "metrics.host"
    assert "metrics.allow_remote" in err.problem


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_metrics_on_loopback_need_nothing(tmp_path: Path, host: str) -> None:
    assert load(tmp_path, production(metrics__host=host)).metrics.host == host


def test_metrics_off_loopback_load_when_allowed_explicitly(tmp_path: Path) -> None:
    config = load(tmp_path, production(metrics__host="0.0.0.0", metrics__allow_remote=True))
    assert (config.metrics.host, config.metrics.allow_remote) == ("0.0.0.0", True)


def test_the_metrics_rule_holds_in_local_mode_too(tmp_path: Path) -> None:
    err = refusal(tmp_path, {"metrics": {"host": "0.0.0.0"}})
    assert err.key == "metrics.host"


def test_the_mock_keeps_local_mode_free_of_the_profile(tmp_path: Path) -> None:
    config = load(tmp_path, {"chain": {"network": "testnet"}})
    assert config.governance.mock.enabled and not config.governance.tls.enabled
