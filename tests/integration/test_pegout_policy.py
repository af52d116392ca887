"""Issue 13 end to end: the spending policy, coin reservations, replacements and the outflow
window, as a client of a real node (the real-signing mock governance, SQLite, the spool)
sees them.

Every peg-out here is built coin by coin (`spend`), so that which peg-outs share a coin
is written in the test. What the node refused is judged from its reply, its /metrics
exposition, its log and the mock's record of signature requests; what it reserved, from
the database's `reservations` rows.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from embit.script import Script
from embit.transaction import Transaction, TransactionInput, TransactionOutput

from actors.bridge.spool import read_spool
from actors.messages import InitiatePegout, PegoutAccepted, PegoutRejected
from harness.mock import MockGovernance
from harness.nodes import LocalNode, log_text
from harness.waiting import wait_until
from tests.support.pegouts import (
    THRESHOLD,
    local_keys,
    pegout_node,
    query,
    status,
    verify_signed,
    wait_pegout,
    wait_stored,
)
from tests.support.stream import NODE_ID, payload_kind

pytestmark = [pytest.mark.timeout(240), pytest.mark.slow]

COIN_SAT = 50_000
FEE_SAT = 2_000  # 4 to 11 sat/vB for one to three inputs: inside the default policy
BUMPED_FEE_SAT = 4_000  # what a replacement pays, to be worth broadcasting
RBF = 0xFFFFFFFD
# Asks of the bridge after it was killed wait for its new process to load its state.
AFTER_RESTART_S = 30.0


# -- peg-outs, coin by coin ------------------------------------------------------------


def coin(label: str) -> str:
    """A made-up federation coin, as the node names it: `<prevout txid>:<vout>`."""
    return f"{hashlib.sha256(b'alys-pegout-policy/' + label.encode()).hexdigest()}:1"


def payee(label: str) -> bytes:
    """A P2WPKH output script (dust limit 294 sat)."""
    return b"\x00\x14" + hashlib.sha256(b"payee/" + label.encode()).digest()[:20]


def spend(request_id: str, coins: list[str], *, amounts: tuple[int, ...] | None = None,
          outputs: list[tuple[int, bytes]] | None = None, fee_sat: int = FEE_SAT,
          replaces: str | None = None) -> InitiatePegout:
    """A peg-out spending `coins` (each `COIN_SAT` unless `amounts` says), paying
    `outputs`, or else everything but `fee_sat` to one payee."""
    values = amounts or (COIN_SAT,) * len(coins)
    paid = outputs or [(sum(values) - fee_sat, payee(request_id))]
    vin = [TransactionInput(bytes.fromhex(point.split(":")[0]), int(point.split(":")[1]),
                            sequence=RBF) for point in coins]
    vout = [TransactionOutput(value, Script(script)) for value, script in paid]
    tx = Transaction(version=2, vin=vin, vout=vout, locktime=0)
    return InitiatePegout(request_id, tx.serialize().hex(), tuple(range(len(coins))),
                          tuple(values), replaces)


def submit(node: LocalNode, request: InitiatePegout,
           timeout_s: float = 10.0) -> PegoutAccepted | PegoutRejected:
    return node.client.submit_pegout(request, timeout_s=timeout_s)


def refused(node: LocalNode, request: InitiatePegout, timeout_s: float = 10.0) -> str:
    """The reason the node gives for refusing `request` (fails if it accepts it)."""
    reply = submit(node, request, timeout_s)
    assert isinstance(reply, PegoutRejected), reply
    assert reply.request_id == request.request_id
    return reply.reason


def broadcast(node: LocalNode, request: InitiatePegout) -> Any:
    assert submit(node, request) == PegoutAccepted(request.request_id)
    final = wait_pegout(node, request.request_id, "broadcast")
    wait_stored(node, request.request_id, "broadcast")  # what a killed bridge loads
    return final


# -- what the node shows ----------------------------------------------------------------


def signature_requests(mock: MockGovernance) -> list[str]:
    """`<request_id>/<attempt>` of every signature request the mock received, in order."""
    return [r["metadata"]["request_id"] for r in mock.record(NODE_ID).get(NODE_ID, [])
            if payload_kind(r) == "signature_request"]


def asked_for(mock: MockGovernance) -> set[str]:
    """The peg-outs governance was asked to sign, whatever the attempt."""
    return {gid.rsplit("/", 1)[0] for gid in signature_requests(mock)}


def sample(name: str) -> float:
    """A sample of the node's /metrics exposition (`name` with its labels); 0 if absent."""
    from runtime import metrics  # after the node set its metrics directory

    for line in metrics.exposition().decode().splitlines():
        if line.startswith(name + " "):
            return float(line.removeprefix(name + " "))
    return 0.0


