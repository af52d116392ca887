"""P2TR federations: BIP340/BIP341 vectors for what the node computes, and script-path
witnesses judged by Bitcoin Core's consensus engine (py-bitcoinkernel, TAPROOT)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from coincurve import PublicKeyXOnly
from embit.script import Script
from embit.transaction import Transaction

from btc.errors import FederationInvalid, SignaturesInvalid
from btc.federation import P2TR, Federation, p2tr_address, validate_update
from btc.pegout import UnsignedPegout, parse_pegout, taproot_sighashes
from btc.policy import SpendPolicy, check_spend, signed_vsize
from btc.signing import assemble
from btc.taproot import NUMS_INTERNAL_KEY, leaf_hash, taproot_output, xonly_key
from btc.testing import make_unsigned_pegout
from tests.support.kernel import kernel_verify_all
from tests.unit.btc import members, private_key, public_key
from tests.unit.btc.test_update import update

VECTORS = json.loads((Path(__file__).parent / "data" / "bip340_bip341_vectors.json").read_text())
FED: Federation = Federation(version=1, members=members(5), threshold=3, script_type=P2TR)
Witness = tuple[bytes, bytes, str]


# -- the vectors -------------------------------------------------------------------------


@pytest.mark.parametrize("vector", VECTORS["bip340"], ids=lambda v: f"bip340-{v['index']}")
def test_bip340_verification_vectors_give_the_expected_verdict(vector: dict[str, Any]) -> None:
    # The node verifies members' signatures with coincurve's PublicKeyXOnly.verify.
    try:
        key = PublicKeyXOnly(bytes.fromhex(vector["public_key"]))
        verdict = key.verify(bytes.fromhex(vector["signature"]), bytes.fromhex(vector["message"]))
    except ValueError:
        verdict = False  # a key that is not on the curve is refused as it is parsed
    assert verdict is vector["valid"], vector["comment"]


@pytest.mark.parametrize("vector", [v for v in VECTORS["bip340"] if v["secret_key"]],
                         ids=lambda v: f"bip340-sign-{v['index']}")
def test_bip340_signing_vectors_are_reproduced(vector: dict[str, Any]) -> None:
    # What the mock signs with (libsecp256k1 through embit), and what the tests sign with
    # (coincurve's sign_schnorr), each with the vector's aux randomness.
    from coincurve import PrivateKey

    from mock_governance.signer import schnorr_sign

    secret, message = bytes.fromhex(vector["secret_key"]), bytes.fromhex(vector["message"])
    aux = bytes.fromhex(vector["aux_rand"])
    assert schnorr_sign(secret, message, aux).hex() == vector["signature"]
    assert PrivateKey(secret).sign_schnorr(message, aux).hex() == vector["signature"]


@pytest.mark.parametrize("vector", VECTORS["bip341_script_pubkey"], ids=lambda v: v["comment"])
def test_bip341_one_leaf_output_matches_the_vector(vector: dict[str, str]) -> None:
    script = bytes.fromhex(vector["leaf_script"])
    internal = bytes.fromhex(vector["internal_pubkey"])
    assert leaf_hash(script).hex() == vector["leaf_hash"]
    output = taproot_output(script, internal)
    assert output.output_key.hex() == vector["tweaked_pubkey"]
    assert output.script_pubkey.hex() == vector["script_pubkey"]
    assert output.control_block.hex() == vector["control_block"]
    assert p2tr_address(output.script_pubkey, "mainnet") == vector["mainnet_address"]


@pytest.mark.parametrize("case", VECTORS["bip341_key_path_sighash"]["sighashes"],
                         ids=lambda c: f"input-{c['input']}-type-{c['hash_type']}")
def test_bip341_sighash_vectors_are_what_embit_computes(case: dict[str, Any]) -> None:
    # The node's BIP341 digests are embit's `sighash_taproot` (`btc.pegout`).
    data = VECTORS["bip341_key_path_sighash"]
    tx = Transaction.parse(bytes.fromhex(data["unsigned_tx"]))
    scripts = [Script(bytes.fromhex(script)) for script, _ in data["spent"]]
    amounts = [amount for _, amount in data["spent"]]
    digest = tx.sighash_taproot(case["input"], scripts, amounts, sighash=case["hash_type"])
    assert digest.hex() == case["sighash"]


# -- the federation's output -------------------------------------------------------------


def test_the_leaf_names_the_sorted_xonly_keys_and_the_threshold_under_the_nums_key() -> None:
    keys = sorted(xonly_key(public_key(index)) for index in range(5))
    assert FED.xonly_keys == tuple(keys)
    leaf = FED.witness_script
    assert leaf[:34] == b"\x20" + keys[0] + b"\xac"  # <k1> OP_CHECKSIG
    assert all(leaf[34 * i: 34 * (i + 1)] == b"\x20" + keys[i] + b"\xba" for i in range(1, 5))
    assert leaf[-2:] == bytes([0x53, 0x9C])  # OP_3 OP_NUMEQUAL
    assert FED.taproot.control_block[1:] == NUMS_INTERNAL_KEY
    assert FED.address("regtest").startswith("bcrt1p")
    assert FED.address("mainnet").startswith("bc1p")


def test_the_member_order_does_not_change_the_address() -> None:
    shuffled = dataclasses.replace(FED, members=tuple(reversed(members(5))))
    assert shuffled.address("signet") == FED.address("signet")


def test_an_update_to_p2tr_is_checked_against_its_p2tr_address() -> None:
    address = FED.address("regtest")
    checked = validate_update(update(script_type="p2tr", p2tr_address=address),
                              latest_version=None, network="regtest", governance_pubkey=None)
    assert checked.script_type == P2TR and checked.address("regtest") == address
    with pytest.raises(FederationInvalid, match=r"p2tr_address .* does not match"):
        validate_update(update(script_type="p2tr", p2tr_address=FED.address("mainnet")),
                        latest_version=None, network="regtest", governance_pubkey=None)


def test_an_update_without_a_script_type_keeps_the_current_one() -> None:
    kept = validate_update(update(), latest_version=None, network="regtest",
                           governance_pubkey=None, current_script_type="p2tr")
    assert kept.script_type == P2TR


@pytest.mark.parametrize(("changes", "message"), [
    ({"script_type": "p2sh"}, "unknown script_type 'p2sh'; expected one of p2wsh, p2tr"),
    ({"script_type": "p2tr", "p2wsh_address": "bcrt1qxyz"},
     "p2wsh_address is given, but the update's federation is p2tr"),
])
def test_an_update_with_a_wrong_script_type_is_refused_naming_it(changes: dict[str, Any],
                                                                  message: str) -> None:
    with pytest.raises(FederationInvalid, match=message):
        validate_update(update(**changes), latest_version=None, network="regtest",
                        governance_pubkey=None)


def test_two_members_with_one_xonly_key_are_refused_for_p2tr() -> None:
    twin_key = bytes([public_key(0)[0] ^ 1]) + public_key(0)[1:]  # the negated point
    roster = (*members(3), dataclasses.replace(members(1)[0], member_id="twin",
                                               public_key=twin_key))
    with pytest.raises(FederationInvalid, match="same x-only key"):
        validate_update(update(members=roster, script_type="p2tr"), latest_version=None,
                        network="regtest", governance_pubkey=None)


# -- signing and witnesses ---------------------------------------------------------------


def pegout(amounts: Sequence[int] = (70_000, 30_000), fed: Federation = FED) -> UnsignedPegout:
    tx_hex, indices, values = make_unsigned_pegout(fed.witness_script, n_inputs=len(amounts),
                                                   amounts=amounts)
    return parse_pegout(tx_hex, indices, values, max_pegout_sat=10**8)


def sign(unsigned: UnsignedPegout, signers: Sequence[Sequence[int]] = ((0, 1, 2), (2, 3, 4)),
         sighash_byte: bytes = b"") -> list[Witness]:
    output = FED.taproot
    digests = taproot_sighashes(unsigned, output.script_pubkey, output.leaf_script,
                                sighash_byte[0] if sighash_byte else 0)
    return [(private_key(signer).sign_schnorr(digest) + sighash_byte, public_key(signer),
             "schnorr")
            for group, digest in zip(signers, digests, strict=True) for signer in group]


def spent(unsigned: UnsignedPegout) -> list[tuple[bytes, int]]:
    return [(FED.script_pubkey, amount) for amount in unsigned.amounts]


@pytest.mark.parametrize("sighash_byte", [b"", b"\x01"], ids=["default", "all"])
def test_core_accepts_every_input_of_a_p2tr_pegout(sighash_byte: bytes) -> None:
    unsigned = pegout()
    signed = assemble(unsigned, FED, sign(unsigned, sighash_byte=sighash_byte))
    assert signed.txid == unsigned.txid
    kernel_verify_all(signed.tx_hex, spent(unsigned))


def test_the_witness_holds_one_item_per_leaf_key_then_the_leaf_and_the_control_block() -> None:
    unsigned = pegout((50_000,))
    signed = assemble(unsigned, FED, sign(unsigned, ((4, 0, 2),)))
    stack = Transaction.from_string(signed.tx_hex).vin[0].witness.items
    assert len(stack) == 5 + 2
    assert stack[-2:] == [FED.witness_script, FED.taproot.control_block]
    signers = {xonly_key(public_key(index)) for index in (0, 2, 4)}
    # The last key item is the leaf's first key's (it is on top of the stack).
    expected = [64 if key in signers else 0 for key in reversed(FED.xonly_keys)]
    assert [len(item) for item in stack[:5]] == expected


def test_core_refuses_an_amount_other_than_the_signed_one() -> None:
    unsigned = pegout()
    signed = assemble(unsigned, FED, sign(unsigned))
    wrong = [(script, amount + 1) for script, amount in spent(unsigned)]
    with pytest.raises(AssertionError, match="input 0"):
        kernel_verify_all(signed.tx_hex, wrong)


def replaced(witnesses: list[Witness], position: int, **fields: Any) -> list[Witness]:
    signature, key, sig_type = witnesses[position]
    witnesses[position] = (fields.get("signature", signature), fields.get("key", key),
                           fields.get("sig_type", sig_type))
    return witnesses


def outsider_signature(unsigned: UnsignedPegout) -> list[Witness]:
    witnesses = sign(unsigned)
    signature = private_key(9).sign_schnorr(bytes(32))
    return replaced(witnesses, 1, signature=signature, key=public_key(9))


@pytest.mark.parametrize(("make", "kind", "message"), [
    (lambda u: sign(u)[:-1], "count", "expected 6 signatures"),
    (lambda u: replaced(sign(u), 0, sig_type="ecdsa"), "wrong_sig_type", "needs 'schnorr'"),
    (outsider_signature, "non_member", "not by an active member"),
    (lambda u: replaced(sign(u), 1, key=public_key(0)), "duplicate_signer", "repeats a signer"),
    (lambda u: replaced(sign(u), 0, signature=bytes(63)), "malformed_signature", "is 63 bytes"),
    (lambda u: replaced(sign(u), 0, signature=sign(u)[0][0] + b"\x02"), "sighash_type",
     "sighash type 0x02"),
    (lambda u: replaced(sign(u), 0, signature=sign(u)[3][0]), "bad_signature",
     "not a valid BIP340 signature"),
])
def test_each_bad_p2tr_answer_is_refused_naming_its_kind(make: Any, kind: str,
                                                         message: str) -> None:
    unsigned = pegout()
    with pytest.raises(SignaturesInvalid, match=message) as caught:
        assemble(unsigned, FED, make(unsigned))
    assert caught.value.kind == kind


def test_a_signer_may_name_its_xonly_key() -> None:
    unsigned = pegout()
    witnesses = [(sig, xonly_key(key), kind) for sig, key, kind in sign(unsigned)]
    kernel_verify_all(assemble(unsigned, FED, witnesses).tx_hex, spent(unsigned))


# -- the spending policy -----------------------------------------------------------------


@pytest.mark.parametrize("sighash_byte", [b"", b"\x01"])
def test_the_p2tr_size_estimate_is_never_under_the_signed_size(sighash_byte: bytes) -> None:
    unsigned = pegout((40_000, 30_000, 20_000))
    signed = assemble(unsigned, FED, sign(unsigned, ((0, 1, 2),) * 3, sighash_byte))
    tx = Transaction.from_string(signed.tx_hex)
    weight = 4 * len(unsigned.tx_hex) // 2 + (len(tx.serialize()) - len(unsigned.tx_hex) // 2)
    estimate = signed_vsize(unsigned, FED.witness_script, FED.threshold, 5)
    assert -(-weight // 4) <= estimate <= -(-weight // 4) + 3


def test_change_to_the_p2tr_federation_is_change() -> None:
    unsigned = pegout()
    spend = check_spend(unsigned, witness_script=FED.witness_script, threshold=3,
                        policy=SpendPolicy(), taproot_keys=5)
    assert spend.change_sat == 0 and spend.payout_sat == spend.outputs_sat


def test_one_pegout_sighashed_under_two_federations_gets_each_ones_digests() -> None:
    # embit memoizes sha_scriptpubkeys on the parsed transaction: the second federation's
    # digests must not reuse the first's output script.
    other = Federation(version=2, members=members(3), threshold=2, script_type=P2TR)
    shared = pegout()
    taproot_sighashes(shared, FED.script_pubkey, FED.witness_script, 0)
    again = taproot_sighashes(shared, other.script_pubkey, other.witness_script, 0)
    alone = taproot_sighashes(pegout(), other.script_pubkey, other.witness_script, 0)
    assert again == alone


def test_each_signers_xonly_key_is_parsed_once_across_pegouts(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Parsing an x-only key lifts it onto the curve: done per signer, not per signature.
    import btc.signing

    parsed: list[bytes] = []

    def counting(key: bytes) -> PublicKeyXOnly:
        parsed.append(key)
        return PublicKeyXOnly(key)

    monkeypatch.setattr(btc.signing, "PublicKeyXOnly", counting)
    btc.signing._verifying_xonly.cache_clear()
    try:
        for amounts in ((70_000, 30_000), (40_000, 20_000)):
            unsigned = pegout(amounts)
            assemble(unsigned, FED, sign(unsigned))
    finally:
        btc.signing._verifying_xonly.cache_clear()
    assert sorted(parsed) == sorted(xonly_key(public_key(index)) for index in range(5))
