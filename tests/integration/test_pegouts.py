"""The peg-out signature flow end to end: node processes, the real-signing mock, SQLite, the spool.

Each signed transaction is checked with python-bitcoinlib and coincurve, and
"exactly once" is judged from the spool file and the mock's record, not from
the node's own counters.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from actors.bridge.spool import read_spool
from actors.messages import (
    NotifyPegin,
    PeginAccepted,
    PeginRejected,
    PegoutAccepted,
    PegoutRejected,
    RetryPegout,
)
from harness.nodes import LocalNode, log_text
from harness.waiting import wait_until
from tests.support.pegouts import (
    THRESHOLD,
    accepted,
    initiate,
    local_keys,
    pegout,
    pegout_node,
    query,
    running_pid,
    status,
    verify_signed,
    wait_pegout,
)
from tests.support.stream import NODE_ID, payload_kind

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]


def spool(node: LocalNode) -> list[tuple[str, str]]:
    return [tuple(entry) for entry in read_spool(node.config.bridge.broadcaster.spool_path)]


def signature_requests(mock: Any) -> list[str]:
    """Governance request ids of the signature requests the node sent, in order."""
    return [r["metadata"]["request_id"] for r in mock.record(NODE_ID).get(NODE_ID, [])
            if payload_kind(r) == "signature_request"]


def test_pegouts_are_signed_verified_and_broadcast_once(tmp_path: Path) -> None:
    with pegout_node(tmp_path) as (node, mock):
        requests = [pegout(f"out-{i}", seed=i) for i in range(5)]
        assert initiate(node, requests) == accepted(requests)
        for request in requests:
            final = wait_pegout(node, request.request_id, "broadcast")
            assert final.signatures_collected == final.signatures_required == 2 * THRESHOLD
            verify_signed(final.signed_tx_hex, request, local_keys(), THRESHOLD)

        entries = spool(node)
        assert sorted(txid for txid, _ in entries) == sorted(
            status(node, r.request_id).txid for r in requests)
        assert {raw for _, raw in entries} == {
            status(node, r.request_id).signed_tx_hex for r in requests}
        assert sorted(signature_requests(mock)) == sorted(f"out-{i}/1" for i in range(5))
        listed = node.client.list_pegouts("broadcast")
        assert sorted(s.request_id for s in listed) == [f"out-{i}" for i in range(5)]
        # Every message between the bridge, the chain and the stream had a handler.
        assert "unexpected message" not in log_text(node.config)


def test_the_same_pegout_again_is_accepted_once_and_a_changed_one_is_refused(
        tmp_path: Path) -> None:
    with pegout_node(tmp_path) as (node, mock):
        first = pegout("dup", seed=1)
        assert initiate(node, [first]) == [PegoutAccepted("dup")]
        wait_pegout(node, "dup", "broadcast")
        assert initiate(node, [first]) == [PegoutAccepted("dup")]
        changed = pegout("dup", seed=2)
        [refused] = initiate(node, [changed])
        assert refused == PegoutRejected(
            "dup", "request id 'dup' is already used by a different peg-out")
        assert signature_requests(mock) == ["dup/1"]
        assert len(spool(node)) == 1


def test_finished_pegouts_stay_in_storage_and_are_read_back_when_asked_for(
        tmp_path: Path) -> None:
    with pegout_node(tmp_path) as (node, mock):
        done = [pegout(f"done-{i}", seed=40 + i) for i in range(3)]
        assert initiate(node, done) == accepted(done)
        txids = {r.request_id: wait_pegout(node, r.request_id, "broadcast").txid for r in done}
        mock.behave(hold_signatures=True)
        held = pegout("held", seed=50)
        assert initiate(node, [held]) == [PegoutAccepted("held")]
        wait_until(lambda: "held/1" in signature_requests(mock), timeout=30)

        bridge_pid = running_pid(node, "bridge")
        os.kill(bridge_pid, signal.SIGKILL)
        wait_until(lambda: running_pid(node, "bridge") not in (None, bridge_pid), timeout=30)

        # The new bridge loaded the open peg-out and nothing of the finished ones, not even
        # their ids ...
        wait_until(lambda: "loaded 1 open peg-outs (1 awaiting_signatures) and 0 "
                   "unacknowledged peg-ins; finished peg-outs and acknowledged peg-ins stay "
                   "in storage" in log_text(node.config), timeout=30,
                   message="the new bridge's load line")
        # ... and reads them back from storage for a status and a listing; a reused id is
        # found by the new record's insert-if-absent, and decided on the stored record.
        assert {r.request_id: status(node, r.request_id).txid for r in done} == txids
        listed = node.client.list_pegouts()
        assert {(s.request_id, s.state) for s in listed} == {
            *((r.request_id, "broadcast") for r in done), ("held", "awaiting_signatures")}
        finished = node.client.list_pegouts("broadcast")
        assert sorted(s.request_id for s in finished) == sorted(txids)
        newest = node.client.list_pegouts(limit=2)
        assert [s.request_id for s in newest] == [s.request_id for s in listed][-2:]
        assert node.client.pegout_listing(limit=0).error is not None
        assert initiate(node, [done[0]]) == [PegoutAccepted("done-0")]
        [refused] = initiate(node, [pegout("done-1", seed=99)])
        assert refused == PegoutRejected(
            "done-1", "request id 'done-1' is already used by a different peg-out")
        assert status(node, "nowhere").state == "unknown"

        mock.behave(hold_signatures=False)
        mock.release()
        wait_pegout(node, "held", "broadcast")
        assert len(spool(node)) == 4


@pytest.mark.parametrize("make, reason", [
    (lambda p: p.__class__(p.request_id, "zz" + p.tx_hex, p.input_indices, p.amounts),
     "not hex"),
    (lambda p: p.__class__(p.request_id, p.tx_hex[:-20], p.input_indices, p.amounts),
     "does not parse"),
    (lambda p: p.__class__(p.request_id, p.tx_hex, (0, 7), p.amounts), "out of range"),
    (lambda p: p.__class__(p.request_id, p.tx_hex, p.input_indices, p.amounts[:1]),
     "amounts"),
    (lambda p: p.__class__(p.request_id, p.tx_hex, p.input_indices, (60_000_000, 50_000_000)),
     "per-peg-out limit"),
], ids=["not-hex", "truncated", "index-out-of-range", "amounts-mismatch", "over-maximum"])
def test_an_unusable_pegout_is_refused_with_its_reason(tmp_path: Path, make: Any,
                                                       reason: str) -> None:
    with pegout_node(tmp_path, bridge={"max_pegout_sat": 100_000_000, "broadcaster": {
            "spool_path": str(tmp_path / "spool")}}) as (node, mock):
        [reply] = initiate(node, [make(pegout("bad", seed=3))])
        assert isinstance(reply, PegoutRejected), reply
        assert reason in reply.reason, reply.reason
        assert status(node, "bad").state == "unknown"
        assert signature_requests(mock) == []


@pytest.mark.parametrize("fault", ["too_few", "wrong_signature", "non_member", "partial",
                                   "failed", "timeout"])
def test_a_bad_answer_costs_one_attempt_and_the_next_is_broadcast(tmp_path: Path,
                                                                  fault: str) -> None:
    with pegout_node(tmp_path) as (node, mock):
        mock.behave(signature_fault=fault, signature_fault_count=1)
        request = pegout("retry", seed=4)
        assert initiate(node, [request]) == [PegoutAccepted("retry")]
        final = wait_pegout(node, "retry", "broadcast")
        assert final.attempts == 2
        verify_signed(final.signed_tx_hex, request, local_keys(), THRESHOLD)
        assert signature_requests(mock) == ["retry/1", "retry/2"]
        assert len(spool(node)) == 1


def test_a_pegout_fails_when_its_retries_are_spent(tmp_path: Path) -> None:
    with pegout_node(tmp_path, bridge={"signature_retries": 2, "broadcaster": {
            "spool_path": str(tmp_path / "spool")}}) as (node, mock):
        mock.behave(signature_fault="wrong_signature", signature_fault_count=None)
        assert initiate(node, [pegout("doomed", seed=5)]) == [PegoutAccepted("doomed")]
        final = wait_pegout(node, "doomed", "failed")
        assert final.attempts == 3
        assert final.error.startswith("no usable signatures after 3 failed attempts; last: "
                                      "unusable signatures: "), final.error
        assert signature_requests(mock) == ["doomed/1", "doomed/2", "doomed/3"]
        assert spool(node) == []


def test_a_failed_pegout_that_was_never_signed_can_be_retried(tmp_path: Path) -> None:
    with pegout_node(tmp_path, bridge={"signature_retries": 0, "broadcaster": {
            "spool_path": str(tmp_path / "spool")}}) as (node, mock):
        mock.behave(signature_fault="failed", signature_fault_count=None)
        assert initiate(node, [pegout("again", seed=8)]) == [PegoutAccepted("again")]
        wait_pegout(node, "again", "failed")
        [refused] = initiate(node, [RetryPegout("nothing-here")])
        assert isinstance(refused, PegoutRejected) and "no peg-out" in refused.reason
        mock.behave(signature_fault=None)
        assert initiate(node, [RetryPegout("again")]) == [PegoutAccepted("again")]
        final = wait_pegout(node, "again", "broadcast")
        # The new series asked under the next attempt and kept the first one's reason.
        assert final.attempts == 2 and signature_requests(mock) == ["again/1", "again/2"]
        assert [f.split(":")[0] for f in status_failures(node, "again")] == ["attempt 1"]
        [not_failed] = initiate(node, [RetryPegout("again")])
        assert isinstance(not_failed, PegoutRejected) and "not failed" in not_failed.reason
        assert len(spool(node)) == 1


def test_a_timed_out_request_is_asked_again(tmp_path: Path) -> None:
    fast = {"request_timeout_s": {"signature": 0.5, "pegin": 30, "status": 30}}
    with pegout_node(tmp_path, governance=fast) as (node, mock):
        mock.behave(silent=True)
        assert initiate(node, [pegout("slow", seed=6)]) == [PegoutAccepted("slow")]
        wait_until(lambda: signature_requests(mock)[:2] == ["slow/1", "slow/2"], timeout=30)
        mock.behave(silent=False)
        final = wait_pegout(node, "slow", "broadcast")
        assert final.attempts >= 2
        assert final.error is None
        # Timeouts say "later": they cost time, and spend none of the retries.
        assert status_failures(node, "slow") == []
        assert query(node, "SELECT series_failures FROM pegouts WHERE request_id = ?",
                     "slow") == [(0,)]
        assert len(spool(node)) == 1


def status_failures(node: LocalNode, request_id: str) -> list[str]:
    [(failures,)] = query(node, "SELECT failures FROM pegouts WHERE request_id = ?",
                          request_id)
    return json.loads(failures)


def test_an_answer_given_twice_is_applied_once(tmp_path: Path) -> None:
    with pegout_node(tmp_path) as (node, mock):
        mock.behave(answer_twice=True)
        requests = [pegout(f"twice-{i}", seed=10 + i) for i in range(3)]
        initiate(node, requests)
        for request in requests:
            wait_pegout(node, request.request_id, "broadcast")
        entries = spool(node)
        assert len(entries) == 3 and len({txid for txid, _ in entries}) == 3


def test_pegouts_survive_a_killed_bridge_while_governance_holds_the_answers(
        tmp_path: Path) -> None:
    with pegout_node(tmp_path) as (node, mock):
        mock.behave(hold_signatures=True)
        requests = [pegout(f"held-{i}", seed=20 + i) for i in range(20)]
        assert initiate(node, requests) == accepted(requests)
        wait_until(lambda: len(signature_requests(mock)) == 20, timeout=30)
        bridge_pid = running_pid(node, "bridge")
        os.kill(bridge_pid, signal.SIGKILL)
        wait_until(lambda: running_pid(node, "bridge") not in (None, bridge_pid), timeout=30)
        mock.behave(hold_signatures=False)
        mock.release()
        for request in requests:
            wait_pegout(node, request.request_id, "broadcast")
        entries = spool(node)
        assert len(entries) == 20 and len({txid for txid, _ in entries}) == 20
        assert "loaded 20 open peg-outs" in log_text(node.config)


def test_pegin_notices_are_checked_stored_and_delivered(tmp_path: Path) -> None:
    with pegout_node(tmp_path, bridge={"min_pegin_confirmations": 6, "broadcaster": {
            "spool_path": str(tmp_path / "spool")}}) as (node, mock):
        good = NotifyPegin("in-1", "ab" * 32, 0, 50_000, "0x" + "12" * 20, 6)
        few = NotifyPegin("in-2", "cd" * 32, 1, 50_000, "0x" + "12" * 20, 2)
        bad_address = NotifyPegin("in-3", "ef" * 32, 1, 50_000, "0x12", 9)
        replies = initiate(node, [good, few, bad_address])
        assert replies[0] == PeginAccepted("in-1")
        assert isinstance(replies[1], PeginRejected) and "2" in replies[1].reason
        assert "6" in replies[1].reason
        assert isinstance(replies[2], PeginRejected) and "evm_address" in replies[2].reason
        wait_until(lambda: [r["metadata"]["request_id"] for r in mock.record(NODE_ID).get(
            NODE_ID, []) if payload_kind(r) == "pegin_notification"] == ["in-1"], timeout=30)
        wait_until(lambda: acknowledged(node, "in-1"), timeout=30,
                   message="governance's acknowledgement never recorded")
        assert initiate(node, [good]) == [PeginAccepted("in-1")]
        shouted = NotifyPegin("in-1", "AB" * 32, 0, 50_000, "0x" + "12" * 20, 6)
        assert initiate(node, [shouted]) == [PeginAccepted("in-1")]  # the same txid


def acknowledged(node: LocalNode, request_id: str) -> bool:
    return query(node, "SELECT acknowledged FROM pegins WHERE request_id = ?",
                 request_id) == [(1,)]


def test_a_late_answer_to_an_earlier_attempt_is_used_if_it_verifies(tmp_path: Path) -> None:
    fast = {"request_timeout_s": {"signature": 1.0, "pegin": 30, "status": 30}}
    with pegout_node(tmp_path, governance=fast) as (node, mock):
        mock.behave(hold_signatures=True)
        assert initiate(node, [pegout("late", seed=90)]) == [PegoutAccepted("late")]
        # Attempt 1 times out at the stream; attempt 2 is asked for, and held too.
        wait_until(lambda: signature_requests(mock)[:2] == ["late/1", "late/2"], timeout=30)
        mock.release(count=1)  # only attempt 1's answer, long after its timeout
        final = wait_pegout(node, "late", "broadcast")
        assert final.attempts == 2
        assert "late answer to late/1" in log_text(node.config)
        mock.behave(hold_signatures=False)
        assert mock.release()["released"] == 1  # attempt 2's answer too: it changes nothing
        assert status(node, "late") == final
        assert len(spool(node)) == 1


@pytest.mark.parametrize("preamble", ["ack", "pending"])
def test_an_ack_or_a_pending_answer_before_the_real_one_still_ends_in_a_broadcast(
        tmp_path: Path, preamble: str) -> None:
    with pegout_node(tmp_path) as (node, mock):
        # Ahead of every answer the mock sends one that answers nothing; the stream must
        # keep the request open for the real answer, on the same wire, right behind it.
        mock.behave(signature_preamble=preamble)
        request = pegout(f"early-{preamble}", seed=60 + len(preamble))
        assert initiate(node, [request]) == [PegoutAccepted(request.request_id)]
        final = wait_pegout(node, request.request_id, "broadcast")
        assert final.attempts == 1  # the real answer was used, not an attempt later
        verify_signed(final.signed_tx_hex, request, local_keys(), THRESHOLD)
        assert signature_requests(mock) == [f"{request.request_id}/1"]
        assert len(spool(node)) == 1
        if preamble == "ack":
            assert f"(unexpected_ack): {request.request_id}/1" in log_text(node.config)


def test_a_pegin_notice_and_a_pegout_attempt_sharing_an_id_both_reach_governance(
        tmp_path: Path) -> None:
    with pegout_node(tmp_path) as (node, mock):
        notice = NotifyPegin("x/1", "ab" * 32, 0, 50_000, "0x" + "12" * 20, 6)
        request = pegout("x", seed=70)  # its attempt 1 goes to governance as x/1 too
        assert initiate(node, [notice, request]) == [PegoutAccepted("x"), PeginAccepted("x/1")]
        final = wait_pegout(node, "x", "broadcast")
        assert final.attempts == 1
        wait_until(lambda: acknowledged(node, "x/1"), timeout=30,
                   message="governance's acknowledgement of the peg-in never recorded")
        sent = [(payload_kind(r), r["metadata"]["request_id"])
                for r in mock.record(NODE_ID).get(NODE_ID, [])
                if payload_kind(r) in ("pegin_notification", "signature_request")]
        assert sorted(sent) == [("pegin_notification", "x/1"), ("signature_request", "x/1")]


def test_a_huge_retry_after_holds_a_pegout_back_no_longer_than_the_cap(tmp_path: Path) -> None:
    with pegout_node(tmp_path, governance={"max_retry_after_s": 1}) as (node, mock):
        # A day: the longest retry_after the wire takes (longer is a malformed frame).
        mock.behave(error_next={"code": "rate_limited", "retry_after_s": 86_400,
                                "message": "come back tomorrow"})
        request = pegout("patient", seed=80)
        assert initiate(node, [request]) == [PegoutAccepted("patient")]
        final = wait_pegout(node, "patient", "broadcast")
        assert final.attempts == 2
        assert signature_requests(mock) == ["patient/1", "patient/2"]
        assert "honoured up to 1s" in log_text(node.config)
