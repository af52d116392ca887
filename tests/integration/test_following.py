"""Broadcast peg-outs followed through Bitcoin Core: a real node with `bitcoin_rpc` against
the fake Core (`tests.support.fakecore`), which runs in this process on 127.0.0.1.

The node's bridge reaches the fake over HTTP. What happened is judged from the fake's
record (`accepted`, `sent`), its chain, the peg-outs' status and the node's log and
metrics.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from actors.bridge.core import CoreRpc
from actors.messages import InitiatePegout, PegoutAccepted, PegoutRejected, PegoutResolved
from harness.mock import MockGovernance
from harness.nodes import LocalNode, log_text
from harness.pegouts import txid_of
from harness.waiting import wait_until
from tests.support.fakecore import INPUTS_MISSING, TRANSACTION_ERROR, FakeCore, Sent
from tests.support.pegouts import (
    initiate,
    pegout,
    pegout_node,
    running_pid,
    status,
    wait_pegout,
    wait_stored,
)

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]

USER, PASSWORD = "alys-core", "fake core secret"
USER_ENV, PASSWORD_ENV = "ALYS_TEST_CORE_USER", "ALYS_TEST_CORE_PASSWORD"
CONFIRMATIONS = 3
FOLLOW_INTERVAL_S = 0.2


@pytest.fixture
def core(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeCore]:
    # The node's processes inherit this environment: the config names the variables.
    monkeypatch.setenv(USER_ENV, USER)
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    with FakeCore(auth=(USER, PASSWORD)) as fake:
        yield fake


def following_bridge(core: FakeCore) -> dict[str, Any]:
    return {"broadcaster": {"kind": "bitcoin_rpc", "rpc_url": core.url,
                            "rpc_user_env": USER_ENV, "rpc_password_env": PASSWORD_ENV},
            "confirmations": CONFIRMATIONS, "follow_interval_s": FOLLOW_INTERVAL_S}


@contextmanager
def following_node(tmp_path: Path, core: FakeCore) -> Iterator[tuple[LocalNode, MockGovernance]]:
    with pegout_node(tmp_path, bridge=following_bridge(core)) as (node, mock):
        yield node, mock


def metric(sample: str) -> float:
    """The value of one sample (`name{labels}`) the node's processes exposed; 0 if absent."""
    from runtime import metrics  # after the node set the metrics directory

    prefix = f"{sample} "
    for line in metrics.exposition().decode().splitlines():
        if line.startswith(prefix):
            return float(line.removeprefix(prefix))
    return 0.0


CONFIRMED_TOTAL = 'alys_pegouts_total{event="confirmed"}'
CONFIRMED_TIMED = "alys_pegout_accepted_to_confirmed_seconds_count"
OLDEST_UNCONFIRMED = "alys_pegout_oldest_unconfirmed_seconds"
NEEDS_REVIEW = "alys_pegouts_needs_review"


def broadcast(node: LocalNode, core: FakeCore, request: InitiatePegout) -> str:
    """Send the peg-out; its txid once the fake's mempool took it and the bridge says so."""
    assert initiate(node, [request]) == [PegoutAccepted(request.request_id)]
    txid = txid_of(request)
    wait_until(lambda: txid in core.accepted, timeout=60,
               message=lambda: f"{request.request_id} never reached Core: {core.sent}")
    final = wait_pegout(node, request.request_id, "broadcast")
    assert final.txid == txid
    wait_stored(node, request.request_id, "broadcast")  # what a killed bridge loads
    return txid


def wait_confirmations(node: LocalNode, request_id: str, confirmations: int) -> None:
    wait_until(lambda: status(node, request_id).confirmations == confirmations, timeout=30,
               message=lambda: f"{request_id} never at {confirmations} confirmations: "
               f"{status(node, request_id)}")


def sends_of(core: FakeCore, txid: str) -> list[Sent]:
    return [sent for sent in core.sent if sent.txid == txid]


def preload(core: FakeCore, request: InitiatePegout) -> str:
    """Hand the peg-out's transaction to Core as someone else would (the unsigned bytes
    have the signed one's txid: its signatures are witness data)."""
    reply = CoreRpc(core.url, USER, PASSWORD).call("sendrawtransaction", [request.tx_hex])
    assert reply.fault is None, reply.fault
    assert reply.result == txid_of(request)
    return str(reply.result)


def kill_bridge(node: LocalNode) -> None:
    pid = running_pid(node, "bridge")
    assert pid is not None, "the bridge is not running"
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: running_pid(node, "bridge") not in (None, pid), timeout=60,
               message="the bridge was not restarted")


