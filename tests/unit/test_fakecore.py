"""The fake Bitcoin Core answers as Core documents, over HTTP, single calls and batches."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from actors.bridge.broadcast_errors import BroadcastUnavailable
from actors.bridge.core import CoreRpc, Fault
from tests.support.fakecore import (
    ALREADY_CONFIRMED,
    DECODE_FAILED,
    DUPLICATE_INPUTS,
    INPUTS_MISSING,
    MEMPOOL_CONFLICT,
    NO_TX_INDEXING,
    NO_TX_WITH_TXINDEX,
    NO_TX_WITHOUT_TXINDEX,
    WARMING_UP,
    FakeCore,
    Sent,
    funding,
    make_tx,
)

pytestmark = pytest.mark.timeout(30)

USER, PASSWORD = "alys", "core-Pa55"


@pytest.fixture
def core() -> Iterator[FakeCore]:
    with FakeCore(auth=(USER, PASSWORD)) as fake:
        yield fake


def call(core: FakeCore, method: str, *params: Any) -> Any:
    reply = CoreRpc(core.url, USER, PASSWORD).call(method, params)
    assert reply.fault is None, reply.fault
    return reply.result


def fault(core: FakeCore, method: str, *params: Any) -> Fault | None:
    return CoreRpc(core.url, USER, PASSWORD).call(method, params).fault


def send(core: FakeCore, tx_hex: str) -> Fault | str:
    reply = CoreRpc(core.url, USER, PASSWORD).call("sendrawtransaction", [tx_hex])
    return reply.fault or reply.result


def test_a_new_transaction_enters_the_mempool_and_is_found_without_a_block(
        core: FakeCore) -> None:
    tx_hex, txid = make_tx(funding("a"))
    assert send(core, tx_hex) == txid
    assert core.mempool == [txid] and core.accepted == [txid]
    found = call(core, "getrawtransaction", txid, True)
    assert (found["txid"], found["hex"]) == (txid, tx_hex)
    assert "blockhash" not in found and "confirmations" not in found
    assert call(core, "getrawtransaction", txid, 0) == tx_hex
    assert call(core, "getrawtransaction", txid) == tx_hex


def test_sending_a_transaction_the_mempool_has_answers_its_txid_and_changes_nothing(
        core: FakeCore) -> None:
    tx_hex, txid = make_tx(funding("a"))
    send(core, tx_hex)
    assert send(core, tx_hex) == txid
    assert core.accepted == [txid]
    assert core.sent == [Sent(txid, txid), Sent(txid, txid)]


def test_a_mined_transaction_counts_confirmations_from_its_block(core: FakeCore) -> None:
    tx_hex, txid = make_tx(funding("a"))
    send(core, tx_hex)
    [block] = core.mine()
    core.mine(2)
    found = call(core, "getrawtransaction", txid, 1)
    assert (found["blockhash"], found["confirmations"]) == (block, 3)
    assert call(core, "getblockcount") == 3 == core.height
    assert call(core, "getbestblockhash") == core.tip
    assert call(core, "getblockhash", 1) == block
    assert core.mempool == [] and core.confirmations(txid) == 3


def test_a_confirmed_transaction_sent_again_is_already_in_the_utxo_set(
        core: FakeCore) -> None:
    tx_hex, _ = make_tx(funding("a"))
    send(core, tx_hex)
    core.mine()
    assert send(core, tx_hex) == Fault(-27, ALREADY_CONFIRMED)


def test_a_confirmed_transaction_whose_outputs_are_spent_finds_its_inputs_missing(
        core: FakeCore) -> None:
    tx_hex, txid = make_tx(funding("a"), outputs=2)
    send(core, tx_hex)
    core.mine()
    core.spend_outputs(txid)
    assert send(core, tx_hex) == Fault(-25, INPUTS_MISSING)
    assert call(core, "getrawtransaction", txid, True)["confirmations"] == 2
    assert call(core, "gettxout", txid, 0, True) is None


def test_without_txindex_a_confirmed_transaction_is_found_only_by_its_unspent_outputs(
        core: FakeCore) -> None:
    core.set_txindex(False)
    tx_hex, txid = make_tx(funding("a"), value_sat=25_000)
    send(core, tx_hex)
    core.mine(2)
    assert fault(core, "getrawtransaction", txid, True) == Fault(-5, NO_TX_WITHOUT_TXINDEX)
    coin = call(core, "gettxout", txid, 0, True)
    assert coin["confirmations"] == 2 and coin["bestblock"] == core.tip
    assert coin["value"] == 0.00025
    assert call(core, "getindexinfo") == {}


def test_an_index_still_syncing_finds_no_chain_transaction(core: FakeCore) -> None:
    tx_hex, txid = make_tx(funding("a"))
    send(core, tx_hex)
    core.mine()
    core.set_txindex(True, synced=False)
    assert call(core, "getindexinfo") == {"txindex": {"synced": False, "best_block_height": 0}}
    assert fault(core, "getrawtransaction", txid, True) == Fault(-5, NO_TX_INDEXING)
    core.set_txindex(True)
    assert call(core, "getindexinfo", "txindex") == {
        "txindex": {"synced": True, "best_block_height": 1}}


def test_an_unknown_transaction_is_not_found(core: FakeCore) -> None:
    assert fault(core, "getrawtransaction", "ab" * 32, True) == Fault(-5, NO_TX_WITH_TXINDEX)
    assert call(core, "gettxout", "ab" * 32, 0) is None
    assert fault(core, "getrawtransaction", "abc", True) == Fault(
        -8, "txid must be of length 64 (not 3, for 'abc')")


def test_a_double_spend_in_the_mempool_replaces_the_first_by_default(core: FakeCore) -> None:
    coins = funding("a")
    first_hex, first = make_tx(coins, tag="first")
    child_hex, child = make_tx([(first, 0)], tag="child")
    second_hex, second = make_tx(coins, tag="second")
    send(core, first_hex)
    send(core, child_hex)
    assert send(core, second_hex) == second
    assert core.mempool == [second]  # the first went, and its child with it
    core.allow_replacement = False
    assert send(core, first_hex) == Fault(-26, MEMPOOL_CONFLICT)
    assert core.accepted == [first, child, second]


def test_a_double_spend_in_the_chain_evicts_the_mempool_one_and_its_inputs_are_missing(
        core: FakeCore) -> None:
    tx_hex, txid = make_tx(funding("a"))
    send(core, tx_hex)
    core.spend_inputs(tx_hex)
    assert core.confirmations(txid) is None
    assert send(core, tx_hex) == Fault(-25, INPUTS_MISSING)


def test_a_funding_coin_marked_missing_makes_the_inputs_missing(core: FakeCore) -> None:
    [coin] = funding("a")
    core.mark_missing(*coin)
    assert send(core, make_tx([coin])[0]) == Fault(-25, INPUTS_MISSING)


def test_a_reorg_returns_its_transactions_to_the_mempool(core: FakeCore) -> None:
    tx_hex, txid = make_tx(funding("a"))
    send(core, tx_hex)
    [old] = core.mine()
    [new] = core.reorg(1)
    assert new != old and core.tip == new and core.height == 1
    assert core.mempool == [txid]
    assert "confirmations" not in call(core, "getrawtransaction", txid, True)
    core.mine()
    assert core.confirmations(txid) == 1


def test_a_dropped_transaction_keeps_its_stale_block_in_the_txindex_with_0_confirmations(
        core: FakeCore) -> None:
    tx_hex, txid = make_tx(funding("a"))
    child_hex, child = make_tx([(txid, 0)])
    send(core, tx_hex)
    [stale] = core.mine()
    send(core, child_hex)
    core.reorg(1, return_to_mempool=False)
    assert core.mempool == [] and core.confirmations(txid) is None
    found = call(core, "getrawtransaction", txid, True)
    assert (found["blockhash"], found["confirmations"]) == (stale, 0)
    assert call(core, "getrawtransaction", txid, True, stale)["in_active_chain"] is False
    assert send(core, tx_hex) == txid  # its inputs are free again
    assert core.accepted == [txid, child, txid]


def test_an_evicted_transaction_leaves_with_its_descendants_and_can_be_sent_again(
        core: FakeCore) -> None:
    tx_hex, txid = make_tx(funding("a"))
    child_hex, child = make_tx([(txid, 0)])
    send(core, tx_hex)
    send(core, child_hex)
    assert core.evict(txid) == [txid, child]
    assert core.mempool == []
    assert send(core, tx_hex) == txid


def test_gettxout_sees_the_mempool_only_when_asked_to(core: FakeCore) -> None:
    tx_hex, txid = make_tx(funding("a"))
    send(core, tx_hex)
    assert call(core, "gettxout", txid, 0, True)["confirmations"] == 0
    assert call(core, "gettxout", txid, 0, False) is None
    core.mine()
    send(core, make_tx([(txid, 0)])[0])  # spent in the mempool
    assert call(core, "gettxout", txid, 0) is None
    assert call(core, "gettxout", txid, 0, False)["confirmations"] == 1
    assert call(core, "gettxout", txid, 1) is None  # no such output


def test_a_transaction_that_does_not_decode_is_refused_and_recorded(core: FakeCore) -> None:
    assert send(core, "0200") == Fault(-22, DECODE_FAILED)
    assert core.sent == [Sent(None, (-22, DECODE_FAILED))]


def test_scripted_refusals_and_a_warming_up_core(core: FakeCore) -> None:
    tx_hex, txid = make_tx(funding("a"))
    core.refuse_next(-26, "min relay fee not met")
    core.unavailable(2)
    assert send(core, tx_hex) == Fault(-28, WARMING_UP)
    assert fault(core, "getblockcount") == Fault(-28, WARMING_UP)
    assert send(core, tx_hex) == Fault(-26, "min relay fee not met")
    assert send(core, tx_hex) == txid
    assert [entry.result for entry in core.sent] == [
        (-28, WARMING_UP), (-26, "min relay fee not met"), txid]


def test_a_batch_is_answered_in_order_from_one_http_request(core: FakeCore) -> None:
    tx_hex, txid = make_tx(funding("a"))
    send(core, tx_hex)
    replies = CoreRpc(core.url, USER, PASSWORD).call_many(
        [("getrawtransaction", [txid, True]), ("getrawtransaction", ["cd" * 32, True]),
         ("getblockcount", [])])
    assert replies[0].result["txid"] == txid
    assert replies[1].fault == Fault(-5, NO_TX_WITH_TXINDEX)
    assert replies[2].result == 0
    batch = [request for request in core.requests if request.method != "sendrawtransaction"]
    assert len(batch) == 3 and len({request.post for request in batch}) == 1


def test_wrong_credentials_get_a_bare_401(core: FakeCore) -> None:
    with pytest.raises(BroadcastUnavailable, match="HTTP 401"):
        CoreRpc(core.url, USER, "wrong").call("getblockcount")


def test_after_a_reorg_a_returned_parent_is_mined_before_its_child(core: FakeCore) -> None:
    parent_hex, parent = make_tx(funding("a"))
    child_hex, child = make_tx([(parent, 0)])
    send(core, parent_hex)
    core.mine()
    send(core, child_hex)
    core.reorg(1)
    assert core.mempool == [child, parent]
    [block] = core.mine()
    assert call(core, "getrawtransaction", parent, True)["blockhash"] == block
    assert core.confirmations(parent) == core.confirmations(child) == 1


def test_a_transaction_spending_one_coin_twice_is_refused(core: FakeCore) -> None:
    [coin] = funding("a")
    assert send(core, make_tx([coin, coin])[0]) == Fault(-26, DUPLICATE_INPUTS)


def test_a_send_hook_sees_each_verdict_before_the_caller_and_may_move_the_chain(
        core: FakeCore) -> None:
    seen: list[tuple[Sent, int | None]] = []

    def hook(sent: Sent) -> None:
        seen.append((sent, core.confirmations(sent.txid or "")))
        if isinstance(sent.result, str):
            core.mine()  # the controls work from the hook: it runs outside the lock

    core.on_send(hook)
    tx_hex, txid = make_tx(funding("a"))
    assert send(core, tx_hex) == txid
    # Mined by the hook before the first answer went out.
    assert send(core, tx_hex) == Fault(-27, ALREADY_CONFIRMED)
    core.on_send(None)
    send(core, tx_hex)
    assert seen == [(Sent(txid, txid), 0), (Sent(txid, (-27, ALREADY_CONFIRMED)), 1)]
    assert core.confirmations(txid) == 1
