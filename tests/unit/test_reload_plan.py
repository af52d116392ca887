"""Which changed keys a reload may apply, and that a single other one refuses all of it."""

from __future__ import annotations

import dataclasses

from nodeconfig import EndpointConfig, NodeConfig, build_config
from nodeconfig.reload import flatten, plan_reload, reloadable

G_X = "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"


def config(**sections: object) -> NodeConfig:
    return build_config(sections, source="/etc/alys-node/node.yaml")


def test_nothing_changed_plans_nothing() -> None:
    assert plan_reload(config(), config()) == plan_reload(config(), config())
    assert plan_reload(config(), config()).changed == ()
    assert plan_reload(config(), config()).refusal is None


def test_the_keys_that_apply_at_once_are_planned_without_a_refusal() -> None:
    after = config(logging={"level": "DEBUG"},
                   bridge={"policy": {"max_fee_sat": 5_000}, "outflow": {"max_sat": 2_000_000_000},
                           "max_pegout_sat": 7},
                   governance={"endpoints": [{"url": "127.0.0.1:50099", "priority": 1}]})
    plan = plan_reload(config(), after)
    assert plan.changed == ("bridge.max_pegout_sat", "bridge.outflow.max_sat",
                            "bridge.policy.max_fee_sat", "governance.endpoints",
                            "logging.level")
    assert plan.restart_needed == () and plan.refusal is None


def test_one_key_that_needs_a_restart_refuses_the_whole_reload_naming_it() -> None:
    after = config(logging={"level": "DEBUG"}, metrics={"port": 9999},
                   bridge={"outflow": {"window_s": 60}})
    plan = plan_reload(config(), after)
    assert plan.restart_needed == ("bridge.outflow.window_s", "metrics.port")
    assert plan.refusal == ("not applied: these keys changed and need a restart: "
                            "bridge.outflow.window_s, metrics.port")


def test_a_section_that_appears_is_a_change_of_its_keys() -> None:
    # The generator point: a valid compressed key.
    members = [{"member_id": "a", "public_key": "02" + G_X}]
    plan = plan_reload(config(), config(chain={"federation": {"threshold": 1,
                                                              "members": members}}))
    assert "chain.federation" in plan.changed and plan.refusal is not None


def test_where_the_file_is_is_not_a_key() -> None:
    moved = dataclasses.replace(config(), source="/elsewhere.yaml")
    assert plan_reload(config(), moved).changed == ()


def test_lists_are_one_value_and_mappings_are_walked() -> None:
    keys = dict(flatten(config()))
    assert isinstance(keys["governance.endpoints"], tuple)
    assert all(isinstance(e, EndpointConfig) for e in keys["governance.endpoints"])
    assert "source" not in keys and "logging.level" in keys


def test_a_section_prefix_matches_its_keys_only() -> None:
    assert reloadable("bridge.policy.max_outputs")
    assert not reloadable("bridge.policy_extra")
    assert not reloadable("bridge.outflow.window_s")
    assert reloadable("bridge.outflow.max_sat")
