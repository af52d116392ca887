"""The node against JSON-RPC servers the test starts on 127.0.0.1: Bitcoin Core's
`sendrawtransaction` for broadcasting, and an EVM node's `eth_blockNumber` for the height.

Each server records what it was asked: method, parameters and the HTTP Basic
credentials the node read from the environment variables the config names.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from bitcoin.core import CTransaction

from actors.messages import PegoutAccepted
from harness.waiting import wait_until
from tests.support.jsonrpc import JsonRpcServer, RpcFault
from tests.support.pegouts import chain_status, initiate, pegout, pegout_node, wait_pegout

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]

USER, PASSWORD = "alys-rpc", "correct horse battery"


def txid_of(tx_hex: str) -> str:
    return CTransaction.deserialize(bytes.fromhex(tx_hex)).GetTxid()[::-1].hex()


def rpc_bridge(server: JsonRpcServer, **bridge: Any) -> dict[str, Any]:
    return {"broadcaster": {"kind": "bitcoin_rpc", "rpc_url": server.url,
                            "rpc_user_env": "ALYS_TEST_RPC_USER",
                            "rpc_password_env": "ALYS_TEST_RPC_PASSWORD"}, **bridge}


@pytest.fixture
def bitcoind(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("ALYS_TEST_RPC_USER", USER)
    monkeypatch.setenv("ALYS_TEST_RPC_PASSWORD", PASSWORD)
    with JsonRpcServer(auth=(USER, PASSWORD)) as server:
        yield server


def test_a_signed_pegout_is_sent_to_bitcoin_core_with_the_configured_credentials(
        tmp_path: Path, bitcoind: JsonRpcServer) -> None:
    bitcoind.handle("sendrawtransaction", lambda params: txid_of(params[0]))
    with pegout_node(tmp_path, bridge=rpc_bridge(bitcoind)) as (node, _mock):
        assert initiate(node, [pegout("rpc-1", seed=80)]) == [PegoutAccepted("rpc-1")]
        final = wait_pegout(node, "rpc-1", "broadcast")
    [call] = [r for r in bitcoind.requests if r.method == "sendrawtransaction"]
    assert call.params == [final.signed_tx_hex]
    assert call.body["jsonrpc"] == "1.0"
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    assert call.authorization == f"Basic {token}"
    assert txid_of(final.signed_tx_hex) == final.txid


def test_already_in_the_chain_counts_as_broadcast(tmp_path: Path,
                                                  bitcoind: JsonRpcServer) -> None:
    def known(params: list[Any]) -> Any:
        raise RpcFault(-27, "Transaction outputs already in utxo set")

    bitcoind.handle("sendrawtransaction", known)
    with pegout_node(tmp_path, bridge=rpc_bridge(bitcoind)) as (node, _mock):
        initiate(node, [pegout("rpc-2", seed=81)])
        assert wait_pegout(node, "rpc-2", "broadcast").txid


def test_a_transaction_the_network_refuses_fails_the_pegout_with_the_reason(
        tmp_path: Path, bitcoind: JsonRpcServer) -> None:
    # A verdict on the transaction itself; "inputs missing or spent" is not one (the
    # bridge then looks its own txid up: tests/integration/test_following.py).
    def refuse(params: list[Any]) -> Any:
        raise RpcFault(-26, "min relay fee not met, 100 < 200")

    bitcoind.handle("sendrawtransaction", refuse)
    with pegout_node(tmp_path, bridge=rpc_bridge(bitcoind)) as (node, _mock):
        initiate(node, [pegout("rpc-3", seed=82)])
        final = wait_pegout(node, "rpc-3", "failed")
    assert "broadcast refused" in final.error and "min relay fee not met" in final.error
    assert PASSWORD not in final.error


def test_an_unreachable_bitcoin_core_is_retried_until_it_answers(
        tmp_path: Path, bitcoind: JsonRpcServer) -> None:
    answers: list[str] = []

    def flaky(params: list[Any]) -> Any:
        answers.append(params[0])
        if len(answers) == 1:
            raise RpcFault(-28, "Loading block index...")  # warming up: try again later
        return txid_of(params[0])

    bitcoind.handle("sendrawtransaction", flaky)
    with pegout_node(tmp_path, bridge=rpc_bridge(bitcoind)) as (node, _mock):
        initiate(node, [pegout("rpc-4", seed=83)])
        wait_pegout(node, "rpc-4", "broadcast", timeout=60)
    assert len(answers) == 2 and answers[0] == answers[1]


def test_the_height_comes_from_eth_block_number_and_activates_a_scheduled_update(
        tmp_path: Path) -> None:
    height = {"value": 100}
    with JsonRpcServer() as evm:
        evm.handle("eth_blockNumber", lambda params: hex(height["value"]))
        chain = {"height_source": {"kind": "evm_rpc", "rpc_url": evm.url, "slot_s": 0.2}}
        with pegout_node(tmp_path, chain=chain) as (node, mock):
            wait_until(lambda: chain_status(node).height == 100, timeout=30)
            mock.push_federation_update(version=1, indices=[0, 1, 2, 3], threshold=2,
                                        effective_height=150, request_id="at-150")
            wait_until(lambda: chain_status(node).scheduled == ((1, 150),), timeout=30)
            height["value"] = 150
            wait_until(lambda: chain_status(node).federation_version == 1, timeout=30)
            height["value"] = 120  # a source that steps back does not move the height back
            wait_until(lambda: len(evm.requests) > 10, timeout=30)
            assert chain_status(node).height == 150
        calls = [r for r in evm.requests if r.method == "eth_blockNumber"]
        assert calls and all(r.params == [] and r.body["jsonrpc"] == "2.0" for r in calls)
