"""parse_pegout's checks, BIP-143 sighashes, and the deterministic test transactions."""

from __future__ import annotations

import contextlib
import math

import pytest
from bitcoin.core import CTransaction
from bitcoin.core.script import SIGHASH_ALL, SIGVERSION_WITNESS_V0, CScript, SignatureHash
from embit.script import Witness
from embit.transaction import Transaction
from hypothesis import given
from hypothesis import strategies as st

from btc.errors import PegoutInvalid
from btc.pegout import MAX_MONEY_SAT, MAX_TX_BYTES, UnsignedPegout, parse_pegout, sighashes
from btc.policy import signed_vsize
from btc.testing import make_unsigned_pegout
from tests.unit.btc import federation

# BIP-143 "Native P2WPKH": input 1 spends 6 BTC; its scriptCode is the P2PKH form.
P2WPKH_TX = (
    "0100000002fff7f7881a8099afa6940d42d1e7f6362bec38171ea3edf433541db4e4ad969f0000000000eeff"
    "ffffef51e1b804cc89d182d279655c3aa89e815b1b309fe287d9b2b55d57b90ec68a0100000000ffffffff02"
    "202cb206000000001976a9148280b37df378db99f66f85c95a783a76ac7a6d5988ac9093510d000000001976"
    "a9143bde42dbee7e4dbe6a21b2d50ce2f0167faa815988ac11000000"
)
P2WPKH_SCRIPT_CODE = bytes.fromhex("76a9141d0f172a0ecb48aee1be1f2687d2963ae33f71a188ac")
P2WPKH_SIGHASH = "c37af31116d1b27caf68aae9e3ac82f1477929014d5b917657d0eb49478cb670"

# BIP-143 "P2SH-P2WSH": a 6-of-6 multisig spending 9.87654321 BTC; SIGHASH_ALL digest.
MULTISIG_TX = (
    "010000000136641869ca081e70f394c6948e8af409e18b619df2ed74aa106c1ca29787b96e0100000000ffff"
    "ffff0200e9a435000000001976a914389ffce9cd9ae88dcc0631e88a821ffdbe9bfe2688acc0832f05000000"
    "001976a9147480a33f950689af511e6e84c138dbbd3c3ee41588ac00000000"
)
MULTISIG_SCRIPT = bytes.fromhex(
    "56210307b8ae49ac90a048e9b53357a2354b3334e9c8bee813ecb98e99a7e07e8c3ba32103b28f0c28bfab"
    "54554ae8c658ac5c3e0ce6e79ad336331f78c428dd43eea8449b21034b8113d703413d57761b8b978195"
    "7b8c0ac1dfe69f492580ca4195f50376ba4a21033400f6afecb833092a9a21cfdf1ed1376e58c5d1f47d"
    "e74683123987e967a8f42103a6d48b1131e94ba04d9737d61acdaa1322008af9602b3b14862c07a1789a"
    "ac162102d8b661b0b3302ee2f162b09e07a55ad5dfbe673a9f01d9f0c19617681024306b56ae"
)
MULTISIG_SIGHASH_ALL = "185c0be5263dce5b4bb50a047973c1b6272bfbd0103a89444597dc40b248ee7c"

SCRIPT = federation().witness_script
LIMIT = 10 * 100_000_000


def parse(
    tx_hex: str,
    indices: tuple[int, ...] = (0, 1),
    amounts: tuple[int, ...] = (50_000, 50_000),
    limit: int = LIMIT,
) -> UnsignedPegout:
    return parse_pegout(tx_hex, indices, amounts, max_pegout_sat=limit)


def unsigned(**kwargs: int) -> str:
    return make_unsigned_pegout(SCRIPT, **kwargs)[0]


def with_witness(tx_hex: str) -> str:
    tx = Transaction.parse(bytes.fromhex(tx_hex))
    tx.vin[1].witness = Witness([b"\x01"])
    return tx.serialize().hex()


def bitcoinlib_sighash(tx_hex: str, index: int, script: bytes, amount: int) -> bytes:
    tx = CTransaction.deserialize(bytes.fromhex(tx_hex))
    return SignatureHash(CScript(script), tx, index, SIGHASH_ALL, amount, SIGVERSION_WITNESS_V0)


def test_sighashes_reproduce_bip143_native_p2wpkh() -> None:
    pegout = parse(P2WPKH_TX, (1,), (600_000_000,))
    assert [digest.hex() for digest in sighashes(pegout, P2WPKH_SCRIPT_CODE)] == [P2WPKH_SIGHASH]


def test_sighashes_reproduce_bip143_multisig_sighash_all() -> None:
    pegout = parse(MULTISIG_TX, (0,), (987_654_321,))
    assert [digest.hex() for digest in sighashes(pegout, MULTISIG_SCRIPT)] == [MULTISIG_SIGHASH_ALL]


