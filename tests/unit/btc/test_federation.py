"""Keys, multisig script and P2WSH addresses, against BIP vectors and python-bitcoinlib."""

from __future__ import annotations

import hashlib
import pickle

import pytest
from bitcoin import segwit_addr
from bitcoin.core.script import OP_3, OP_5, OP_CHECKMULTISIG, CScript
from coincurve import PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from actors.messages import Member, UpdateFederation
from btc.errors import BtcError, FederationInvalid
from btc.federation import (
    Federation,
    active_keys,
    is_compressed_pubkey,
    p2wsh_address,
    witness_script,
)
from tests.unit.btc import federation, members, public_key

G = bytes.fromhex("0279BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798")
# BIP-173: the P2WSH of `<G> OP_CHECKSIG`.
P2PK_SCRIPT = b"\x21" + G + b"\xac"

# BIP-143, "P2SH-P2WSH": a 6-of-6 witness script, its keys in script order.
BIP143_6_OF_6_KEYS = [
    bytes.fromhex(key)
    for key in (
        "0307b8ae49ac90a048e9b53357a2354b3334e9c8bee813ecb98e99a7e07e8c3ba3",
        "03b28f0c28bfab54554ae8c658ac5c3e0ce6e79ad336331f78c428dd43eea8449b",
        "034b8113d703413d57761b8b9781957b8c0ac1dfe69f492580ca4195f50376ba4a",
        "033400f6afecb833092a9a21cfdf1ed1376e58c5d1f47de74683123987e967a8f4",
        "03a6d48b1131e94ba04d9737d61acdaa1322008af9602b3b14862c07a1789aac16",
        "02d8b661b0b3302ee2f162b09e07a55ad5dfbe673a9f01d9f0c19617681024306b",
    )
]
BIP143_6_OF_6_SCRIPT = bytes.fromhex(
    "56210307b8ae49ac90a048e9b53357a2354b3334e9c8bee813ecb98e99a7e07e8c3ba32103b28f0c28bfab"
    "54554ae8c658ac5c3e0ce6e79ad336331f78c428dd43eea8449b21034b8113d703413d57761b8b978195"
    "7b8c0ac1dfe69f492580ca4195f50376ba4a21033400f6afecb833092a9a21cfdf1ed1376e58c5d1f47d"
    "e74683123987e967a8f42103a6d48b1131e94ba04d9737d61acdaa1322008af9602b3b14862c07a1789a"
    "ac162102d8b661b0b3302ee2f162b09e07a55ad5dfbe673a9f01d9f0c19617681024306b56ae"
)


def test_the_bip173_p2wsh_vector_derives_on_mainnet_and_testnet() -> None:
    assert p2wsh_address(P2PK_SCRIPT, "mainnet") == (
        "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3"
    )
    assert p2wsh_address(P2PK_SCRIPT, "testnet") == (
        "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7"
    )
    # Signet shares testnet's human-readable part.
    assert p2wsh_address(P2PK_SCRIPT, "signet") == p2wsh_address(P2PK_SCRIPT, "testnet")


def test_a_regtest_multisig_address_matches_python_bitcoinlib() -> None:
    keys = [public_key(index) for index in range(5)]
    sorted_keys = sorted(keys)
    independent = CScript([OP_3, *sorted_keys, OP_5, OP_CHECKMULTISIG])
    script = witness_script(sorted_keys, 3)
    assert script == bytes(independent)
    expected = segwit_addr.encode("bcrt", 0, hashlib.sha256(bytes(independent)).digest())
    assert p2wsh_address(script, "regtest") == expected
    assert expected.startswith("bcrt1q")


def test_the_witness_script_keeps_the_given_key_order() -> None:
    assert witness_script(BIP143_6_OF_6_KEYS, 6) == BIP143_6_OF_6_SCRIPT


