"""governance.limits in the config: the defaults, an override, and the values it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from nodeconfig import ConfigError, GovernanceLimitsConfig, NodeConfig, load_config


def load(tmp_path: Path, content: dict[str, object]) -> NodeConfig:
    path = tmp_path / "node.yaml"
    path.write_text(yaml.safe_dump(content), encoding="utf-8")
    return load_config(path, env={}, base_dir=tmp_path)


def test_the_defaults_are_the_documented_caps(tmp_path: Path) -> None:
    assert load(tmp_path, {}).governance.limits == GovernanceLimitsConfig(
        max_frame_bytes=1_048_576, max_witnesses=4096, max_members=64, max_parameters=64,
        max_parameter_bytes=1024, max_proposal_data_bytes=65_536)


def test_a_cap_can_be_changed_alone(tmp_path: Path) -> None:
    limits = load(tmp_path, {"governance": {"limits": {"max_witnesses": 10}}}).governance.limits
    assert (limits.max_witnesses, limits.max_members) == (10, 64)


@pytest.mark.parametrize(("limits", "key", "fragment"), [
    ({"max_frame_bytes": 1000}, "max_frame_bytes", "must be at least 4096, got 1000"),
    ({"max_frame_bytes": 2**31}, "max_frame_bytes", "must be at most 67108864"),
    ({"max_witnesses": 0}, "max_witnesses", "must be at least 1, got 0"),
    ({"max_parameter_bytes": 64}, "max_parameter_bytes", "must be at least 128, got 64"),
    ({"max_frame_bytes": 65_536}, "max_proposal_data_bytes",
     "must be less than governance.limits.max_frame_bytes (65536), got 65536"),
    ({"max_frame_bytes": 8192, "max_proposal_data_bytes": 1024, "max_parameter_bytes": 9000},
     "max_parameter_bytes", "must be less than governance.limits.max_frame_bytes (8192)"),
    ({"max_frames": 1}, "max_frames", "unknown key"),
])
def test_a_cap_the_node_cannot_run_with_is_refused_naming_the_key(
        tmp_path: Path, limits: dict[str, object], key: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, {"governance": {"limits": limits}})

    assert caught.value.key == f"governance.limits.{key}" and fragment in caught.value.problem