def rejections(reason: str) -> float:
    return sample(f'alys_pegouts_rejected_total{{reason="{reason}"}}')


def wait_sample(name: str, value: float) -> None:
    wait_until(lambda: sample(name) == value, timeout=10,
               message=lambda: f"{name} to be {value:g}; it is {sample(name):g}")


def wait_logged(node: LocalNode, text: str) -> None:
    wait_until(lambda: text in log_text(node.config), timeout=10,
               message=f"the log line {text!r}")


def reservations(node: LocalNode) -> list[tuple[str, str]]:
    """(outpoint, holder) of every reserved coin, from the database."""
    return query(node, "SELECT outpoint, request_id FROM reservations ORDER BY outpoint")


def spooled(node: LocalNode) -> dict[str, str]:
    """txid -> raw transaction of every spool line."""
    return dict(read_spool(node.config.bridge.broadcaster.spool_path))


def kill_bridge(node: LocalNode) -> None:
    """SIGKILL the bridge's process and wait until its replacement answers."""
    old = node.client.pids()["bridge"]
    assert old is not None
    os.kill(old, signal.SIGKILL)
    assert node.client.wait_replaced("bridge", old, timeout_s=AFTER_RESTART_S) is not None, \
        "the bridge was not restarted"


def with_bridge(tmp_path: Path, **bridge: Any) -> dict[str, Any]:
    """A whole `bridge` section: `bridge`'s keys and this test's spool."""
    return {"broadcaster": {"spool_path": str(tmp_path / "spool")}, **bridge}


# -- the spending policy --------------------------------------------------------------------


def test_pegouts_breaking_the_spending_policy_are_refused_counted_logged_and_never_signed(
        tmp_path: Path) -> None:
    with pegout_node(tmp_path) as (node, mock):
        # 10 BTC in (exactly bridge.max_pegout_sat, and within the policy's max_payout_sat:
        # only 546 sat are paid out), 546 sat out: the rest would go to miners.
        fee_high = spend("fee-high", [coin("whale")], amounts=(1_000_000_000,),
                         outputs=[(546, payee("fee-high"))])
        twice = spend("twice", [coin("twice"), coin("twice")])
        overpaid = spend("overpaid", [coin("overpaid")], outputs=[(60_000, payee("x"))])
        dust = spend("dust", [coin("dust")], outputs=[(COIN_SAT - FEE_SAT - 100, payee("a")),
                                                      (100, payee("b"))])
        reasons = {request.request_id: refused(node, request)
                   for request in (fee_high, twice, overpaid, dust)}

        assert reasons["fee-high"].startswith("the fee is 999,999,454 sat (")
        assert reasons["fee-high"].endswith("; at most 1,000,000 sat is allowed")
        assert reasons["twice"] == f"inputs 0 and 1 both spend {coin('twice')}"
        assert reasons["overpaid"] == ("the outputs pay 60,000 sat but the inputs hold only "
                                       "50,000 sat")
        assert reasons["dust"] == ("output 1 (p2wpkh) pays 100 sat, under the dust limit of "
                                   "294 sat for a p2wpkh output")
        for kind in ("fee_high", "duplicate_outpoint", "outputs_exceed_inputs", "dust"):
            wait_sample(f'alys_pegouts_rejected_total{{reason="{kind}"}}', 1)
        for request_id, reason in reasons.items():
            wait_logged(node, f"peg-out {request_id} rejected: {reason}")
            assert status(node, request_id).state == "unknown"

        # Nothing was stored, reserved or asked of governance: a valid peg-out spending the
        # coin of a refused one goes through, and it is the only one governance saw.
        assert reservations(node) == []
        broadcast(node, spend("fine", [coin("dust")]))
        assert signature_requests(mock) == ["fine/1"]


