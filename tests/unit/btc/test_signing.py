"""Witness assembly (convention 4), checked against coincurve and python-bitcoinlib."""

from __future__ import annotations

import pickle
from collections.abc import Sequence

import pytest
from bitcoin.core import CTransaction
from bitcoin.core.script import SIGHASH_ALL, SIGVERSION_WITNESS_V0, CScript, SignatureHash
from coincurve import PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.messages import Member
from btc.errors import SignaturesInvalid
from btc.federation import Federation
from btc.pegout import UnsignedPegout, parse_pegout
from btc.signing import SignedPegout, assemble
from btc.testing import make_unsigned_pegout
from tests.support.kernel import kernel_verify, p2wsh_script_pubkey
from tests.unit.btc import federation, index_of, members, public_key, sign_digest

FED = federation(5, 3)
Witness = tuple[bytes, bytes, str]


def pegout(fed: Federation = FED, amounts: Sequence[int] = (70_000, 30_000)) -> UnsignedPegout:
    tx_hex, indices, values = make_unsigned_pegout(
        fed.witness_script, n_inputs=len(amounts), amounts=amounts
    )
    return parse_pegout(tx_hex, indices, values, max_pegout_sat=10**8)


def digest(unsigned: UnsignedPegout, input_index: int, amount: int, fed: Federation = FED) -> bytes:
    # python-bitcoinlib, not btc.pegout: the signer must not share the node's code.
    tx = CTransaction.deserialize(bytes.fromhex(unsigned.tx_hex))
    script = CScript(fed.witness_script)
    return SignatureHash(script, tx, input_index, SIGHASH_ALL, amount, SIGVERSION_WITNESS_V0)


def signature(signer: int, message: bytes, sighash_type: int = SIGHASH_ALL) -> bytes:
    return sign_digest(signer, message) + bytes([sighash_type])


def sign(
    unsigned: UnsignedPegout,
    signers: Sequence[Sequence[int]] = ((0, 1, 2), (2, 3, 4)),
    fed: Federation = FED,
) -> list[Witness]:
    """Witnesses from the given signers (key indices), input by input, in the order given."""
    witnesses = []
    for group, index, amount in zip(signers, unsigned.input_indices, unsigned.amounts, strict=True):
        message = digest(unsigned, index, amount, fed)
        witnesses.extend(
            (signature(signer, message), public_key(signer), "ecdsa") for signer in group
        )
    return witnesses


def in_key_order(group: Sequence[int], fed: Federation = FED) -> list[int]:
    return sorted(group, key=lambda signer: fed.keys.index(public_key(signer)))


def verify_independently(
    signed: SignedPegout, unsigned: UnsignedPegout, fed: Federation = FED
) -> None:
    """What a Bitcoin node checks of each multisig input, emulated with bitcoinlib + coincurve."""
    tx = CTransaction.deserialize(bytes.fromhex(signed.tx_hex))
    assert tx.GetTxid()[::-1].hex() == signed.txid == unsigned.txid
    for index, amount in zip(unsigned.input_indices, unsigned.amounts, strict=True):
        stack = list(tx.wit.vtxinwit[index].scriptWitness.stack)
        assert stack[0] == b"" and stack[-1] == fed.witness_script
        assert len(stack) == fed.threshold + 2
        message = digest(unsigned, index, amount, fed)
        # CHECKMULTISIG walks the keys once, in script order, matching each signature.
        keys = iter(fed.keys)
        for sig in stack[1:-1]:
            assert sig[-1] == SIGHASH_ALL
            assert any(PublicKey(key).verify(sig[:-1], message, hasher=None) for key in keys)
    # Bitcoin Core's consensus engine has the last word.
    script_pubkey = p2wsh_script_pubkey(fed.witness_script)
    kernel_verify(signed.tx_hex, [(index, script_pubkey, amount) for index, amount
                                  in zip(unsigned.input_indices, unsigned.amounts, strict=True)])


def test_a_complete_response_assembles_a_valid_transaction() -> None:
    unsigned = pegout()
    signed = assemble(unsigned, FED, sign(unsigned))
    verify_independently(signed, unsigned)


