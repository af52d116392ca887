"""bridge.policy, bridge.outflow and the follow settings: defaults, overrides, refusals."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from btc.policy import SpendPolicy
from nodeconfig import (
    BridgePolicyConfig,
    ConfigError,
    NodeConfig,
    OutflowConfig,
    default_config_path,
    load_config,
)


def load(tmp_path: Path, content: dict[str, object]) -> NodeConfig:
    path = tmp_path / "node.yaml"
    path.write_text(yaml.safe_dump(content), encoding="utf-8")
    return load_config(path, env={}, base_dir=tmp_path)


def test_the_defaults_are_the_documented_ones(tmp_path: Path) -> None:
    bridge = load(tmp_path, {}).bridge

    assert bridge.policy == BridgePolicyConfig(
        max_outputs=100, min_fee_rate_sat_vb=1.0, max_fee_rate_sat_vb=500.0,
        max_fee_sat=1_000_000, max_payout_sat=1_000_000_000, versions=(2,), max_locktime=0,
        max_change_outputs=1, dust_relay_fee_sat_kvb=3000)
    assert bridge.outflow == OutflowConfig(window_s=86_400.0, max_sat=5_000_000_000)
    assert (bridge.confirmations, bridge.follow_interval_s) == (6, 30.0)
    assert isinstance(bridge.policy.min_fee_rate_sat_vb, float)


def test_the_config_defaults_are_the_spend_policys_defaults() -> None:
    # Two places hold them (nodeconfig may not load embit at import); this keeps them one.
    assert BridgePolicyConfig().spend_policy() == SpendPolicy()
    assert [spec.name for spec in dataclasses.fields(BridgePolicyConfig)] == [
        spec.name for spec in dataclasses.fields(SpendPolicy)]


def test_local_yaml_lists_every_new_key() -> None:
    bridge = yaml.safe_load(default_config_path().read_text(encoding="utf-8"))["bridge"]

    assert set(bridge["policy"]) == {spec.name for spec in dataclasses.fields(BridgePolicyConfig)}
    assert set(bridge["outflow"]) == {"window_s", "max_sat"}
    assert {"confirmations", "follow_interval_s"} <= set(bridge)


def test_a_policy_set_in_the_file_becomes_the_spend_policy(tmp_path: Path) -> None:
    config = load(tmp_path, {"bridge": {
        "policy": {"max_outputs": 5, "min_fee_rate_sat_vb": 2, "versions": [1, 2],
                   "max_locktime": 850_000, "max_change_outputs": 0,
                   "dust_relay_fee_sat_kvb": 0},
        "outflow": {"window_s": 3600, "max_sat": 2_000_000_000},
        "confirmations": 1, "follow_interval_s": 0.5}})

    assert config.bridge.policy.spend_policy() == SpendPolicy(
        max_outputs=5, min_fee_rate_sat_vb=2.0, versions=(1, 2), max_locktime=850_000,
        max_change_outputs=0, dust_relay_fee_sat_kvb=0)
    assert config.bridge.outflow == OutflowConfig(window_s=3600.0, max_sat=2_000_000_000)
    assert (config.bridge.confirmations, config.bridge.follow_interval_s) == (1, 0.5)


@pytest.mark.parametrize(("content", "key", "problem"), [
    ({"policy": {"max_outputs": 0}}, "policy.max_outputs", "must be at least 1, got 0"),
    ({"policy": {"min_fee_rate_sat_vb": 0}}, "policy.min_fee_rate_sat_vb",
     "must be greater than 0, got 0.0"),
    ({"policy": {"max_fee_rate_sat_vb": -1}}, "policy.max_fee_rate_sat_vb",
     "must be greater than 0, got -1.0"),
    ({"policy": {"max_fee_sat": 0}}, "policy.max_fee_sat", "must be at least 1, got 0"),
    ({"policy": {"max_fee_sat": 1.5}}, "policy.max_fee_sat", "expected an integer, got 1.5"),
    ({"policy": {"max_payout_sat": 0}}, "policy.max_payout_sat", "must be at least 1, got 0"),
    ({"policy": {"versions": []}}, "policy.versions",
     "must list at least one transaction version"),
    ({"policy": {"versions": [2, 4]}}, "policy.versions",
     "each version must be 1, 2 or 3 (those Bitcoin Core relays), got 4"),
    ({"policy": {"versions": 2}}, "policy.versions", "expected a list, got 2 (int)"),
    ({"policy": {"max_locktime": -1}}, "policy.max_locktime", "must not be negative, got -1"),
    ({"policy": {"max_locktime": 2**32}}, "policy.max_locktime",
     "must be at most 4294967295, got 4294967296"),
    ({"policy": {"max_change_outputs": -1}}, "policy.max_change_outputs",
     "must be at least 0, got -1"),
    ({"policy": {"dust_relay_fee_sat_kvb": -1}}, "policy.dust_relay_fee_sat_kvb",
     "must not be negative, got -1"),
    ({"policy": {"min_fee_rate_sat_vb": 600}}, "policy.min_fee_rate_sat_vb",
     "must be at most bridge.policy.max_fee_rate_sat_vb (500), got 600"),
    ({"policy": {"max_fee": 1}}, "policy.max_fee", "unknown key 'max_fee' (did you mean"),
    ({"outflow": {"window_s": 0}}, "outflow.window_s", "must be greater than 0, got 0.0"),
    ({"outflow": {"max_sat": 0}}, "outflow.max_sat", "must be at least 1, got 0"),
    ({"outflow": {"max_sat": 999_999_999}}, "outflow.max_sat",
     "must be at least bridge.policy.max_payout_sat (1000000000), got 999999999"),
    ({"confirmations": 0}, "confirmations", "must be at least 1, got 0"),
    ({"follow_interval_s": 0}, "follow_interval_s", "must be greater than 0, got 0.0"),
])
def test_a_value_the_bridge_cannot_run_with_is_refused_naming_the_key(
        tmp_path: Path, content: dict[str, object], key: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, {"bridge": content})

    assert caught.value.key == f"bridge.{key}"
    assert caught.value.problem.startswith(problem)


def test_a_lower_payout_cap_allows_a_lower_outflow_cap(tmp_path: Path) -> None:
    config = load(tmp_path, {"bridge": {"policy": {"max_payout_sat": 1_000},
                                        "outflow": {"max_sat": 1_000}}})

    assert config.bridge.outflow.max_sat == 1_000
