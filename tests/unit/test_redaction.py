"""Secrets in URLs never printed: URLs, config reprs, `_Start`, config errors, log lines,
the RPC clients' errors."""

from __future__ import annotations

import base64
import logging
import pickle
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from actors.bridge.broadcast_errors import BroadcastUnavailable
from actors.bridge.core import CoreRpc
from actors.chain.height import EvmRpcHeight, HeightSourceError
from actors.lifecycle import _FatalError, _MessageFailed, _Start
from harness.ports import distinct_free_ports
from nodeconfig import BridgeConfig, BroadcasterConfig, ConfigError, NodeConfig, load_config
from nodeconfig.redact import redact_text, redact_url
from runtime.logline import OneLineFormatter

SECRET = "s3cr3t-CANARY"
KEY = "CANARYKEY0123456789abcdef"


@pytest.mark.parametrize(("url", "shown"), [
    (f"http://user:{SECRET}@127.0.0.1:8332/", "http://***@127.0.0.1:8332/"),
    (f"https://rpc.example/?apikey={SECRET}&chain=1", "https://rpc.example/?apikey=***&chain=***"),
    (f"https://rpc.example/x?{SECRET}", "https://rpc.example/x?***"),
    (f"https://rpc.example/x#{SECRET}", "https://rpc.example/x#***"),
    (f"https://mainnet.infura.io/v3/{KEY}", "https://mainnet.infura.io/v3/***"),
    ("http://127.0.0.1:8332/wallet/cold", "http://127.0.0.1:8332/wallet/cold"),
    ("http://[::1]:8545", "http://[::1]:8545"),
    ("127.0.0.1:50051", "127.0.0.1:50051"),
])
def test_a_url_keeps_where_it_points_and_loses_its_credentials(url: str, shown: str) -> None:
    assert redact_url(url) == shown


@given(st.text(max_size=40),
       st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=8, max_size=30))
def test_no_credential_survives_in_free_text(prose: str, secret: str) -> None:
    text = f"{prose} http://u:{secret}@h:1/p?k={secret} {prose} https://x/?{secret}"
    redacted = redact_text(text)
    assert f":{secret}@" not in redacted and f"k={secret}" not in redacted
    assert f"?{secret}" not in redacted
    assert redact_text(redacted) == redacted  # idempotent: a re-raised error stays the same


def rpc_config() -> NodeConfig:
    url = f"http://alice:{SECRET}@127.0.0.1:8332/?apikey={SECRET}"
    return NodeConfig(bridge=BridgeConfig(
        broadcaster=BroadcasterConfig(kind="bitcoin_rpc", rpc_url=url)))


def test_config_objects_print_redacted_at_every_level() -> None:
    config = rpc_config()
    for shown in (repr(config), str(config), repr(config.bridge), repr(config.bridge.broadcaster),
                  f"{config!r}", f"{[config]}"):
        assert SECRET not in shown
        assert "http://***@127.0.0.1:8332/?apikey=***" in shown
    # Only the printing changes: the value is the one configured, and pickles as it is.
    assert SECRET in (config.bridge.broadcaster.rpc_url or "")
    assert pickle.loads(pickle.dumps(config)) == config


def test_start_messages_print_without_the_config() -> None:
    start = _Start("bridge", rpc_config(), "system_supervisor", 42, generation=3)
    shown = repr(start)
    assert SECRET not in shown and "rpc_url" not in shown
    assert "name='bridge'" in shown and "generation=3" in shown


def test_failure_reports_are_redacted_when_made() -> None:
    text = f"connection to http://a:{SECRET}@h/ refused"
    assert SECRET not in _FatalError("bridge", text).reason
    assert SECRET not in _MessageFailed("bridge", "X", text).error


def test_a_bad_url_in_the_config_is_named_without_its_credentials(tmp_path: Path) -> None:
    for value in (f"ftp://u:{SECRET}@host/", f"u:{SECRET}@host:1"):
        path = tmp_path / "node.yaml"
        path.write_text(yaml.safe_dump({"bridge": {"broadcaster": {"rpc_url": value}}}))
        with pytest.raises(ConfigError) as caught:
            load_config(path, env={})
        assert caught.value.key == "bridge.broadcaster.rpc_url"
        assert SECRET not in str(caught.value)
        assert SECRET not in str(pickle.loads(pickle.dumps(caught.value)))


def test_every_log_line_is_redacted_whoever_wrote_it() -> None:
    record = logging.LogRecord("alys.bridge", logging.ERROR, __file__, 1,
                               "failed: %r", (rpc_config(),), None)
    try:
        raise RuntimeError(f"GET https://x.example/?token={SECRET}")
    except RuntimeError:
        record.exc_info = sys.exc_info()
    line = OneLineFormatter().format(record)
    assert SECRET not in line
    assert "token=***" in line


def closed_port() -> int:
    return distinct_free_ports(1)[0]


def test_the_bitcoin_rpc_client_sends_url_credentials_as_basic_auth_and_never_quotes_them(
) -> None:
    core = CoreRpc(f"http://alice:{SECRET}@127.0.0.1:{closed_port()}/?apikey={SECRET}",
                   None, None, timeout_s=1)
    expected = base64.b64encode(f"alice:{SECRET}".encode()).decode()
    assert core._headers["Authorization"] == f"Basic {expected}"
    assert "@" not in core._url
    with pytest.raises(BroadcastUnavailable) as caught:
        core.call("getblockcount")
    assert SECRET not in str(caught.value)


def test_the_evm_height_source_never_quotes_url_credentials() -> None:
    source = EvmRpcHeight(f"http://alice:{SECRET}@127.0.0.1:{closed_port()}/?key={SECRET}",
                          timeout_s=1)
    assert "@" not in source.url
    with pytest.raises(HeightSourceError) as caught:
        source.height()
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize("url", ["http://rpcuser:pa#ss@core:8332/", "http://rpcuser:p/w?d@core",
                                 "http://rpcuser:s3cretpass@core:8332/wallet?x=1#frag"])
def test_a_password_holding_url_delimiters_is_masked_whole(url: str) -> None:
    redacted = redact_url(url)
    assert "rpcuser" not in redacted and "ss" not in redacted.split("@")[0]
    assert redacted.split("@", 1)[1].startswith("core")