@pytest.mark.parametrize(
    ("keys", "threshold", "message"),
    [
        ([], 1, "1 to 16 keys, got 0"),
        ([public_key(i) for i in range(17)], 1, "1 to 16 keys, got 17"),
        ([public_key(0)], 0, "threshold 0 is outside 1..1"),
        ([public_key(0)], 2, "threshold 2 is outside 1..1"),
        ([public_key(0), b"\x02" + b"\x00" * 32], 1, "key 1 is not a valid"),
    ],
)
def test_an_impossible_multisig_is_refused(keys: list[bytes], threshold: int, message: str) -> None:
    with pytest.raises(FederationInvalid, match=message):
        witness_script(keys, threshold)


def test_an_unknown_network_is_a_config_error_not_a_bad_update() -> None:
    with pytest.raises(BtcError, match="unknown network 'main'") as caught:
        p2wsh_address(P2PK_SCRIPT, "main")
    assert not isinstance(caught.value, FederationInvalid)


@pytest.mark.parametrize(
    ("key", "valid"),
    [
        (G, True),
        (b"\x03" + G[1:], True),  # the same x with the other y
        (bytes.fromhex("04" + G.hex()[2:]), False),  # wrong prefix for 33 bytes
        (G[:-1], False),
        (G + b"\x00", False),
        (b"", False),
        (b"\x02" + b"\x00" * 32, False),  # x = 0 is not on the curve
        (b"\x02" + b"\xff" * 32, False),  # x beyond the field
    ],
)
def test_only_valid_compressed_keys_are_accepted(key: bytes, valid: bool) -> None:
    assert is_compressed_pubkey(key) is valid


def test_an_uncompressed_key_is_not_compressed() -> None:
    uncompressed = PrivateKey(b"\x01" * 32).public_key.format(compressed=False)
    assert not is_compressed_pubkey(uncompressed)


def test_active_keys_are_sorted_and_leave_inactive_members_out() -> None:
    roster = (
        Member("a", public_key(3)),
        Member("b", public_key(1), active=False),
        Member("c", public_key(2)),
        Member("d", public_key(0)),
    )
    keys = active_keys(roster)
    assert keys == tuple(sorted([public_key(3), public_key(2), public_key(0)]))


def test_a_federation_derives_script_and_address_from_its_active_sorted_keys() -> None:
    fed = federation(5, 3)
    assert fed.keys == tuple(sorted(public_key(i) for i in range(5)))
    assert fed.witness_script == witness_script(fed.keys, 3)
    assert fed.address("regtest") == p2wsh_address(fed.witness_script, "regtest")
    assert fed.is_member(public_key(4))
    assert not fed.is_member(public_key(5))


def test_an_inactive_member_is_not_a_signer() -> None:
    roster = (*members(3), Member("retired", public_key(7), active=False))
    fed = Federation(version=2, members=roster, threshold=2)
    assert not fed.is_member(public_key(7))
    assert len(fed.keys) == 3


def test_cached_properties_leave_equality_and_pickling_intact() -> None:
    first, second = federation(), federation()
    _ = first.witness_script, first.keys
    assert first == second and hash(first) == hash(second)
    assert pickle.loads(pickle.dumps(first)) == first


def test_an_emergency_halt_update_gives_a_halted_federation() -> None:
    update = UpdateFederation(
        request_id="r1",
        update_type="emergency_halt",
        version=4,
        members=members(3),
        threshold=2,
        effective_height=100,
        p2wsh_address=None,
        update_signature=b"",
    )
    fed = Federation.from_update(update)
    assert fed.halted and fed.version == 4 and fed.threshold == 2
    assert not Federation.from_update(
        UpdateFederation("r2", "config_change", 5, members(3), 2, 100, None, b"")
    ).halted


@given(st.permutations(list(range(6))))
def test_the_address_does_not_depend_on_the_order_members_are_listed(order: list[int]) -> None:
    listed = tuple(Member(f"m{i}", public_key(i)) for i in order)
    fed = Federation(version=1, members=listed, threshold=4)
    assert fed.address("regtest") == federation(6, 4).address("regtest")
