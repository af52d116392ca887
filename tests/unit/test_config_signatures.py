"""The bridge's signature clock in the config: defaults, and combinations it cannot run with."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from nodeconfig import ConfigError, load_config


def load(tmp_path: Path, content: dict[str, object]):  # type: ignore[no-untyped-def]
    path = tmp_path / "node.yaml"
    path.write_text(yaml.safe_dump(content), encoding="utf-8")
    return load_config(path, env={}, base_dir=tmp_path)


def test_the_defaults_give_an_hour_per_series_and_a_clock_behind_the_streams(
        tmp_path: Path) -> None:
    config = load(tmp_path, {})

    assert config.bridge.signature_deadline_s == 3600.0
    assert config.bridge.attempt_timeout_s == 90.0
    assert config.bridge.attempt_timeout_s >= config.governance.request_timeout_s.signature
    assert config.bridge.transient_retry_s == 5.0
    assert config.governance.max_retry_after_s == 300.0


@pytest.mark.parametrize(("content", "key", "fragment"), [
    ({"bridge": {"attempt_timeout_s": 30}}, "bridge.attempt_timeout_s",
     "must be at least governance.request_timeout_s.signature (60), got 30"),
    ({"bridge": {"signature_deadline_s": 60}}, "bridge.signature_deadline_s",
     "must be at least bridge.attempt_timeout_s (90), got 60"),
    ({"bridge": {"transient_retry_s": -1}}, "bridge.transient_retry_s", "-1"),
    ({"governance": {"max_retry_after_s": 0}}, "governance.max_retry_after_s", "0"),
])
def test_a_clock_the_bridge_cannot_run_with_is_refused_naming_the_key(
        tmp_path: Path, content: dict[str, object], key: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, content)

    assert caught.value.key == key and fragment in caught.value.problem