@given(
    seed=st.integers(0, 2**32),
    n_inputs=st.integers(1, 6),
    padding=st.sampled_from([0, 200, 2_000]),
    data=st.data(),
)
def test_sighashes_agree_with_python_bitcoinlib_in_input_indices_order(
    seed: int, n_inputs: int, padding: int, data: st.DataObject
) -> None:
    amounts = tuple(
        # At least a 2,000-byte transaction's fee at 2 sat/vB, even with one input.
        data.draw(st.lists(st.integers(10_000, 10**8), min_size=n_inputs, max_size=n_inputs))
    )
    tx_hex, indices, _ = make_unsigned_pegout(
        SCRIPT, n_inputs=n_inputs, amounts=amounts, seed=seed, padding_bytes=padding
    )
    order = tuple(data.draw(st.permutations(indices)))
    chosen = order[: data.draw(st.integers(1, n_inputs))]
    chosen_amounts = tuple(amounts[index] for index in chosen)
    pegout = parse_pegout(tx_hex, chosen, chosen_amounts, max_pegout_sat=MAX_MONEY_SAT)
    assert sighashes(pegout, SCRIPT) == tuple(
        bitcoinlib_sighash(tx_hex, index, SCRIPT, amount)
        for index, amount in zip(chosen, chosen_amounts, strict=True)
    )


def test_a_parsed_pegout_keeps_its_request_and_the_final_txid() -> None:
    tx_hex = unsigned()
    pegout = parse(tx_hex)
    assert pegout.tx_hex == tx_hex
    assert pegout.input_indices == (0, 1) and pegout.amounts == (50_000, 50_000)
    assert pegout.txid == CTransaction.deserialize(bytes.fromhex(tx_hex)).GetTxid()[::-1].hex()
    assert pegout == parse(tx_hex)
    assert "_tx" not in repr(pegout)


def test_a_parsed_pegout_shows_its_inputs_outputs_version_and_lock_time() -> None:
    pegout = parse(P2WPKH_TX, (1,), (600_000_000,))
    tx = CTransaction.deserialize(bytes.fromhex(P2WPKH_TX))
    assert [(i.prev_txid, i.vout, i.sequence) for i in pegout.inputs] == [
        (tx_in.prevout.hash[::-1].hex(), tx_in.prevout.n, tx_in.nSequence) for tx_in in tx.vin]
    assert pegout.inputs[1].outpoint == f"{tx.vin[1].prevout.hash[::-1].hex()}:1"
    assert [(o.value_sat, o.script_pubkey) for o in pegout.outputs] == [
        (out.nValue, bytes(out.scriptPubKey)) for out in tx.vout]
    assert (pegout.version, pegout.locktime) == (1, 17)
    assert pegout.size_bytes == len(P2WPKH_TX) // 2


def test_a_pegout_up_to_the_limit_is_accepted() -> None:
    parse(unsigned(), limit=100_000)


NO_INPUTS = "02000000" + "0001" + "00" + "01" + "e803000000000000" + "00" + "00000000"
NO_OUTPUTS = unsigned()[: 8 + 2 + 2 * 2 * 41] + "00" + "00000000"
MARKER_WITHOUT_WITNESS = unsigned()[:8] + "0001" + unsigned()[8:-8] + "00" + "00" + unsigned()[-8:]


@pytest.mark.parametrize(
    ("tx_hex", "message"),
    [
        ("", "tx_hex is empty"),
        ("abc", r"odd length \(3 characters\)"),
        ("zz" + unsigned()[2:], "not hexadecimal"),
        (" 0" + unsigned()[2:], "not hexadecimal"),
        ("00" * (MAX_TX_BYTES + 1), f"{MAX_TX_BYTES + 1} bytes, over the {MAX_TX_BYTES}-byte"),
        ("00", "does not parse as a transaction"),
        (unsigned()[:-2], "does not parse as a transaction"),
        (unsigned()[:60], "does not parse as a transaction"),
        (unsigned() + "00", "1 trailing byte after"),
        (unsigned() + "0000", "2 trailing bytes after"),
        (NO_INPUTS, "no inputs"),
        (NO_OUTPUTS, "no outputs"),
        (with_witness(unsigned()), "input 1 already carries witness data"),
        (MARKER_WITHOUT_WITNESS, "segwit marker without witnesses"),
    ],
)
def test_an_unusable_transaction_is_refused(tx_hex: str, message: str) -> None:
    with pytest.raises(PegoutInvalid, match=message):
        parse(tx_hex)


def test_a_non_string_tx_hex_is_refused() -> None:
    with pytest.raises(PegoutInvalid, match="must be a string, got bytes"):
        parse_pegout(b"00", (0,), (1,), max_pegout_sat=LIMIT)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("indices", "amounts", "message"),
    [
        ((), (), "input_indices is empty"),
        ((0, 0), (1, 1), "input index 0 appears more than once"),
        ((0, 2), (1, 1), "input index 2 is out of range: the transaction has 2 inputs"),
        ((-1,), (1,), "input index -1 is out of range"),
        ((True,), (1,), "input index True is not an integer"),
        ((0, 1), (50_000,), "1 amounts for 2 input indices"),
        ((0,), (50_000, 1), "2 amounts for 1 input indices"),
        ((0, 1), (50_000, 0), "amount 1 is 0 sat, outside 1..2100000000000000"),
        ((0,), (-5,), "amount 0 is -5 sat"),
        ((0,), (MAX_MONEY_SAT + 1,), "amount 0 is 2100000000000001 sat"),
        ((0,), (1.5,), r"amount 0 \(1.5\) is not an integer"),
        ((0, 1), (600_000_000, 400_000_001), "spends 1000000001 sat, over the 1000000000 sat"),
    ],
)
def test_unusable_inputs_or_amounts_are_refused(
    indices: tuple[int, ...], amounts: tuple[int, ...], message: str
) -> None:
    with pytest.raises(PegoutInvalid, match=message):
        parse(unsigned(), indices, amounts)


