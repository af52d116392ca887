"""Taproot federations end to end: node processes, the real-signing mock, SQLite, the spool.

Every signed P2TR transaction is judged input by input by Bitcoin Core's consensus engine
(py-bitcoinkernel) with the TAPROOT flag and every spent output; P2WSH ones as the other
peg-out tests judge them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from embit.transaction import Transaction

from actors.messages import InitiatePegout, PegoutAccepted, PegoutRejected
from btc.federation import Federation
from harness.nodes import log_text
from harness.pegouts import Federation as SharedFederation
from harness.pegouts import pegout_node as federation_node
from harness.pegouts import unsigned_pegout
from harness.stream import FAST_GOVERNANCE
from harness.waiting import wait_until
from tests.support.bench import run_bench
from tests.support.kernel import kernel_verify_all
from tests.support.pegouts import (
    SEED,
    THRESHOLD,
    chain_status,
    initiate,
    local_keys,
    pegout,
    pegout_node,
    verify_signed,
    wait_pegout,
)

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]

TAPROOT = SharedFederation(SEED, 5, THRESHOLD, "p2tr")
SLOW_CLOCK = {"height_source": {"kind": "clock", "slot_s": 3600}}


def verify_p2tr(signed_tx_hex: str, request: InitiatePegout, fed: Federation) -> None:
    """Core's verdict on every input, and the witness shape: one item per leaf key (the
    threshold of them signatures), the leaf, the control block."""
    spent = [(fed.script_pubkey, amount) for amount in request.amounts]
    kernel_verify_all(signed_tx_hex, spent)
    tx = Transaction.from_string(signed_tx_hex)
    for tx_input in tx.vin:
        *items, leaf, control = tx_input.witness.items
        assert (leaf, control) == (fed.witness_script, fed.taproot.control_block)
        assert sorted(len(item) for item in items) == [0, 0, 64, 64, 64]


def test_a_p2tr_federation_signs_pegouts_with_schnorr_that_core_accepts(tmp_path: Path) -> None:
    fed = TAPROOT.node_federation
    with federation_node(tmp_path, TAPROOT, governance=FAST_GOVERNANCE) as (node, _mock):
        status = chain_status(node)
        assert status.script_type == "p2tr"
        assert status.federation_address == fed.address("regtest")
        assert status.federation_address.startswith("bcrt1p")
        requests = [unsigned_pegout(f"tr-{i}", fed.witness_script, seed=60 + i)
                    for i in range(2)]
        assert initiate(node, requests) == [PegoutAccepted("tr-0"), PegoutAccepted("tr-1")]
        for request in requests:
            final = wait_pegout(node, request.request_id, "broadcast")
            assert final.signatures_collected == final.signatures_required == 2 * THRESHOLD
            verify_p2tr(final.signed_tx_hex, request, fed)


@pytest.mark.parametrize("fault", ["too_few", "wrong_signature", "non_member"])
def test_a_bad_p2tr_answer_costs_one_attempt_and_the_next_is_broadcast(tmp_path: Path,
                                                                      fault: str) -> None:
    fed = TAPROOT.node_federation
    with federation_node(tmp_path, TAPROOT, governance=FAST_GOVERNANCE) as (node, mock):
        mock.behave(signature_fault=fault, signature_fault_count=1)
        request = unsigned_pegout("tr-retry", fed.witness_script, seed=70)
        assert initiate(node, [request]) == [PegoutAccepted("tr-retry")]
        final = wait_pegout(node, "tr-retry", "broadcast")
        assert final.attempts == 2
        verify_p2tr(final.signed_tx_hex, request, fed)


def test_a_switch_from_p2wsh_to_p2tr_signs_under_each_and_still_spends_the_earlier_coins(
        tmp_path: Path) -> None:
    with pegout_node(tmp_path, chain=SLOW_CLOCK) as (node, mock):
        before = pegout("under-p2wsh", seed=80)
        assert initiate(node, [before]) == [PegoutAccepted("under-p2wsh")]
        final = wait_pegout(node, "under-p2wsh", "broadcast")
        verify_signed(final.signed_tx_hex, before, local_keys(), THRESHOLD)

        pushed = mock.push_federation_update(version=1, indices=list(range(5)),
                                             threshold=THRESHOLD, script_type="p2tr",
                                             request_id="to-taproot")
        fed = TAPROOT.node_federation  # as version 1: the same keys, so the same output
        assert pushed["p2tr_address"] == fed.address("regtest")
        status = wait_until(lambda: (s := chain_status(node)).federation_version == 1 and s,
                            timeout=30, message=lambda: f"version 1 never in force: "
                            f"{chain_status(node)}")
        assert status.federation_address == pushed["p2tr_address"]
        assert status.script_type == "p2tr"

        mock.set_federation(list(range(5)), THRESHOLD, "p2tr")
        after = unsigned_pegout("under-p2tr", fed.witness_script, seed=81)
        assert initiate(node, [after]) == [PegoutAccepted("under-p2tr")]
        verify_p2tr(wait_pegout(node, "under-p2tr", "broadcast").signed_tx_hex, after, fed)

        # Coins still at version 0's P2WSH address, spent under version 0 after the switch
        # (governance's signers for it: the mock signs as the P2WSH federation again).
        mock.set_federation(list(range(5)), THRESHOLD)
        old = pegout("old-coins", seed=82)
        old = InitiatePegout(old.request_id, old.tx_hex, old.input_indices, old.amounts,
                             federation_version=0)
        assert initiate(node, [old]) == [PegoutAccepted("old-coins")]
        final = wait_pegout(node, "old-coins", "broadcast")
        assert final.signatures_required == 2 * THRESHOLD
        verify_signed(final.signed_tx_hex, old, local_keys(), THRESHOLD)

        unknown = InitiatePegout("unknown-version", old.tx_hex, old.input_indices,
                                 old.amounts, federation_version=5)
        assert initiate(node, [unknown]) == [PegoutRejected(
            "unknown-version", "federation version 5 is unknown: version 1 is in force")]


def test_a_pegout_awaiting_signatures_across_a_switch_is_signed_under_its_own_version(
        tmp_path: Path) -> None:
    # Accepted under the P2WSH version 0 without naming a version; the switch to P2TR comes
    # before governance answers. Its coins are version 0's: so must its witness be.
    with pegout_node(tmp_path, chain=SLOW_CLOCK) as (node, mock):
        mock.behave(hold_signatures=True)
        before = pegout("in-flight", seed=83)
        assert initiate(node, [before]) == [PegoutAccepted("in-flight")]
        mock.push_federation_update(version=1, indices=list(range(5)), threshold=THRESHOLD,
                                    script_type="p2tr", request_id="to-taproot")
        wait_until(lambda: chain_status(node).script_type == "p2tr", timeout=30,
                   message=lambda: f"version 1 never in force: {chain_status(node)}")
        mock.behave(hold_signatures=False)
        mock.release()  # governance's signers for version 0 answer now
        final = wait_pegout(node, "in-flight", "broadcast")
        assert final.attempts == 1
        verify_signed(final.signed_tx_hex, before, local_keys(), THRESHOLD)


def test_an_update_with_an_unknown_script_type_is_rejected_naming_it(tmp_path: Path) -> None:
    with pegout_node(tmp_path, chain=SLOW_CLOCK) as (node, mock):
        mock.push_federation_update(version=1, indices=list(range(5)), threshold=THRESHOLD,
                                    script_type="p2sh", with_address=False,
                                    request_id="bad-type")
        wait_until(lambda: "unknown script_type 'p2sh'; expected one of p2wsh, p2tr"
                   in log_text(node.config), timeout=30,
                   message="no rejection naming the script type")
        status = chain_status(node)
        assert status.federation_version == 0
        assert status.federation_address == Federation(
            0, TAPROOT.node_federation.members, THRESHOLD).address("regtest")


def test_the_pegout_benchmark_runs_a_p2tr_federation(tmp_path: Path) -> None:
    text, document = run_bench(
        tmp_path, "--only", "pegouts", "--pegout-script-type", "p2tr", "--pegouts", "10",
        "--pegout-singles", "3", "--pegout-rates", "10", "--pegout-seconds", "1", "--runs",
        "1", "--no-growth")
    figures = document["pegout"]
    assert figures["settings"]["script_type"] == "p2tr"
    assert figures["spool_duplicates"] == 0
    assert isinstance(figures["single_p50_ms"], int | float), figures["null_reasons"]
    assert "3-of-5 p2tr federation" in text, text
