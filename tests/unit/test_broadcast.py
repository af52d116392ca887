"""Broadcasters: the fsynced spool and Bitcoin Core's sendrawtransaction."""

from __future__ import annotations

import base64
import os
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from actors.bridge.broadcast import (
    BroadcasterMisconfigured,
    BroadcastError,
    BroadcastRejected,
    BroadcastUnavailable,
    SpoolCorrupt,
    followable,
    make_broadcaster,
)
from actors.bridge.rpc import BitcoinRpcBroadcaster
from actors.bridge.spool import SpoolBroadcaster, read_spool
from nodeconfig import BroadcasterConfig
from tests.support.jsonrpc import JsonRpcServer, RpcFault

TX_A, TXID_A = "0200aa", "a" * 64
TX_B, TXID_B = "0200bb", "b" * 64
TX_C, TXID_C = "0200cc", "c" * 64


@pytest.fixture
def spool_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "broadcast.spool"


@pytest.fixture
def spool(spool_path: Path) -> Iterator[SpoolBroadcaster]:
    with SpoolBroadcaster(spool_path) as broadcaster:
        yield broadcaster


# --- the spool ------------------------------------------------------------------------------


def test_the_spool_creates_its_directory_and_file(spool: SpoolBroadcaster,
                                                  spool_path: Path) -> None:
    assert spool_path.is_file() and spool_path.read_bytes() == b""
    assert spool.txids() == frozenset()


def test_a_new_transaction_is_appended_as_one_line(spool: SpoolBroadcaster,
                                                   spool_path: Path) -> None:
    assert spool.broadcast(TX_A, TXID_A) is True
    assert spool_path.read_text() == f"{TXID_A} {TX_A}\n"
    assert spool.txids() == {TXID_A}


def test_a_txid_already_spooled_is_not_appended_again(spool: SpoolBroadcaster,
                                                      spool_path: Path) -> None:
    spool.broadcast(TX_A, TXID_A)
    assert spool.broadcast(TX_A, TXID_A) is False
    assert read_spool(spool_path) == [(TXID_A, TX_A)]


