"""The spending policy (btc/policy.py): each rule, its kind and message; sizes and dust."""

from __future__ import annotations

import math
import pickle
from collections.abc import Sequence

import pytest
from bitcoin.core import CTransaction
from bitcoin.core.script import SIGHASH_ALL, SIGVERSION_WITNESS_V0, CScript, SignatureHash
from embit.script import Script
from embit.transaction import Transaction, TransactionInput, TransactionOutput
from hypothesis import given
from hypothesis import strategies as st

from btc.errors import POLICY_VIOLATION_KINDS, BtcError, PolicyViolation
from btc.federation import Federation, Member
from btc.pegout import MAX_MONEY_SAT, UnsignedPegout, parse_pegout
from btc.policy import (
    Spend,
    SpendPolicy,
    check_spend,
    dust_threshold,
    outpoints,
    p2wsh_script_pubkey,
    script_type,
    signed_vsize,
)
from btc.signing import assemble
from btc.testing import make_unsigned_pegout
from tests.support.kernel import kernel_verify
from tests.support.kernel import p2wsh_script_pubkey as kernel_p2wsh
from tests.unit.btc import federation, public_key, sign_digest

FED = federation(5, 3)
SCRIPT = FED.witness_script
CHANGE = p2wsh_script_pubkey(SCRIPT)
P2PKH = bytes.fromhex("76a914" + "11" * 20 + "88ac")
P2SH = bytes.fromhex("a914" + "22" * 20 + "87")
P2WPKH = bytes.fromhex("0014" + "33" * 20)
P2WSH = bytes.fromhex("0020" + "44" * 32)
P2TR = bytes.fromhex("5120" + "55" * 32)
OP_RETURN = bytes.fromhex("6a04deadbeef")
BTC = 100_000_000
DEFAULT = SpendPolicy()


def prevout(number: int) -> tuple[bytes, int]:
    return bytes([number + 1]) * 31 + b"\xab", number % 3


def build(
    outputs: Sequence[tuple[int, bytes]],
    amounts: Sequence[int] = (50_000, 50_000),
    *,
    prevouts: Sequence[tuple[bytes, int]] | None = None,
    indices: Sequence[int] | None = None,
    version: int = 2,
    locktime: int = 0,
) -> UnsignedPegout:
    """A parsed peg-out spending `amounts` (one input each) to `outputs` (value, script)."""
    points = list(prevouts) if prevouts is not None else [prevout(n) for n in range(len(amounts))]
    vin = [TransactionInput(txid, vout, sequence=0xFFFFFFFD) for txid, vout in points]
    vout = [TransactionOutput(value, Script(script)) for value, script in outputs]
    tx = Transaction(version=version, vin=vin, vout=vout, locktime=locktime)
    chosen = tuple(indices) if indices is not None else tuple(range(len(vin)))
    return parse_pegout(tx.serialize().hex(), chosen, tuple(amounts[i] for i in chosen),
                        max_pegout_sat=MAX_MONEY_SAT)


def check(pegout: UnsignedPegout, policy: SpendPolicy = DEFAULT) -> Spend:
    return check_spend(pegout, witness_script=SCRIPT, threshold=FED.threshold, policy=policy)


def refusal(pegout: UnsignedPegout, policy: SpendPolicy = DEFAULT) -> PolicyViolation:
    with pytest.raises(PolicyViolation) as caught:
        check(pegout, policy)
    return caught.value


# --- what an accepted peg-out moves -----------------------------------------------------------


def test_an_ordinary_pegout_is_accepted_with_its_payout_change_and_fee() -> None:
    pegout = build([(60_000, P2WPKH), (30_000, CHANGE)])

    spend = check(pegout)

    assert spend.outpoints == (f"{'01' * 31}ab:0", f"{'02' * 31}ab:1")
    assert (spend.inputs_sat, spend.outputs_sat, spend.fee_sat) == (100_000, 90_000, 10_000)
    assert (spend.payout_sat, spend.change_sat) == (60_000, 30_000)
    assert spend.vsize == signed_vsize(pegout, SCRIPT, FED.threshold)
    assert spend.fee_rate_sat_vb == 10_000 / spend.vsize


