"""What the Bitcoin Core broadcaster finds of its transactions, against the fake Core."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from embit.script import Script
from embit.transaction import Transaction, TransactionInput, TransactionOutput

from actors.bridge.broadcast import (
    BitcoinRpcBroadcaster,
    BroadcastRejected,
    BroadcastUnavailable,
    Seen,
)
from tests.support.fakecore import FakeCore, funding, make_tx
from tests.support.jsonrpc import JsonRpcServer, RpcFault

pytestmark = pytest.mark.timeout(30)

USER, PASSWORD = "alys", "core-Pa55"


@pytest.fixture
def core() -> Iterator[FakeCore]:
    with FakeCore(auth=(USER, PASSWORD)) as fake:
        yield fake


def rpc(url: str, password: str = PASSWORD) -> BitcoinRpcBroadcaster:
    return BitcoinRpcBroadcaster(url, USER, password, timeout_s=5.0)


def sent(core: FakeCore, tag: str, **kwargs: Any) -> tuple[str, str]:
    """(txid, tx_hex) of a transaction the fake has in its mempool."""
    tx_hex, txid = make_tx(funding(tag), tag=tag, **kwargs)
    assert rpc(core.url).broadcast(tx_hex, txid) is True
    return txid, tx_hex


def test_a_transaction_in_the_mempool_is_seen_there(core: FakeCore) -> None:
    txid, tx_hex = sent(core, "a")
    assert rpc(core.url).find(txid, tx_hex) == Seen(txid, "mempool")


def test_a_confirmed_transaction_is_seen_with_its_confirmations_and_block(
        core: FakeCore) -> None:
    txid, tx_hex = sent(core, "a")
    [block] = core.mine()
    core.mine(5)
    seen = rpc(core.url).find(txid, tx_hex)
    assert seen == Seen(txid, "confirmed", 6, block) and seen.known


def test_a_transaction_core_never_had_is_unknown(core: FakeCore) -> None:
    tx_hex, txid = make_tx(funding("never"))
    seen = rpc(core.url).find(txid, tx_hex)
    assert seen == Seen(txid, "unknown") and not seen.known


def test_without_txindex_a_confirmed_transaction_is_found_by_an_unspent_output(
        core: FakeCore) -> None:
    core.set_txindex(False)
    txid, tx_hex = sent(core, "a")
    core.mine(3)
    assert rpc(core.url).find(txid, tx_hex) == Seen(txid, "confirmed", 3)
    asked = [r.params for r in core.requests if r.method == "gettxout"]
    assert asked == [[txid, 0, True]]


def test_without_txindex_a_confirmed_transaction_with_its_outputs_spent_is_unknown(
        core: FakeCore) -> None:
    core.set_txindex(False)
    txid, tx_hex = sent(core, "a", outputs=2)
    core.mine()
    core.spend_outputs(txid)
    assert rpc(core.url).find(txid, tx_hex) == Seen(txid, "unknown")


def test_with_txindex_a_confirmed_transaction_with_its_outputs_spent_is_found(
        core: FakeCore) -> None:
    txid, tx_hex = sent(core, "a")
    core.mine()
    core.spend_outputs(txid)
    assert rpc(core.url).find(txid, tx_hex).state == "confirmed"


def test_a_reorg_puts_a_transaction_back_in_the_mempool(core: FakeCore) -> None:
    txid, tx_hex = sent(core, "a")
    core.mine()
    core.reorg(1)
    assert rpc(core.url).find(txid, tx_hex) == Seen(txid, "mempool")


def test_a_transaction_only_in_a_stale_block_is_unknown(core: FakeCore) -> None:
    txid, tx_hex = sent(core, "a")
    core.mine()
    core.reorg(1, return_to_mempool=False)
    assert rpc(core.url).find(txid, tx_hex) == Seen(txid, "unknown")


def test_following_a_hundred_found_transactions_is_one_http_request(core: FakeCore) -> None:
    items = [sent(core, f"t{n}") for n in range(100)]
    core.mine()
    before = len(core.requests)
    seen = rpc(core.url).follow(items)
    assert list(seen) == [txid for txid, _ in items]
    assert all(s.state == "confirmed" and s.confirmations == 1 for s in seen.values())
    assert len({r.post for r in core.requests[before:]}) == 1


def test_those_not_found_are_looked_up_by_their_outputs_in_a_second_batch(
        core: FakeCore) -> None:
    core.set_txindex(False)
    confirmed = sent(core, "confirmed", outputs=2)
    core.mine()
    waiting = sent(core, "waiting")
    missing_hex, missing = make_tx(funding("missing"))
    before = len(core.requests)
    seen = rpc(core.url).follow([confirmed, waiting, (missing, missing_hex)])
    assert seen == {confirmed[0]: Seen(confirmed[0], "confirmed", 1),
                    waiting[0]: Seen(waiting[0], "mempool"),
                    missing: Seen(missing, "unknown")}
    requests = core.requests[before:]
    assert [r.method for r in requests].count("gettxout") == 3
    assert len({r.post for r in requests}) == 2


def test_outputs_that_can_never_be_unspent_are_not_asked_about(core: FakeCore) -> None:
    [coin] = funding("a")
    tx = Transaction(vin=[TransactionInput(bytes.fromhex(coin[0]), coin[1])],
                     vout=[TransactionOutput(0, Script(b"\x6a\x04data")),
                           TransactionOutput(5_000, Script(b"\x00\x14" + b"\x01" * 20))])
    tx_hex, txid = tx.serialize().hex(), tx.txid().hex()
    core.set_txindex(False)
    rpc(core.url).find(txid, tx_hex)
    assert [r.params for r in core.requests if r.method == "gettxout"] == [[txid, 1, True]]


def test_following_nothing_asks_nothing(core: FakeCore) -> None:
    assert rpc(core.url).follow([]) == {}
    assert core.requests == []


def test_arguments_in_the_broadcast_order_are_refused_before_asking(core: FakeCore) -> None:
    tx_hex, txid = make_tx(funding("a"))
    with pytest.raises(ValueError, match="64 hex digits"):
        rpc(core.url).find(tx_hex, txid)  # (tx_hex, txid), as broadcast takes them
    assert core.requests == []


def test_a_tx_hex_that_is_not_the_txid_is_refused_when_its_outputs_are_needed(
        core: FakeCore) -> None:
    _, txid = make_tx(funding("a"))
    other_hex, _ = make_tx(funding("b"))
    with pytest.raises(ValueError, match=f"given for {txid} is transaction"):
        rpc(core.url).find(txid, other_hex)


def test_a_core_warming_up_cannot_be_asked(core: FakeCore) -> None:
    txid, tx_hex = sent(core, "a")
    core.unavailable(1)
    with pytest.raises(BroadcastUnavailable, match=r"getrawtransaction .*error -28"):
        rpc(core.url).find(txid, tx_hex)


def test_a_core_that_is_down_or_refuses_the_credentials_cannot_be_asked(
        core: FakeCore) -> None:
    txid, tx_hex = sent(core, "a")
    with pytest.raises(BroadcastUnavailable, match="authentication failed"):
        rpc(core.url, password="wrong").follow([(txid, tx_hex)])
    core.stop()
    with pytest.raises(BroadcastUnavailable, match="unreachable"):
        rpc(core.url).follow([(txid, tx_hex)])


@pytest.mark.parametrize("answer", ["not an object", {"blockhash": "00" * 32},
                                    {"confirmations": 3}, {"blockhash": 1, "confirmations": 2}])
def test_a_getrawtransaction_answer_out_of_shape_cannot_be_trusted(answer: Any) -> None:
    tx_hex, txid = make_tx(funding("a"))
    with JsonRpcServer() as server:
        server.handle("getrawtransaction", lambda params: answer)
        with pytest.raises(BroadcastUnavailable, match=f"getrawtransaction {txid} answered"):
            rpc(server.url).find(txid, tx_hex)


# --- Core's indexes and height ----------------------------------------------------------------


def test_txindex_is_true_only_when_on_and_synced(core: FakeCore) -> None:
    assert rpc(core.url).txindex() is True
    core.set_txindex(True, synced=False)
    assert rpc(core.url).txindex() is None
    core.set_txindex(False)
    assert rpc(core.url).txindex() is False


def test_txindex_cannot_be_told_from_a_core_warming_up_or_down(core: FakeCore) -> None:
    core.unavailable(1)
    assert rpc(core.url).txindex() is None
    core.stop()
    assert rpc(core.url).txindex() is None


def test_a_core_without_getindexinfo_counts_as_having_no_txindex(
        caplog: pytest.LogCaptureFixture) -> None:
    with JsonRpcServer() as old_core, caplog.at_level("WARNING", "alys.bridge.broadcast"):
        assert rpc(old_core.url).txindex() is False
    assert "no getindexinfo" in caplog.text


def test_block_count_is_the_height_of_the_best_chain(core: FakeCore) -> None:
    core.mine(7)
    assert rpc(core.url).block_count() == 7
    core.unavailable(1)
    with pytest.raises(BroadcastUnavailable, match="getblockcount"):
        rpc(core.url).block_count()


# --- "inputs missing or spent", then a look at the txid ---------------------------------------


def test_a_paid_transaction_refused_for_spent_inputs_is_found_confirmed(
        core: FakeCore) -> None:
    txid, tx_hex = sent(core, "a")
    core.mine()
    core.spend_outputs(txid)
    broadcaster = rpc(core.url)
    with pytest.raises(BroadcastRejected) as caught:
        broadcaster.broadcast(tx_hex, txid)
    assert caught.value.inputs_spent
    assert broadcaster.find(txid, tx_hex).state == "confirmed"


def test_a_double_spent_transaction_refused_for_spent_inputs_is_unknown(
        core: FakeCore) -> None:
    tx_hex, txid = make_tx(funding("a"))
    core.spend_inputs(tx_hex)
    broadcaster = rpc(core.url)
    with pytest.raises(BroadcastRejected) as caught:
        broadcaster.broadcast(tx_hex, txid)
    assert caught.value.inputs_spent
    assert broadcaster.find(txid, tx_hex) == Seen(txid, "unknown")


def test_a_mempool_conflict_is_inputs_spent_too(core: FakeCore) -> None:
    coins = funding("a")
    first_hex, first = make_tx(coins, tag="first")
    second_hex, second = make_tx(coins, tag="second")
    core.allow_replacement = False
    broadcaster = rpc(core.url)
    broadcaster.broadcast(first_hex, first)
    with pytest.raises(BroadcastRejected) as caught:
        broadcaster.broadcast(second_hex, second)
    assert (caught.value.code, caught.value.inputs_spent) == (-26, True)
    assert broadcaster.find(second, second_hex) == Seen(second, "unknown")


def test_a_rejection_of_the_transaction_itself_is_not_inputs_spent(core: FakeCore) -> None:
    tx_hex, txid = make_tx(funding("a"))
    core.refuse_next(-26, "min relay fee not met, 100 < 141")
    with pytest.raises(BroadcastRejected) as caught:
        rpc(core.url).broadcast(tx_hex, txid)
    assert caught.value.inputs_spent is False


def test_a_getrawtransaction_error_other_than_not_found_is_unavailable() -> None:
    tx_hex, txid = make_tx(funding("a"))

    def refuse(params: Any) -> None:
        raise RpcFault(-1, "something odd")

    with JsonRpcServer() as server:
        server.handle("getrawtransaction", refuse)
        with pytest.raises(BroadcastUnavailable, match="error -1: something odd"):
            rpc(server.url).find(txid, tx_hex)
