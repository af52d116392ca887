"""The stream's config keys: the inbox's byte bound, and the cap on governance's retry_after."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from nodeconfig import ConfigError, NodeConfig, load_config


def load(tmp_path: Path, governance: dict[str, object]) -> NodeConfig:
    path = tmp_path / "node.yaml"
    path.write_text(yaml.safe_dump({"governance": governance}), encoding="utf-8")
    return load_config(path, env={}, base_dir=tmp_path)


def test_the_inbox_holds_32_mib_of_frames_by_default(tmp_path: Path) -> None:
    config = load(tmp_path, {})
    assert config.governance.inbox_max_bytes == 32 * 1024 * 1024
    assert config.governance.max_retry_after_s == 300.0


def test_an_inbox_bound_can_be_set(tmp_path: Path) -> None:
    assert load(tmp_path, {"inbox_max_bytes": 1_048_576}).governance.inbox_max_bytes == 1_048_576


@pytest.mark.parametrize("value", [0, 65_535, -1])
def test_an_inbox_bound_below_64_kib_is_refused_naming_the_key(tmp_path: Path,
                                                               value: int) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, {"inbox_max_bytes": value})
    assert caught.value.key == "governance.inbox_max_bytes"
    assert "at least 65536" in caught.value.problem