def test_lines_are_fsynced_in_the_order_they_were_broadcast(
        spool: SpoolBroadcaster, spool_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[list[tuple[str, str]]] = []
    real_fsync = os.fsync

    def fsync_and_snapshot(fd: int) -> None:
        real_fsync(fd)
        synced.append([tuple(entry) for entry in read_spool(spool_path)])

    monkeypatch.setattr(os, "fsync", fsync_and_snapshot)
    for tx_hex, txid in [(TX_B, TXID_B), (TX_A, TXID_A), (TX_C, TXID_C)]:
        spool.broadcast(tx_hex, txid)
    # Each broadcast returned only after its own line was on disk, behind the earlier ones.
    assert synced == [
        [(TXID_B, TX_B)],
        [(TXID_B, TX_B), (TXID_A, TX_A)],
        [(TXID_B, TX_B), (TXID_A, TX_A), (TXID_C, TX_C)],
    ]


def test_reopening_the_spool_keeps_its_index(spool_path: Path) -> None:
    with SpoolBroadcaster(spool_path) as first:
        first.broadcast(TX_A, TXID_A)
        first.broadcast(TX_B, TXID_B)
    with SpoolBroadcaster(spool_path) as second:
        assert second.txids() == {TXID_A, TXID_B}
        assert second.broadcast(TX_A, TXID_A) is False
    assert len(read_spool(spool_path)) == 2


def test_a_torn_last_line_is_cut_away_and_its_transaction_appended_again(
        spool_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    whole = f"{TXID_A} {TX_A}\n"
    torn = f"{TXID_B} {TX_B[:3]}"  # a SIGKILL in the middle of the second append
    spool_path.parent.mkdir(parents=True)
    spool_path.write_text(whole + torn)
    assert read_spool(spool_path) == [(TXID_A, TX_A)]  # readers skip it without repairing
    with caplog.at_level("WARNING", logger="alys.bridge.broadcast"):
        spool = SpoolBroadcaster(spool_path)
    with spool:
        assert spool_path.read_text() == whole
        assert f"{len(torn)} bytes" in caplog.text
        assert spool.txids() == {TXID_A}
        assert spool.broadcast(TX_B, TXID_B) is True
    assert spool_path.read_text() == whole + f"{TXID_B} {TX_B}\n"


def test_a_malformed_line_before_the_last_is_corruption_not_a_tear(spool_path: Path) -> None:
    spool_path.parent.mkdir(parents=True)
    spool_path.write_text(f"{TXID_A}\n{TXID_B} {TX_B}\n")
    with pytest.raises(SpoolCorrupt, match="line 1"):
        SpoolBroadcaster(spool_path)


def test_broadcast_many_appends_the_new_ones_with_a_single_fsync(
        spool: SpoolBroadcaster, spool_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spool.broadcast(TX_A, TXID_A)
    calls: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append(fd), real_fsync(fd)))
    appended = spool.broadcast_many([(TX_A, TXID_A), (TX_B, TXID_B), (TX_C, TXID_C),
                                     (TX_B, TXID_B)])
    assert appended == 2 and len(calls) == 1
    assert read_spool(spool_path) == [(TXID_A, TX_A), (TXID_B, TX_B), (TXID_C, TX_C)]
    assert spool.broadcast_many([(TX_C, TXID_C)]) == 0 and len(calls) == 1


def test_read_spool_names_each_field(spool: SpoolBroadcaster, spool_path: Path) -> None:
    spool.broadcast(TX_A, TXID_A)
    [entry] = read_spool(spool_path)
    assert (entry.txid, entry.tx_hex) == (TXID_A, TX_A)


def test_a_failed_fsync_leaves_nothing_spooled(spool: SpoolBroadcaster, spool_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(BroadcastUnavailable, match="append failed"):
        spool.broadcast(TX_A, TXID_A)
    monkeypatch.undo()
    assert spool.txids() == frozenset() and spool_path.read_bytes() == b""
    assert spool.broadcast(TX_A, TXID_A) is True


def test_a_second_broadcaster_on_the_same_spool_is_refused(spool: SpoolBroadcaster,
                                                           spool_path: Path) -> None:
    with pytest.raises(BroadcastUnavailable, match="already open"):
        SpoolBroadcaster(spool_path)


@pytest.mark.parametrize(("tx_hex", "txid"), [("0200aa", "has space"), ("02 0a", TXID_A),
                                             ("0200a", TXID_A), ("", TXID_A)])
def test_values_that_would_break_the_line_format_are_refused(
        spool: SpoolBroadcaster, tx_hex: str, txid: str) -> None:
    with pytest.raises(ValueError):
        spool.broadcast(tx_hex, txid)


# --- Bitcoin Core over JSON-RPC ---------------------------------------------------------------

USER, PASSWORD = "alys", "s3cret-Pa55"


@pytest.fixture
def bitcoind() -> Iterator[JsonRpcServer]:
    with JsonRpcServer(auth=(USER, PASSWORD)) as server:
        yield server


def rpc(server: JsonRpcServer, password: str = PASSWORD) -> BitcoinRpcBroadcaster:
    return BitcoinRpcBroadcaster(server.url, USER, password, timeout_s=5.0)


def refuse(code: int, message: str) -> object:
    def handler(params: list[str]) -> str:
        raise RpcFault(code, message)

    return handler


def test_sendrawtransaction_is_called_with_the_hex_and_basic_auth(
        bitcoind: JsonRpcServer) -> None:
    bitcoind.handle("sendrawtransaction", lambda params: TXID_A)
    assert rpc(bitcoind).broadcast(TX_A, TXID_A) is True
    [request] = bitcoind.requests
    assert request.method == "sendrawtransaction" and request.params == [TX_A]
    assert request.body["jsonrpc"] == "1.0" and "id" in request.body
    scheme, token = request.authorization.split(" ")
    assert scheme == "Basic"
    assert base64.b64decode(token).decode() == f"{USER}:{PASSWORD}"


@pytest.mark.parametrize(("code", "message"), [
    (-27, "Transaction outputs already in utxo set"),
    (-27, "Transaction already in block chain"),
    (-26, "txn-already-in-mempool"),
    (-26, "258: txn-already-in-mempool"),
    (-26, "txn-already-known"),
    (-26, "txn-same-nonwitness-data-in-mempool"),
    (-25, "Transaction already in block chain"),
    (-25, "txn-already-known"),
])
def test_a_transaction_the_network_already_has_counts_as_broadcast(
        bitcoind: JsonRpcServer, code: int, message: str) -> None:
    bitcoind.handle("sendrawtransaction", refuse(code, message))
    assert rpc(bitcoind).broadcast(TX_A, TXID_A) is False


@pytest.mark.parametrize(("code", "message"), [
    (-26, "bad-txns-inputs-missingorspent"),
    (-25, "bad-txns-inputs-missingorspent"),
    (-26, "txn-mempool-conflict"),
    (-26, "min relay fee not met, 100 < 141"),
    (-22, "TX decode failed"),
])
def test_a_real_rejection_raises_with_its_code_and_message(
        bitcoind: JsonRpcServer, code: int, message: str) -> None:
    bitcoind.handle("sendrawtransaction", refuse(code, message))
    with pytest.raises(BroadcastRejected) as caught:
        rpc(bitcoind).broadcast(TX_A, TXID_A)
    assert (caught.value.code, caught.value.message) == (code, message)
    assert caught.value.retryable is False
    # It crosses actor processes intact.
    copy = pickle.loads(pickle.dumps(caught.value))
    assert (copy.code, copy.message, str(copy)) == (code, message, str(caught.value))


@pytest.mark.parametrize(("code", "message", "inputs_spent"), [
    (-25, "bad-txns-inputs-missingorspent", True),
    (-25, "Inputs missing or spent", True),
    (-25, "Missing inputs", True),
    (-26, "bad-txns-inputs-missingorspent", True),
    (-26, "txn-mempool-conflict", True),
    (-26, "insufficient fee, rejecting replacement " + "ab" * 32 + "; new feerate 0.0001 "
          "BTC/kvB <= old feerate 0.0002 BTC/kvB", True),
    (-26, "min relay fee not met, 100 < 141", False),
    (-26, "mandatory-script-verify-flag-failed (Signature must be zero for failed "
          "CHECK(MULTI)SIG operation)", False),
    (-22, "TX decode failed", False),
    (-22, "missing inputs", False),  # the reason without its code is not enough
])
def test_a_rejection_says_whether_the_inputs_are_missing_or_spent(
        bitcoind: JsonRpcServer, code: int, message: str, inputs_spent: bool) -> None:
    bitcoind.handle("sendrawtransaction", refuse(code, message))
    with pytest.raises(BroadcastRejected) as caught:
        rpc(bitcoind).broadcast(TX_A, TXID_A)
    assert caught.value.inputs_spent is inputs_spent
    assert pickle.loads(pickle.dumps(caught.value)).inputs_spent is inputs_spent


def test_an_rpc_error_that_is_no_verdict_on_the_tx_is_retryable(
        bitcoind: JsonRpcServer) -> None:
    bitcoind.handle("sendrawtransaction", refuse(-28, "Loading block index..."))
    with pytest.raises(BroadcastUnavailable, match="-28") as caught:
        rpc(bitcoind).broadcast(TX_A, TXID_A)
    assert caught.value.retryable is True


def test_wrong_credentials_say_authentication_failed_and_never_show_the_password(
        bitcoind: JsonRpcServer) -> None:
    bitcoind.handle("sendrawtransaction", lambda params: TXID_A)
    wrong = "not-the-" + PASSWORD
    with pytest.raises(BroadcastUnavailable, match="authentication failed") as caught:
        rpc(bitcoind, password=wrong).broadcast(TX_A, TXID_A)
    assert caught.value.retryable is True
    assert wrong not in str(caught.value) and PASSWORD not in str(caught.value)


def test_a_server_that_is_down_is_unavailable(bitcoind: JsonRpcServer) -> None:
    broadcaster = rpc(bitcoind)
    bitcoind.stop()
    with pytest.raises(BroadcastUnavailable, match="unreachable") as caught:
        broadcaster.broadcast(TX_A, TXID_A)
    assert isinstance(caught.value, BroadcastError) and caught.value.retryable


def test_broadcast_many_over_rpc_counts_the_new_ones(bitcoind: JsonRpcServer) -> None:
    known = {TXID_B}

    def send(params: list[str]) -> str:
        txid = {TX_A: TXID_A, TX_B: TXID_B}[params[0]]
        if txid in known:
            raise RpcFault(-27, "Transaction outputs already in utxo set")
        return txid

    bitcoind.handle("sendrawtransaction", send)
    assert rpc(bitcoind).broadcast_many([(TX_A, TXID_A), (TX_B, TXID_B)]) == 1
    assert [request.params for request in bitcoind.requests] == [[TX_A], [TX_B]]


# --- building from config ---------------------------------------------------------------------


def test_the_default_config_builds_a_spool(spool_path: Path) -> None:
    broadcaster = make_broadcaster(BroadcasterConfig(spool_path=str(spool_path)), env={})
    assert isinstance(broadcaster, SpoolBroadcaster)
    broadcaster.close()


def test_only_the_bitcoin_core_broadcaster_is_followed(spool: SpoolBroadcaster,
                                                      bitcoind: JsonRpcServer) -> None:
    assert (spool.follows, followable(spool)) == (False, None)
    core = rpc(bitcoind)
    assert core.follows is True and followable(core) is core


def test_bitcoin_rpc_takes_its_credentials_from_the_named_variables(
        bitcoind: JsonRpcServer) -> None:
    bitcoind.handle("sendrawtransaction", lambda params: TXID_A)
    config = BroadcasterConfig(kind="bitcoin_rpc", rpc_url=bitcoind.url,
                               rpc_user_env="BTC_USER", rpc_password_env="BTC_PASS")
    broadcaster = make_broadcaster(config, env={"BTC_USER": USER, "BTC_PASS": PASSWORD})
    assert broadcaster.broadcast(TX_A, TXID_A) is True


def test_a_missing_credential_variable_is_named_without_any_value() -> None:
    config = BroadcasterConfig(kind="bitcoin_rpc", rpc_url="http://127.0.0.1:18443",
                               rpc_user_env="BTC_USER", rpc_password_env="BTC_PASS")
    with pytest.raises(BroadcasterMisconfigured, match="BTC_PASS") as caught:
        make_broadcaster(config, env={"BTC_USER": "alys-user"})
    assert "alys-user" not in str(caught.value)


def test_bitcoin_rpc_without_a_url_is_a_config_error() -> None:
    with pytest.raises(BroadcasterMisconfigured, match="rpc_url"):
        make_broadcaster(BroadcasterConfig(kind="bitcoin_rpc"), env={})


@pytest.mark.parametrize("message", ["too-long-mempool-chain, too many descendants",
                                     "mempool min fee not met, 100 < 250", "mempool full"])
def test_a_refusal_about_the_mempools_state_is_retried_not_a_verdict(message: str) -> None:
    with JsonRpcServer() as server:
        def refuse(params: list[Any]) -> Any:
            raise RpcFault(-26, message)
        server.handle("sendrawtransaction", refuse)
        broadcaster = BitcoinRpcBroadcaster(server.url, None, None)
        with pytest.raises(BroadcastUnavailable) as caught:
            broadcaster.broadcast("00" * 60, "ab" * 32)
    assert caught.value.retryable and message in str(caught.value)