# -- coin reservations ---------------------------------------------------------------------


def test_a_coin_held_by_an_open_or_broadcast_pegout_is_refused_even_after_a_killed_bridge(
        tmp_path: Path) -> None:
    with pegout_node(tmp_path) as (node, mock):
        broadcast(node, spend("paid", [coin("p1"), coin("p2")]))
        mock.behave(hold_signatures=True)  # "open" stays awaiting its signatures
        assert submit(node, spend("open", [coin("o1")])) == PegoutAccepted("open")
        wait_until(lambda: "open" in asked_for(mock), timeout=30,
                   message="the open peg-out's signature request")
        held = [(coin("o1"), "open"), (coin("p1"), "paid"), (coin("p2"), "paid")]
        assert reservations(node) == sorted(held)

        # The first coin another peg-out holds is named, with its holder; nothing of the
        # refused peg-out is kept, not even its free coin.
        takes_paid = spend("takes-paid", [coin("free"), coin("p2")])
        takes_open = spend("takes-open", [coin("o1")])
        assert refused(node, takes_paid) == f"coin {coin('p2')} is reserved by peg-out 'paid'"
        assert refused(node, takes_open) == f"coin {coin('o1')} is reserved by peg-out 'open'"
        wait_sample('alys_pegouts_rejected_total{reason="coin_reserved"}', 2)
        wait_logged(node, f"peg-out takes-paid rejected: coin {coin('p2')} is reserved by "
                          "peg-out 'paid'")
        assert reservations(node) == sorted(held)
        assert status(node, "takes-paid").state == status(node, "takes-open").state == "unknown"

        kill_bridge(node)
        assert refused(node, takes_paid, AFTER_RESTART_S) == (
            f"coin {coin('p2')} is reserved by peg-out 'paid'")
        assert refused(node, takes_open) == f"coin {coin('o1')} is reserved by peg-out 'open'"
        assert reservations(node) == sorted(held)

        mock.behave(hold_signatures=False)
        mock.release()
        wait_pegout(node, "open", "broadcast")
        assert refused(node, takes_open) == f"coin {coin('o1')} is reserved by peg-out 'open'"
        assert asked_for(mock) == {"paid", "open"}
        assert len(spooled(node)) == 2


def test_a_pegout_failed_unsigned_frees_its_coins_and_is_not_retried_once_one_is_taken(
        tmp_path: Path) -> None:
    with pegout_node(tmp_path, bridge=with_bridge(tmp_path, signature_retries=0)) as (
            node, mock):
        mock.behave(signature_fault="failed", signature_fault_count=None)
        assert submit(node, spend("unlucky", [coin("u1"), coin("u2")])) == (
            PegoutAccepted("unlucky"))
        wait_pegout(node, "unlucky", "failed")
        assert reservations(node) == []

        # Its coin is free: a new peg-out takes it ...
        mock.behave(signature_fault=None)
        broadcast(node, spend("taker", [coin("u2"), coin("t1")]))
        # ... and the failed one cannot start a new series without it.
        reply = node.client.retry_pegout("unlucky")
        assert reply == PegoutRejected(
            "unlucky", f"coin {coin('u2')} is reserved by peg-out 'taker' now"), reply
        wait_sample('alys_pegouts_rejected_total{reason="coin_reserved"}', 1)
        after = status(node, "unlucky")
        assert after.state == "failed" and after.attempts == 1
        assert reservations(node) == sorted([(coin("u2"), "taker"), (coin("t1"), "taker")])
        assert signature_requests(mock) == ["unlucky/1", "taker/1"]


