"""`/info`'s document: version, build, uptime (a fake clock), the chain as last asked, and
the effective config with every credential in it redacted (canaries, as in
test_redaction)."""

from __future__ import annotations

import json
from pathlib import Path

from actors.messages import ChainStatus
from nodeconfig import (
    BridgeConfig,
    BroadcasterConfig,
    ChainConfig,
    HeightSourceConfig,
    LoggingConfig,
    NodeConfig,
)
from nodeconfig.redact import redacted_tree
from runtime.buildinfo import git_commit
from supervision.info import NodeInfo
from tests.unit.test_redaction import KEY, SECRET


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def canary_config() -> NodeConfig:
    return NodeConfig(
        bridge=BridgeConfig(broadcaster=BroadcasterConfig(
            kind="bitcoin_rpc", rpc_url=f"http://alice:{SECRET}@127.0.0.1:8332/?apikey={SECRET}",
            rpc_user_env="RPC_USER", rpc_password_env="RPC_PASSWORD")),
        chain=ChainConfig(height_source=HeightSourceConfig(
            kind="evm_rpc", rpc_url=f"https://mainnet.infura.io/v3/{KEY}")))


def test_no_canary_reaches_the_document_and_the_config_still_says_where() -> None:
    info = NodeInfo(canary_config(), version="0.1.0", commit=None)
    text = json.dumps(info.document())
    assert SECRET not in text and KEY not in text
    config = info.document()["config"]
    assert config["bridge"]["broadcaster"]["rpc_url"] == \
        "http://***@127.0.0.1:8332/?apikey=***"
    assert config["chain"]["height_source"]["rpc_url"] == "https://mainnet.infura.io/v3/***"
    assert config["bridge"]["broadcaster"]["rpc_password_env"] == "RPC_PASSWORD"  # a name


def test_uptime_chain_and_reloads_are_reported() -> None:
    clock, wall = Clock(50.0), Clock(1_700_000_000.0)
    info = NodeInfo(NodeConfig(), version="0.1.0", commit="ab" * 20, clock=clock, wall=wall)
    before = info.document()
    assert (before["version"], before["build"], before["uptime_s"]) == (
        "0.1.0", {"commit": "ab" * 20}, 0.0)
    assert (before["federation_version"], before["script_type"], before["height"],
            before["halted"]) == (None, None, None, None)
    assert before["config_reloaded_at"] is None and before["started_at"] == 1_700_000_000.0
    clock.now, wall.now = 62.5, 1_700_000_100.0
    info.record_chain(ChainStatus(height=7, federation_version=2, federation_address="a",
                                  threshold=2, members=(), scheduled=(), script_type="p2tr"))
    info.set_config(NodeConfig(logging=LoggingConfig(level="DEBUG")))
    after = info.document()
    assert (after["uptime_s"], after["federation_version"], after["script_type"],
            after["height"]) == (12.5, 2, "p2tr", 7)
    assert after["config"]["logging"]["level"] == "DEBUG"
    assert after["config_reloaded_at"] == 1_700_000_100.0


def test_a_tree_is_plain_json_data() -> None:
    tree = redacted_tree(NodeConfig())
    assert json.loads(json.dumps(tree)) == tree
    assert isinstance(tree["governance"]["endpoints"], list)


def test_the_commit_is_a_full_object_name_or_none(tmp_path: Path) -> None:
    commit = git_commit()
    assert commit is None or (len(commit) in (40, 64) and int(commit, 16) >= 0)
    assert git_commit(tmp_path) is None  # not a checkout


def test_a_url_value_is_redacted_whole_even_with_characters_that_end_a_url_in_text() -> None:
    # The loader refuses these (nodeconfig.rules.http_url); /info does not rely on it.
    for url in (f"http://alice:pa {SECRET}@127.0.0.1:8332/", f'http://alice:p"{SECRET}@h:1/',
                f"http://alice:p<{SECRET}@h:1/?k=v"):
        shown = json.dumps(redacted_tree({"rpc_url": url}))
        assert SECRET not in shown and "alice" not in shown, shown