def test_outpoints_are_the_prevout_txids_as_displayed_with_their_vouts() -> None:
    pegout = build([(90_000, P2WPKH)], (50_000, 50_000, 1_000))
    tx = CTransaction.deserialize(bytes.fromhex(pegout.tx_hex))
    # python-bitcoinlib keeps hashes in wire order; explorers show them reversed.
    expected = tuple(f"{tx_in.prevout.hash[::-1].hex()}:{tx_in.prevout.n}" for tx_in in tx.vin)

    assert outpoints(pegout) == expected == check(pegout).outpoints


def test_the_default_test_pegouts_meet_the_default_policy() -> None:
    for padding in (0, 2_000, 20_000):
        tx_hex, indices, amounts = make_unsigned_pegout(SCRIPT, padding_bytes=padding)
        spend = check(parse_pegout(tx_hex, indices, amounts, max_pegout_sat=MAX_MONEY_SAT))
        assert 2.0 <= spend.fee_rate_sat_vb < 2.0 + 1 / spend.vsize


# --- each rule: its kind and its message ------------------------------------------------------


def test_an_input_left_out_of_input_indices_is_refused() -> None:
    pegout = build([(140_000, P2WPKH)], (50_000, 50_000, 50_000), indices=(0, 2))

    error = refusal(pegout)

    assert error.kind == "inputs_not_covered"
    assert str(error).startswith("input 1 is not in input_indices (the transaction has 3 inputs)")


def test_the_same_outpoint_spent_twice_is_refused() -> None:
    pegout = build([(90_000, P2WPKH)], prevouts=[prevout(0), prevout(0)])

    error = refusal(pegout)

    assert error.kind == "duplicate_outpoint"
    assert str(error) == f"inputs 0 and 1 both spend {'01' * 31}ab:0"


def test_outputs_paying_more_than_the_inputs_hold_are_refused() -> None:
    error = refusal(build([(100_001, P2WPKH)]))

    assert error.kind == "outputs_exceed_inputs"
    assert str(error) == "the outputs pay 100,001 sat but the inputs hold only 100,000 sat"


def test_more_outputs_than_allowed_are_refused() -> None:
    assert check(build([(500, P2WPKH)] * 100)).payout_sat == 50_000

    error = refusal(build([(500, P2WPKH)] * 101))

    assert error.kind == "too_many_outputs"
    assert str(error) == "the peg-out has 101 outputs; at most 100 are allowed"


@pytest.mark.parametrize(("script", "kind", "limit"), [
    (P2PKH, "p2pkh", 546), (P2SH, "p2sh", 540), (P2WPKH, "p2wpkh", 294),
    (P2WSH, "p2wsh", 330), (P2TR, "p2tr", 330),
])
def test_an_output_under_its_dust_limit_is_refused_naming_index_and_type(
        script: bytes, kind: str, limit: int) -> None:
    check(build([(90_000, P2WPKH), (limit, script)], (50_000, 50_000 + limit)))

    error = refusal(build([(90_000, P2WPKH), (limit - 1, script)], (50_000, 50_000 + limit)))

    assert error.kind == "dust"
    assert str(error) == (f"output 1 ({kind}) pays {limit - 1:,} sat, under the dust limit of "
                          f"{limit} sat for a {kind} output")


def test_an_unspendable_output_carrying_value_is_refused_as_a_burn() -> None:
    check(build([(90_000, P2WPKH), (0, OP_RETURN)]))

    error = refusal(build([(90_000, P2WPKH), (1, OP_RETURN)]))

    assert error.kind == "burn"
    assert str(error) == ("output 1 (op_return) can never be spent yet carries 1 sat, which "
                          "would be burnt")