# -- replacements -----------------------------------------------------------------------------


def test_a_replacement_sharing_a_coin_is_broadcast_and_the_original_becomes_replaced(
        tmp_path: Path) -> None:
    with pegout_node(tmp_path) as (node, mock):
        original = broadcast(node, spend("original", [coin("r1"), coin("r2")]))

        mock.behave(hold_signatures=True)  # the first replacement stays open
        bump = spend("bump", [coin("r1")], fee_sat=BUMPED_FEE_SAT, replaces="original")
        assert submit(node, bump) == PegoutAccepted("bump")
        wait_until(lambda: "bump" in asked_for(mock), timeout=30,
                   message="the replacement's signature request")
        # A second replacement of the same original, through its other coin, while the
        # first is open: both could be paid, so it is refused.
        other = spend("other", [coin("r2")], fee_sat=BUMPED_FEE_SAT, replaces="original")
        assert refused(node, other) == "peg-out 'original' is already being replaced by 'bump'"

        mock.behave(hold_signatures=False)
        mock.release()
        final = wait_pegout(node, "bump", "broadcast")
        assert final.replaces == "original"
        verify_signed(final.signed_tx_hex, bump, local_keys(), THRESHOLD)
        replaced = wait_pegout(node, "original", "replaced")
        assert replaced.replaced_by == "bump" and replaced.txid == original.txid
        assert spooled(node) == {original.txid: original.signed_tx_hex,
                                 final.txid: final.signed_tx_hex}
        # The shared coin is the replacement's now, so that it can be replaced in turn.
        assert (coin("r1"), "bump") in reservations(node)
        assert asked_for(mock) == {"original", "bump"}

        assert refused(node, other) == ("peg-out 'original' was already replaced by 'bump'; "
                                        "replace that one")


def test_a_replacement_is_refused_without_a_shared_coin_or_a_signed_original(
        tmp_path: Path) -> None:
    with pegout_node(tmp_path) as (node, mock):
        broadcast(node, spend("original", [coin("s1"), coin("s2")]))
        mock.behave(hold_signatures=True)  # "unsigned" stays awaiting its signatures
        assert submit(node, spend("unsigned", [coin("w1")])) == PegoutAccepted("unsigned")

        cases = {
            spend("disjoint", [coin("n1")], replaces="original"):
                "the replacement spends no coin of peg-out 'original', so both could be paid",
            spend("orphan", [coin("s1")], replaces="nowhere"): "no peg-out 'nowhere' to replace",
            spend("premature", [coin("w1")], replaces="unsigned"):
                "peg-out 'unsigned' is awaiting_signatures and was never signed: there is "
                "nothing to replace",
        }
        for request, reason in cases.items():
            assert refused(node, request) == reason
            wait_logged(node, f"peg-out {request.request_id} rejected: {reason}")
            assert status(node, request.request_id).state == "unknown"
        wait_sample('alys_pegouts_rejected_total{reason="replacement"}', 3)
        assert status(node, "original").state == "broadcast"
        assert status(node, "original").replaced_by is None
        assert asked_for(mock) == {"original", "unsigned"}


# -- the outflow window -------------------------------------------------------------------------


OUTFLOW_GAUGE = "alys_bridge_outflow_window_sat"
PAYOUT_SAT = 2 * COIN_SAT - FEE_SAT  # 98,000: one fits under the cap, two do not
CAP_SAT = 150_000
WINDOW_S = 86_400