VALID_RAW = bytes.fromhex(unsigned(padding_bytes=100))


@st.composite
def damaged_transactions(draw: st.DrawFn) -> bytes:
    """A valid transaction cut, extended or with a byte changed: parsing's edge cases."""
    raw = bytearray(VALID_RAW)
    position = draw(st.integers(0, len(raw) - 1))
    damage = draw(st.sampled_from(["cut", "flip", "insert"]))
    if damage == "cut":
        return bytes(raw[:position])
    if damage == "flip":
        raw[position] = draw(st.integers(0, 255))
        return bytes(raw)
    return bytes(raw[:position]) + draw(st.binary(min_size=1, max_size=9)) + bytes(raw[position:])


@given(st.one_of(st.binary(max_size=300), damaged_transactions()))
def test_any_bytes_either_parse_or_raise_pegout_invalid(raw: bytes) -> None:
    with contextlib.suppress(PegoutInvalid):
        pegout = parse_pegout(raw.hex(), (0,), (1,), max_pegout_sat=LIMIT)
        # Whatever parsed must serialize back to exactly the bytes received.
        assert Transaction.parse(raw).serialize() == raw
        assert pegout.tx_hex == raw.hex()


@given(st.integers(0, 2**16), st.integers(0, 2**16))
def test_different_seeds_give_different_txids(first: int, second: int) -> None:
    txids = {parse(unsigned(seed=seed)).txid for seed in (first, second)}
    assert len(txids) == (1 if first == second else 2)


@pytest.mark.parametrize(("padding", "outputs"), [
    (10, 1), (80, 2), (200, 2), (262, 2), (2_000, 2), (10_011, 2), (10_030, 3), (20_000, 3),
])
def test_padding_grows_the_transaction_by_about_that_much_in_few_outputs(
        padding: int, outputs: int) -> None:
    padded = unsigned(padding_bytes=padding)
    grown = len(padded) // 2 - len(unsigned()) // 2
    assert padding - 15 <= grown <= padding
    tx = CTransaction.deserialize(bytes.fromhex(padded))
    assert len(tx.vout) == outputs
    # Zero-value OP_RETURN outputs, each script within Bitcoin Core's 10,000 bytes.
    assert all(out.nValue == 0 and bytes(out.scriptPubKey)[0] == 0x6A and
               len(out.scriptPubKey) <= 10_000 for out in tx.vout[1:])


def test_the_test_pegout_pays_all_but_the_fee_to_one_p2wpkh_output() -> None:
    tx_hex, indices, amounts = make_unsigned_pegout(SCRIPT, n_inputs=3, amounts=(1, 2, 10_000))
    tx = CTransaction.deserialize(bytes.fromhex(tx_hex))
    assert indices == (0, 1, 2) and amounts == (1, 2, 10_000)
    assert len(tx.vin) == 3 and len(tx.vout) == 1
    assert bytes(tx.vout[0].scriptPubKey)[:2] == b"\x00\x14"
    fee = 10_003 - tx.vout[0].nValue
    vsize = signed_vsize(parse(tx_hex, indices, amounts), SCRIPT, 3)
    assert fee == math.ceil(2.0 * vsize)  # the default rate, over the signed size


@pytest.mark.parametrize("rate", [1.0, 2.0, 7.5, 120.0])
def test_the_test_pegout_pays_the_fee_rate_asked_for(rate: float) -> None:
    tx_hex, indices, amounts = make_unsigned_pegout(SCRIPT, fee_rate_sat_vb=rate)
    tx = CTransaction.deserialize(bytes.fromhex(tx_hex))
    vsize = signed_vsize(parse(tx_hex, indices, amounts), SCRIPT, 3)
    assert 100_000 - tx.vout[0].nValue == math.ceil(rate * vsize)


def test_the_test_pegout_refuses_inputs_too_small_for_its_fee_or_a_script_without_op_m() -> None:
    with pytest.raises(ValueError, match="not enough for a"):
        make_unsigned_pegout(SCRIPT, n_inputs=1, amounts=(300,))
    with pytest.raises(ValueError, match="does not start with OP_m"):
        make_unsigned_pegout(b"\x00" + SCRIPT[1:])


def test_the_test_pegout_depends_on_the_federation_and_the_network() -> None:
    other = federation(4, 2).witness_script
    assert make_unsigned_pegout(SCRIPT)[0] != make_unsigned_pegout(other)[0]
    assert make_unsigned_pegout(SCRIPT)[0] != make_unsigned_pegout(SCRIPT, network="signet")[0]