def test_more_change_outputs_than_allowed_are_refused() -> None:
    error = refusal(build([(30_000, P2WPKH), (30_000, CHANGE), (30_000, CHANGE)]))

    assert error.kind == "change_outputs"
    assert str(error) == ("2 outputs pay the federation's own script back; at most 1 change "
                          "output is allowed")
    assert check(build([(30_000, P2WPKH), (30_000, CHANGE), (30_000, CHANGE)]),
                 SpendPolicy(max_change_outputs=2)).change_sat == 60_000


def test_a_payout_over_the_cap_is_refused_and_change_does_not_count() -> None:
    inputs = (6 * BTC, 6 * BTC)
    check(build([(10 * BTC, P2WPKH), (2 * BTC - 10_000, CHANGE)], inputs))

    error = refusal(build([(10 * BTC + 1, P2WPKH), (2 * BTC - 10_001, CHANGE)], inputs))

    assert error.kind == "payout_high"
    assert str(error) == ("the peg-out pays out 1,000,000,001 sat (besides 199,989,999 sat of "
                          "change); at most 1,000,000,000 sat is allowed")


def test_ten_btc_spent_to_pay_out_546_sat_is_refused_for_its_fee() -> None:
    pegout = build([(546, P2PKH)], (5 * BTC, 5 * BTC))
    vsize = signed_vsize(pegout, SCRIPT, FED.threshold)

    error = refusal(pegout)

    assert error.kind == "fee_high"
    assert str(error) == (f"the fee is 999,999,454 sat ({999_999_454 / vsize:,.2f} sat/vB over an "
                          f"estimated signed size of {vsize} vB); at most 1,000,000 sat is "
                          "allowed")


def test_a_fee_rate_over_the_cap_is_refused() -> None:
    pegout = build([(100_000, P2WPKH)], (150_000, 150_000))  # a fee of 200,000 sat
    vsize = signed_vsize(pegout, SCRIPT, FED.threshold)
    assert 200_000 / vsize > 500

    error = refusal(pegout)

    assert error.kind == "fee_rate_high"
    assert str(error).endswith("; at most 500 sat/vB is allowed")
    assert f"{200_000 / vsize:,.2f} sat/vB" in str(error)


def test_a_fee_rate_under_the_minimum_is_refused() -> None:
    pegout = build([(99_900, P2WPKH)])
    vsize = signed_vsize(pegout, SCRIPT, FED.threshold)

    error = refusal(pegout)

    assert error.kind == "fee_rate_low"
    assert str(error) == (f"the fee is 100 sat ({100 / vsize:.2f} sat/vB over an estimated "
                          f"signed size of {vsize} vB); at least 1 sat/vB is needed to relay")
    fee = math.ceil(vsize)  # exactly 1 sat/vB passes
    check(build([(100_000 - fee, P2WPKH)]))


def test_a_version_not_allowed_is_refused() -> None:
    error = refusal(build([(90_000, P2WPKH)], version=1))

    assert error.kind == "version"
    assert str(error) == "the transaction has version 1; allowed: 2"
    check(build([(90_000, P2WPKH)], version=1), SpendPolicy(versions=(1, 2)))


def test_a_lock_time_over_the_maximum_is_refused() -> None:
    error = refusal(build([(90_000, P2WPKH)], locktime=800_000))

    assert error.kind == "locktime"
    assert str(error) == "the transaction's lock time is 800,000; at most 0 is allowed"
    check(build([(90_000, P2WPKH)], locktime=800_000), SpendPolicy(max_locktime=800_000))


def test_the_most_basic_rule_broken_is_the_one_reported() -> None:
    # Spent twice, version 1, dust and a huge fee at once: the duplicate comes first.
    pegout = build([(1, P2WPKH)], (5 * BTC, 5 * BTC), prevouts=[prevout(0), prevout(0)],
                   version=1)

    assert refusal(pegout).kind == "duplicate_outpoint"