def test_the_outflow_cap_holds_until_reset_and_the_reset_survives_a_killed_bridge(
        tmp_path: Path) -> None:
    bridge = with_bridge(tmp_path, policy={"max_payout_sat": 100_000},
                         outflow={"max_sat": CAP_SAT, "window_s": WINDOW_S})
    with pegout_node(tmp_path, bridge=bridge) as (node, mock):
        def pays(request_id: str) -> InitiatePegout:
            return spend(request_id, [coin(request_id + "/1"), coin(request_id + "/2")])

        before = time.time()
        assert broadcast(node, pays("first")).payout_sat == PAYOUT_SAT
        wait_sample(OUTFLOW_GAUGE, PAYOUT_SAT)

        reason = refused(node, pays("second"))
        after = time.time()
        stated = re.fullmatch(
            r"paying 98,000 sat more would go over the outflow cap of 150,000 sat per 24 h: "
            r"98,000 sat was paid in the window; room for 98,000 sat returns in ([\d,]+) s, "
            r"at (\S+)", reason)
        assert stated is not None, reason
        # Room returns once "first" has left the window: a day after it, give or take the
        # window's bucket (a minute), never sooner.
        room_at = datetime.fromisoformat(stated[2].replace("Z", "+00:00")).timestamp()
        assert before + WINDOW_S <= room_at <= after + WINDOW_S + 61, (reason, before, after)
        wait_sample('alys_pegouts_rejected_total{reason="outflow"}', 1)
        wait_logged(node, f"peg-out second rejected: {reason}")

        # An operator lifts the breaker: the next peg-out is accepted, and counted.
        reset = node.client.reset_outflow_window("test: a known large batch")
        assert reset.previously_used_sat == PAYOUT_SAT
        wait_logged(node, "outflow window reset by an operator (test: a known large batch)")
        wait_sample(OUTFLOW_GAUGE, 0)
        broadcast(node, pays("second"))
        wait_sample(OUTFLOW_GAUGE, PAYOUT_SAT)
        assert "over the outflow cap" in refused(node, pays("third"))

        # Reset again, then the bridge dies: its new process loads the window without what
        # was paid before the reset, so "third" fits.
        assert node.client.reset_outflow_window().previously_used_sat == PAYOUT_SAT
        kill_bridge(node)
        assert submit(node, pays("third"), AFTER_RESTART_S) == PegoutAccepted("third")
        wait_pegout(node, "third", "broadcast")
        wait_sample(OUTFLOW_GAUGE, PAYOUT_SAT)
        assert asked_for(mock) == {"first", "second", "third"}
        assert sample('alys_pegouts_rejected_total{reason="outflow"}') == 2


# Storage loads the window as one sum per minute; a sum holding payouts from both sides
# of a reset must not bring the forgiven ones back.
def test_a_payout_right_after_a_reset_does_not_bring_the_forgiven_ones_back_after_a_restart(
        tmp_path: Path) -> None:
    bridge = with_bridge(tmp_path, policy={"max_payout_sat": 100_000},
                         outflow={"max_sat": CAP_SAT, "window_s": WINDOW_S})
    with pegout_node(tmp_path, bridge=bridge) as (node, _mock):
        # "first", the reset and "second" fall into one minute of storage's sums (the
        # case this is about); they take well under a second.
        wait_until(lambda: time.time() % 60 < 45, timeout=20, message="a fresh minute")
        broadcast(node, spend("first", [coin("f1"), coin("f2")]))
        assert node.client.reset_outflow_window().previously_used_sat == PAYOUT_SAT
        broadcast(node, spend("second", [coin("s1"), coin("s2")]))
        minutes = query(node, "SELECT DISTINCT CAST(created_at / 60 AS INTEGER) FROM pegouts")
        assert len(minutes) == 1, f"precondition: both peg-outs in one minute, {minutes}"
        wait_sample(OUTFLOW_GAUGE, PAYOUT_SAT)  # "second" alone counts

        kill_bridge(node)
        # 40,000 sat more fits beside "second" (138,000 of 150,000), as it did before.
        small = spend("small", [coin("small")], amounts=(42_000,))
        reply = submit(node, small, AFTER_RESTART_S)
        assert reply == PegoutAccepted("small"), (reply, sample(OUTFLOW_GAUGE))
        wait_sample(OUTFLOW_GAUGE, PAYOUT_SAT + 40_000)