def test_a_broadcast_pegout_gains_confirmations_as_blocks_are_mined_until_it_is_confirmed(
        tmp_path: Path, core: FakeCore) -> None:
    with following_node(tmp_path, core) as (node, _mock):
        confirmed_before = metric(CONFIRMED_TOTAL)
        accepted_at = time.time()
        txid = broadcast(node, core, pegout("deep", seed=1))
        assert core.mempool == [txid]
        wait_until(lambda: metric(OLDEST_UNCONFIRMED) > 0, timeout=30,
                   message="the oldest unconfirmed peg-out's age was never exposed")
        for depth in range(1, CONFIRMATIONS):
            core.mine()
            wait_confirmations(node, "deep", depth)
            assert status(node, "deep").state == "broadcast"
        core.mine()
        final = wait_pegout(node, "deep", "confirmed")
        assert (final.txid, final.confirmations, final.error) == (txid, CONFIRMATIONS, None)
        wait_until(lambda: metric(CONFIRMED_TOTAL) == confirmed_before + 1, timeout=30,
                   message=lambda: f"{CONFIRMED_TOTAL} is {metric(CONFIRMED_TOTAL)}")
        assert metric(CONFIRMED_TIMED) == 1  # timed from acceptance to its last confirmation
        took = metric("alys_pegout_accepted_to_confirmed_seconds_sum")
        assert 0 < took < time.time() - accepted_at
        wait_until(lambda: metric(OLDEST_UNCONFIRMED) == 0, timeout=30,
                   message=lambda: f"{OLDEST_UNCONFIRMED} is {metric(OLDEST_UNCONFIRMED)}")
        assert core.accepted == [txid] and sends_of(core, txid) == [Sent(txid, txid)]
        assert [s.request_id for s in node.client.list_pegouts("confirmed")] == ["deep"]
        assert "following broadcast peg-outs through Bitcoin Core" in log_text(node.config)


def test_a_reorg_sets_the_confirmations_back_and_later_blocks_confirm_the_pegout(
        tmp_path: Path, core: FakeCore) -> None:
    with following_node(tmp_path, core) as (node, _mock):
        txid = broadcast(node, core, pegout("shaken", seed=2))
        core.mine(2)
        wait_confirmations(node, "shaken", 2)
        # Its block and the one after are disconnected; it goes back to the mempool.
        core.reorg(2)
        assert core.confirmations(txid) == 0
        wait_confirmations(node, "shaken", 0)
        assert status(node, "shaken").state == "broadcast"
        assert "a reorg took its transaction out of the chain" in log_text(node.config)
        core.mine(CONFIRMATIONS)
        final = wait_pegout(node, "shaken", "confirmed")
        assert final.confirmations == CONFIRMATIONS
        assert core.accepted == [txid]


def test_a_transaction_that_left_the_mempool_is_handed_to_core_again(
        tmp_path: Path, core: FakeCore) -> None:
    with following_node(tmp_path, core) as (node, _mock):
        txid = broadcast(node, core, pegout("evicted", seed=3))
        assert core.evict(txid) == [txid]
        wait_until(lambda: len(sends_of(core, txid)) == 2, timeout=30,
                   message=lambda: f"not rebroadcast: {core.sent}")
        assert sends_of(core, txid) == [Sent(txid, txid)] * 2
        assert core.accepted == [txid, txid] and core.mempool == [txid]
        wait_until(lambda: f"peg-out evicted: {txid} had left the mempool unconfirmed; "
                   "handed to Bitcoin Core again" in log_text(node.config), timeout=30,
                   message="the rebroadcast's log line")
        core.mine(CONFIRMATIONS)
        assert wait_pegout(node, "evicted", "confirmed").txid == txid


@pytest.mark.parametrize("depth", [2, CONFIRMATIONS + 1], ids=["shallow", "deep"])
def test_a_pegout_core_already_confirmed_and_whose_outputs_were_spent_is_taken_as_paid(
        tmp_path: Path, core: FakeCore, depth: int) -> None:
    rid = f"paid-{depth}"
    request = pegout(rid, seed=4 + 100 * depth)
    with following_node(tmp_path, core) as (node, _mock):
        # As if the bridge's broadcast had reached Core and only its answer was lost:
        # the transaction confirmed and a payee spent its output since.
        txid = preload(core, request)
        core.mine()
        core.spend_outputs(txid)
        core.mine(depth - 2)
        assert core.confirmations(txid) == depth
        assert initiate(node, [request]) == [PegoutAccepted(rid)]
        if depth < CONFIRMATIONS:
            found = wait_pegout(node, rid, "broadcast")
            assert (found.txid, found.confirmations, found.error) == (txid, depth, None)
            core.mine(CONFIRMATIONS - depth)
        final = wait_pegout(node, rid, "confirmed")
        assert (final.txid, final.confirmations, final.error) == (
            txid, max(depth, CONFIRMATIONS), None)
        assert sends_of(core, txid)[-1] == Sent(txid, (TRANSACTION_ERROR, INPUTS_MISSING))
        assert core.accepted == [txid]  # only the preload: the bridge's send was refused
        log = log_text(node.config)
        assert f"its own transaction {txid} is in the chain" in log
        assert f"peg-out {rid} failed" not in log and "NEEDS REVIEW" not in log


