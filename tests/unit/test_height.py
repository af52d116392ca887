"""Height sources: the slot clock and an EVM node's eth_blockNumber."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from actors.chain.height import (
    ClockHeight,
    EvmRpcHeight,
    HeightSourceError,
    HeightSourceMisconfigured,
    make_height_source,
)
from nodeconfig import HeightSourceConfig
from tests.support.jsonrpc import JsonRpcServer, RawReply, RpcFault

GENESIS_S = 1_700_000_000.0


# --- the clock --------------------------------------------------------------------------------


@pytest.mark.parametrize(("elapsed_s", "height"), [
    (0.0, 0), (1.99, 0), (2.0, 1), (3.5, 1), (4.0, 2), (2001.0, 1000),
])
def test_the_clock_counts_whole_slots_since_genesis(elapsed_s: float, height: int) -> None:
    assert ClockHeight(slot_s=2.0, genesis_s=GENESIS_S).height(GENESIS_S + elapsed_s) == height


def test_a_time_before_genesis_is_height_zero_never_negative() -> None:
    assert ClockHeight(slot_s=2.0, genesis_s=GENESIS_S).height(GENESIS_S - 100.0) == 0


def test_a_slot_that_is_not_positive_is_refused() -> None:
    with pytest.raises(HeightSourceMisconfigured):
        ClockHeight(slot_s=0.0, genesis_s=GENESIS_S)


# --- an EVM node ------------------------------------------------------------------------------


@pytest.fixture
def evm() -> Iterator[JsonRpcServer]:
    with JsonRpcServer() as server:
        yield server


def reply(value: object) -> object:
    return lambda params: value


def test_eth_block_number_is_asked_in_a_json_rpc_2_envelope(evm: JsonRpcServer) -> None:
    evm.handle("eth_blockNumber", reply("0x1b4"))
    source = EvmRpcHeight(evm.url, timeout_s=5.0)
    assert source.height() == 436
    assert source.height(now_s=GENESIS_S) == 436  # the same call shape as the clock
    first, second = evm.requests
    assert (first.method, first.params) == ("eth_blockNumber", [])
    assert first.body["jsonrpc"] == "2.0" and first.body["id"] != second.body["id"]


def test_height_zero_reads_as_0x0(evm: JsonRpcServer) -> None:
    evm.handle("eth_blockNumber", reply("0x0"))
    assert EvmRpcHeight(evm.url).height() == 0


def test_a_node_that_is_down_is_a_connection_failure(evm: JsonRpcServer) -> None:
    source = EvmRpcHeight(evm.url)
    evm.stop()
    with pytest.raises(HeightSourceError, match="connection failed"):
        source.height()


def test_an_http_status_other_than_200_is_an_error(evm: JsonRpcServer) -> None:
    def unavailable(params: object) -> None:
        raise RawReply(503, b"upstream down")

    evm.handle("eth_blockNumber", unavailable)
    with pytest.raises(HeightSourceError, match="HTTP 503"):
        EvmRpcHeight(evm.url).height()


def test_a_body_that_is_not_json_is_an_error(evm: JsonRpcServer) -> None:
    def html(params: object) -> None:
        raise RawReply(200, b"<html>gateway</html>")

    evm.handle("eth_blockNumber", html)
    with pytest.raises(HeightSourceError, match="not JSON"):
        EvmRpcHeight(evm.url).height()


def test_a_json_rpc_error_is_reported_with_its_code_and_message(evm: JsonRpcServer) -> None:
    def failing(params: object) -> None:
        raise RpcFault(-32000, "header not found")

    evm.handle("eth_blockNumber", failing)
    with pytest.raises(HeightSourceError, match="JSON-RPC error -32000: header not found"):
        EvmRpcHeight(evm.url).height()


@pytest.mark.parametrize("result", ["1b4", "436", "0x", "0xzz", 436, None, ["0x1"]])
def test_a_result_that_is_not_a_hex_quantity_is_an_error(evm: JsonRpcServer,
                                                         result: object) -> None:
    evm.handle("eth_blockNumber", reply(result))
    with pytest.raises(HeightSourceError, match="not a 0x-prefixed hex quantity"):
        EvmRpcHeight(evm.url).height()


def test_an_api_key_in_the_url_stays_out_of_error_messages(evm: JsonRpcServer) -> None:
    evm.handle("eth_blockNumber", reply("nope"))
    with pytest.raises(HeightSourceError) as caught:
        EvmRpcHeight(f"{evm.url}/v3/secret-api-key").height()
    assert "secret-api-key" not in str(caught.value)


# --- building from config ---------------------------------------------------------------------


def test_the_default_config_builds_a_clock_from_the_persisted_genesis() -> None:
    source = make_height_source(HeightSourceConfig(), genesis_s=GENESIS_S)
    assert isinstance(source, ClockHeight)
    assert source.height(GENESIS_S + 10.0) == 5  # default slot_s is 2.0


def test_evm_rpc_builds_a_source_on_the_configured_url(evm: JsonRpcServer) -> None:
    evm.handle("eth_blockNumber", reply("0x10"))
    source = make_height_source(HeightSourceConfig(kind="evm_rpc", rpc_url=evm.url),
                                genesis_s=GENESIS_S)
    assert isinstance(source, EvmRpcHeight) and source.height() == 16


def test_evm_rpc_without_a_url_is_a_config_error() -> None:
    with pytest.raises(HeightSourceMisconfigured, match="rpc_url"):
        make_height_source(HeightSourceConfig(kind="evm_rpc"), genesis_s=GENESIS_S)


def test_the_test_server_leaves_no_thread_or_socket_behind() -> None:
    with JsonRpcServer() as server:
        server.handle("eth_blockNumber", reply("0x1"))
        EvmRpcHeight(server.url).height()
    assert server._server.socket.fileno() == -1
    assert not server._thread.is_alive()