def test_the_witness_stack_is_dummy_signatures_in_key_order_then_script() -> None:
    unsigned = pegout()
    signers = ((4, 0, 2), (3, 1, 0))
    signed = assemble(unsigned, FED, sign(unsigned, signers))
    tx = CTransaction.deserialize(bytes.fromhex(signed.tx_hex))
    for index, group in zip(unsigned.input_indices, signers, strict=True):
        stack = list(tx.wit.vtxinwit[index].scriptWitness.stack)
        signers_in_stack = [
            next(
                s
                for s in group
                if PublicKey(public_key(s)).verify(
                    sig[:-1], digest(unsigned, index, unsigned.amounts[index]), hasher=None
                )
            )
            for sig in stack[1:-1]
        ]
        assert stack[0] == b"" and stack[-1] == FED.witness_script
        assert signers_in_stack == in_key_order(group)


def test_only_the_requested_inputs_are_signed_in_request_order() -> None:
    tx_hex, _, _ = make_unsigned_pegout(FED.witness_script, n_inputs=3)
    unsigned = parse_pegout(tx_hex, (2, 0), (50_000, 50_000), max_pegout_sat=10**8)
    signed = assemble(unsigned, FED, sign(unsigned, ((0, 1, 2), (1, 2, 3))))
    tx = CTransaction.deserialize(bytes.fromhex(signed.tx_hex))
    assert list(tx.wit.vtxinwit[1].scriptWitness.stack) == []
    verify_independently(signed, unsigned)


def test_assembling_leaves_the_unsigned_pegout_unsigned() -> None:
    unsigned = pegout()
    first = assemble(unsigned, FED, sign(unsigned))
    assert (
        parse_pegout(
            unsigned.tx_hex, unsigned.input_indices, unsigned.amounts, max_pegout_sat=10**8
        )
        == unsigned
    )
    assert assemble(unsigned, FED, sign(unsigned)) == first


def test_inactive_members_do_not_count_and_the_active_ones_sign() -> None:
    roster = (*members(4), Member("retired", public_key(4), active=False))
    fed = Federation(version=2, members=roster, threshold=2)
    unsigned = pegout(fed, (60_000,))
    verify_independently(assemble(unsigned, fed, sign(unsigned, ((3, 0),), fed)), unsigned, fed)
    with pytest.raises(SignaturesInvalid) as caught:
        assemble(unsigned, fed, sign(unsigned, ((0, 4),), fed))
    assert caught.value.kind == "non_member"


@settings(max_examples=40, deadline=None)
@given(st.permutations(range(5)), st.permutations(range(5)), st.data())
def test_any_order_of_any_threshold_of_signers_assembles_the_same_transaction(
    first: list[int], second: list[int], data: st.DataObject
) -> None:
    unsigned = pegout()
    chosen = (first[:3], second[:3])
    reference = assemble(unsigned, FED, sign(unsigned, [in_key_order(g) for g in chosen]))
    shuffled = [data.draw(st.permutations(group)) for group in chosen]
    assert assemble(unsigned, FED, sign(unsigned, shuffled)) == reference


def rejection(unsigned: UnsignedPegout, witnesses: Sequence[Witness]) -> SignaturesInvalid:
    with pytest.raises(SignaturesInvalid) as caught:
        assemble(unsigned, FED, witnesses)
    return caught.value


def replace(witnesses: list[Witness], position: int, **fields: object) -> list[Witness]:
    sig, key, sig_type = witnesses[position]
    changed = (fields.get("sig", sig), fields.get("key", key), fields.get("sig_type", sig_type))
    return [*witnesses[:position], changed, *witnesses[position + 1 :]]  # type: ignore[list-item]


@pytest.mark.parametrize("count", [0, 5, 7, 3])
def test_a_wrong_number_of_signatures_is_refused(count: int) -> None:
    unsigned = pegout()
    witnesses = (sign(unsigned) * 2)[:count]
    error = rejection(unsigned, witnesses)
    assert error.kind == "count"
    assert str(error) == f"expected 6 signatures (3 for each of 2 inputs), got {count}"


def test_a_signature_from_outside_the_federation_is_refused() -> None:
    unsigned = pegout()
    outsider = signature(7, digest(unsigned, 1, 30_000))
    error = rejection(unsigned, replace(sign(unsigned), 4, sig=outsider, key=public_key(7)))
    assert error.kind == "non_member"
    assert error.input_index == 1 and error.public_key == public_key(7)
    assert str(error) == (
        f"input 1: signature 1 by {public_key(7)[:4].hex()}.. "
        "is not by an active member of federation version 1"
    )