# --- the error itself -------------------------------------------------------------------------


def test_a_policy_violation_keeps_its_kind_across_a_pickle() -> None:
    error = PolicyViolation("output 0 (p2wpkh) pays 1 sat", kind="dust")

    copy = pickle.loads(pickle.dumps(error))

    assert isinstance(copy, PolicyViolation) and isinstance(copy, BtcError)
    assert (str(copy), copy.kind) == ("output 0 (p2wpkh) pays 1 sat", "dust")


def test_a_policy_violation_of_an_unknown_kind_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown PolicyViolation kind 'fee'"):
        PolicyViolation("x", kind="fee")


# --- dust limits, Bitcoin Core's -----------------------------------------------------------------


@pytest.mark.parametrize(("script", "limit"), [
    (P2PKH, 546), (P2SH, 540), (P2WPKH, 294), (P2WSH, 330), (P2TR, 330),
    (bytes.fromhex("51024e73"), 240),  # a 2-byte witness v1 program (pay-to-anchor)
    (bytes.fromhex("51"), 474),  # bare OP_TRUE: a legacy spend
    (bytes.fromhex("0015" + "00" * 21), 297),  # v0 with 21 bytes: still a witness program
    (bytes.fromhex("0029" + "00" * 41), 600),  # 41 bytes: not one, so a legacy spend
])
def test_dust_limits_follow_bitcoin_core(script: bytes, limit: int) -> None:
    assert dust_threshold(script) == limit


def test_unspendable_outputs_have_no_dust_limit_and_the_relay_fee_scales_it() -> None:
    assert dust_threshold(OP_RETURN) is None
    assert dust_threshold(b"\x51" * 10_001) is None
    assert dust_threshold(b"\x51" * 10_000) is not None
    assert dust_threshold(P2WPKH, 1000) == 98
    assert dust_threshold(P2WPKH, 0) == 0
    assert dust_threshold(P2WPKH, 1) == 1  # a positive rate never rounds down to nothing


def test_script_types_are_named() -> None:
    names = [script_type(script) for script in (P2PKH, P2SH, P2WPKH, P2WSH, P2TR, OP_RETURN,
                                                 bytes.fromhex("5220" + "00" * 32), b"\x51")]
    assert names == ["p2pkh", "p2sh", "p2wpkh", "p2wsh", "p2tr", "op_return", "witness_v2",
                     "other"]


# --- the signed size, against real signed transactions ----------------------------------------


def signed_hex(fed: Federation[Member], unsigned: UnsignedPegout) -> str:
    """The peg-out signed by the federation's first `threshold` members."""
    tx = CTransaction.deserialize(bytes.fromhex(unsigned.tx_hex))
    witnesses: list[tuple[bytes, bytes, str]] = []
    for index, amount in zip(unsigned.input_indices, unsigned.amounts, strict=True):
        digest = SignatureHash(CScript(fed.witness_script), tx, index, SIGHASH_ALL, amount,
                               SIGVERSION_WITNESS_V0)
        witnesses.extend((sign_digest(signer, digest) + bytes([SIGHASH_ALL]),
                          public_key(signer), "ecdsa") for signer in range(fed.threshold))
    return assemble(unsigned, fed, witnesses).tx_hex