def test_inputs_spent_by_another_transaction_park_the_pegout_for_an_operator(
        tmp_path: Path, core: FakeCore) -> None:
    first, second = pegout("doubt-1", seed=5), pegout("doubt-2", seed=6)
    with following_node(tmp_path, core) as (node, _mock):
        assert metric(NEEDS_REVIEW) == 0
        thief = core.spend_inputs(first.tx_hex)
        assert initiate(node, [first]) == [PegoutAccepted("doubt-1")]
        parked = wait_pegout(node, "doubt-1", "needs_review")
        assert parked.txid == txid_of(first) and INPUTS_MISSING in (parked.error or "")
        assert core.confirmations(parked.txid) is None and core.confirmations(thief) == 1
        wait_until(lambda: metric(NEEDS_REVIEW) == 1, timeout=30,
                   message=lambda: f"{NEEDS_REVIEW} is {metric(NEEDS_REVIEW)}")
        assert "peg-out doubt-1 NEEDS REVIEW" in log_text(node.config)
        assert [s.request_id for s in node.client.list_pegouts("needs_review")] == ["doubt-1"]

        before = time.time()
        assert node.client.resolve_pegout("doubt-1", "paid") == PegoutResolved(
            "doubt-1", "confirmed")
        paid = status(node, "doubt-1")
        assert (paid.state, paid.resolution) == ("confirmed", "paid")
        assert paid.resolved_at >= before - 1
        wait_until(lambda: metric(NEEDS_REVIEW) == 0, timeout=30,
                   message=lambda: f"{NEEDS_REVIEW} is {metric(NEEDS_REVIEW)}")

        core.spend_inputs(second.tx_hex)
        assert initiate(node, [second]) == [PegoutAccepted("doubt-2")]
        wait_pegout(node, "doubt-2", "needs_review")
        assert node.client.resolve_pegout("doubt-2", "not_paid") == PegoutResolved(
            "doubt-2", "failed")
        unpaid = status(node, "doubt-2")
        assert (unpaid.state, unpaid.resolution) == ("failed", "not_paid")
        assert unpaid.resolved_at >= before - 1

        # Only a peg-out in review can be resolved, and only as paid or not paid.
        again = node.client.resolve_pegout("doubt-1", "not_paid")
        assert isinstance(again, PegoutRejected) and "not needs_review" in again.reason, again
        assert status(node, "doubt-1").state == "confirmed"
        nobody = node.client.resolve_pegout("nobody", "paid")
        assert isinstance(nobody, PegoutRejected), nobody
        maybe = node.client.resolve_pegout("doubt-2", "maybe")
        assert isinstance(maybe, PegoutRejected) and "outcome" in maybe.reason, maybe
        assert status(node, "doubt-2").state == "failed"
        assert core.accepted == []


def test_without_a_txindex_broadcast_pegouts_are_not_followed_and_the_log_says_so(
        tmp_path: Path, core: FakeCore) -> None:
    core.set_txindex(False)
    with following_node(tmp_path, core) as (node, _mock):
        wait_until(lambda: "broadcast peg-outs are NOT followed" in log_text(node.config),
                   timeout=30, message="the log line about the missing txindex")
        sent_at = time.time()
        txid = broadcast(node, core, pegout("unfollowed", seed=7))
        core.mine(CONFIRMATIONS + 2)
        assert core.confirmations(txid) == CONFIRMATIONS + 2
        # The bridge looks every FOLLOW_INTERVAL_S and exposes the age of its oldest
        # broadcast peg-out each time: an age past the mining by several intervals
        # proves it looked after the blocks came.
        mined_after_s = time.time() - sent_at
        wait_until(lambda: metric(OLDEST_UNCONFIRMED) > mined_after_s + 5 * FOLLOW_INTERVAL_S,
                   timeout=30, message=lambda: f"{OLDEST_UNCONFIRMED} is "
                   f"{metric(OLDEST_UNCONFIRMED)}")
        still = status(node, "unfollowed")
        assert (still.state, still.confirmations) == ("broadcast", 0)
        assert [r.method for r in core.requests if r.method == "getrawtransaction"] == []


def test_pegouts_in_review_and_broadcast_ones_survive_a_killed_bridge_and_are_followed(
        tmp_path: Path, core: FakeCore) -> None:
    doubtful, sent = pegout("kept-review", seed=8), pegout("kept-broadcast", seed=9)
    with following_node(tmp_path, core) as (node, _mock):
        core.spend_inputs(doubtful.tx_hex)
        assert initiate(node, [doubtful]) == [PegoutAccepted("kept-review")]
        wait_pegout(node, "kept-review", "needs_review")
        txid = broadcast(node, core, sent)

        kill_bridge(node)
        wait_until(lambda: "loaded 2 open peg-outs (1 broadcast, 1 needs_review)"
                   in log_text(node.config), timeout=30,
                   message="the new bridge's load line")
        assert status(node, "kept-review").state == "needs_review"
        wait_until(lambda: metric(NEEDS_REVIEW) == 1, timeout=30,
                   message=lambda: f"{NEEDS_REVIEW} is {metric(NEEDS_REVIEW)}")
        core.mine()
        wait_confirmations(node, "kept-broadcast", 1)
        core.mine(CONFIRMATIONS - 1)
        assert wait_pegout(node, "kept-broadcast", "confirmed").txid == txid
        assert node.client.resolve_pegout("kept-review", "paid") == PegoutResolved(
            "kept-review", "confirmed")
        assert core.accepted == [txid]