def test_the_same_signer_twice_in_one_input_is_refused() -> None:
    unsigned = pegout()
    witnesses = sign(unsigned, ((0, 1, 1), (0, 1, 2)))
    error = rejection(unsigned, witnesses)
    assert error.kind == "duplicate_signer" and error.input_index == 0
    assert "signature 2 by" in str(error) and "repeats a signer" in str(error)


@pytest.mark.parametrize(
    "bad",
    [
        b"",
        b"\x30\x02\x02\x00\x01",  # truncated DER
        b"\x00" * 71 + b"\x01",
    ],
)
def test_a_malformed_signature_is_refused(bad: bytes) -> None:
    unsigned = pegout()
    error = rejection(unsigned, replace(sign(unsigned), 2, sig=bad))
    assert error.kind == "malformed_signature"
    assert error.input_index == 0 and error.public_key == public_key(2)


def test_a_non_canonical_der_signature_is_refused() -> None:
    # Strict DER (BIP-66) forbids padding r with a superfluous zero byte.
    unsigned = pegout()
    good = sign(unsigned)[0][0]
    der = good[:-1]
    r_len = der[3]
    padded_r = b"\x02" + bytes([r_len + 1]) + b"\x00" + der[4 : 4 + r_len]
    body = padded_r + der[4 + r_len :]
    padded = b"\x30" + bytes([len(body)]) + body + b"\x01"
    error = rejection(unsigned, replace(sign(unsigned), 0, sig=padded))
    assert error.kind == "malformed_signature"
    assert "strict DER" in str(error)


def test_a_high_s_signature_is_refused_as_malformed() -> None:
    order = int("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141", 16)
    unsigned = pegout()
    der = sign(unsigned)[0][0][:-1]
    r_len = der[3]
    s = int.from_bytes(der[6 + r_len :], "big")
    body = der[2 : 4 + r_len] + b"\x02\x21" + (order - s).to_bytes(33, "big")
    high_s = b"\x30" + bytes([len(body)]) + body + b"\x01"
    error = rejection(unsigned, replace(sign(unsigned), 0, sig=high_s))
    assert error.kind == "malformed_signature" and "high S" in str(error)


@pytest.mark.parametrize("sighash_type", [0x02, 0x03, 0x81, 0x00])
def test_a_sighash_type_other_than_all_is_refused(sighash_type: int) -> None:
    unsigned = pegout()
    sig = signature(3, digest(unsigned, 1, 30_000), sighash_type)
    error = rejection(unsigned, replace(sign(unsigned), 4, sig=sig))
    assert error.kind == "sighash_type"
    assert f"sighash type 0x{sighash_type:02x}" in str(error)


def test_a_signature_over_another_input_is_refused() -> None:
    unsigned = pegout()
    other_input = signature(3, digest(unsigned, 0, 70_000))
    error = rejection(unsigned, replace(sign(unsigned), 4, sig=other_input))
    assert error.kind == "bad_signature"
    assert str(error) == (
        f"input 1: signature 1 by {public_key(3)[:4].hex()}.. "
        "does not verify against the BIP143 sighash"
    )


def test_a_signature_over_another_amount_is_refused() -> None:
    unsigned = pegout()
    other_amount = signature(0, digest(unsigned, 0, 70_001))
    error = rejection(unsigned, replace(sign(unsigned), 0, sig=other_amount))
    assert error.kind == "bad_signature" and error.input_index == 0


def test_a_signature_under_another_member_s_key_is_refused() -> None:
    unsigned = pegout()
    error = rejection(unsigned, replace(sign(unsigned), 0, key=public_key(4)))
    assert error.kind == "bad_signature"
    assert index_of(error.public_key or b"") == 4


@pytest.mark.parametrize("sig_type", ["schnorr", "bls", "ECDSA", ""])
def test_a_signature_type_other_than_ecdsa_is_refused(sig_type: str) -> None:
    unsigned = pegout()
    error = rejection(unsigned, replace(sign(unsigned), 5, sig_type=sig_type))
    assert error.kind == "wrong_sig_type"
    assert f"sig_type {sig_type!r}" in str(error)


def test_a_rejection_survives_pickling_with_its_data() -> None:
    unsigned = pegout()
    error = rejection(unsigned, replace(sign(unsigned), 5, sig_type="schnorr"))
    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.kind, copy.input_index, copy.public_key) == (
        str(error),
        error.kind,
        error.input_index,
        error.public_key,
    )