@pytest.mark.parametrize(("members", "threshold"), [(1, 1), (5, 3), (7, 7), (16, 1), (16, 16)])
@pytest.mark.parametrize(("n_inputs", "indices"), [(1, (0,)), (2, (1, 0)), (3, (0, 1, 2)),
                                                   (3, (2,))])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_estimated_vsize_bounds_a_real_signed_transaction_from_above(
        members: int, threshold: int, n_inputs: int, indices: tuple[int, ...], seed: int) -> None:
    fed = federation(members, threshold)
    tx_hex, _, amounts = make_unsigned_pegout(fed.witness_script, n_inputs=n_inputs, seed=seed,
                                              amounts=(10**6,) * n_inputs)
    unsigned = parse_pegout(tx_hex, indices, tuple(amounts[i] for i in indices),
                            max_pegout_sat=MAX_MONEY_SAT)
    signed = signed_hex(fed, unsigned)
    kernel_verify(signed, [(index, kernel_p2wsh(fed.witness_script), amount)
                           for index, amount in zip(indices, unsigned.amounts, strict=True)])
    # BIP 141: weight = 3 * size without witnesses + size with them.
    weight = 3 * (len(tx_hex) // 2) + len(signed) // 2
    real = math.ceil(weight / 4)

    estimate = signed_vsize(unsigned, fed.witness_script, threshold)

    assert real <= estimate <= real + threshold * len(indices)


# --- any transaction: accepted with consistent sums, or refused for a known reason ------------

SCRIPTS = (P2PKH, P2SH, P2WPKH, P2WSH, P2TR, CHANGE, OP_RETURN, b"\x51")


def rarely(draw: st.DrawFn) -> bool:
    """True one time in ten: each rule is broken often enough, and many peg-outs pass."""
    return draw(st.integers(0, 9)) == 0


@st.composite
def outputs(draw: st.DrawFn) -> tuple[int, bytes]:
    script = draw(st.sampled_from(SCRIPTS))
    if script == OP_RETURN:
        return (draw(st.integers(1, 1_000)) if rarely(draw) else 0), script
    small = rarely(draw)
    return draw(st.integers(0, 600) if small else st.integers(600, 3 * BTC)), script


@st.composite
def pegouts(draw: st.DrawFn) -> UnsignedPegout:
    n_inputs = draw(st.integers(1, 4))
    paid = draw(st.lists(outputs(), min_size=1, max_size=5))
    fee = draw(st.one_of(st.integers(-1_000, 1_000), st.integers(300, 150_000),
                         st.integers(0, 2_000_000)))
    total = max(n_inputs, sum(value for value, _ in paid) + fee)
    cuts = sorted(draw(st.sets(st.integers(1, total - 1), min_size=n_inputs - 1,
                               max_size=n_inputs - 1))) if n_inputs > 1 else []
    amounts = [high - low for low, high in zip([0, *cuts], [*cuts, total], strict=True)]
    points = [prevout(number) for number in range(n_inputs)]
    if n_inputs > 1 and rarely(draw):
        points[-1] = points[0]
    indices = draw(st.permutations(range(n_inputs)))
    if n_inputs > 1 and rarely(draw):
        indices = indices[1:]
    return build(paid, amounts, prevouts=points, indices=indices,
                 version=draw(st.sampled_from([1, 3])) if rarely(draw) else 2,
                 locktime=draw(st.sampled_from([1, 500_000_000])) if rarely(draw) else 0)


@given(pegouts())
def test_any_pegout_is_accepted_with_consistent_sums_or_refused_for_a_known_reason(
        pegout: UnsignedPegout) -> None:
    try:
        spend = check(pegout)
    except PolicyViolation as error:
        assert error.kind in POLICY_VIOLATION_KINDS
        return
    assert spend.fee_sat == spend.inputs_sat - spend.outputs_sat >= 0
    assert spend.payout_sat + spend.change_sat == spend.outputs_sat
    assert spend.inputs_sat == sum(pegout.amounts)
    assert spend.outputs_sat == sum(output.value_sat for output in pegout.outputs)
    assert DEFAULT.min_fee_rate_sat_vb <= spend.fee_rate_sat_vb <= DEFAULT.max_fee_rate_sat_vb
    assert spend.fee_sat <= DEFAULT.max_fee_sat and spend.payout_sat <= DEFAULT.max_payout_sat
    assert len(set(spend.outpoints)) == len(spend.outpoints) == len(pegout.inputs)
