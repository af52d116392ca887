"""validate_update: every reason an update is refused, and governance's signature."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest
from coincurve import PrivateKey

from actors.messages import Member, UpdateFederation
from btc.errors import BtcError, FederationInvalid
from btc.federation import Federation, validate_update, verify_update_signature
from tests.unit.btc import members, public_key

GOVERNANCE = PrivateKey(hashlib.sha256(b"governance").digest())
GOVERNANCE_PUBKEY = GOVERNANCE.public_key.format()
DIGEST = hashlib.sha256(b"the serialized update").digest()


def update(**changes: object) -> UpdateFederation:
    base = UpdateFederation(
        request_id="u1",
        update_type="member_add",
        version=3,
        members=members(5),
        threshold=3,
        effective_height=1_000,
        p2wsh_address=None,
        update_signature=b"",
        update_digest=b"",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def signed(**changes: object) -> UpdateFederation:
    return update(
        update_signature=GOVERNANCE.sign(DIGEST, hasher=None), update_digest=DIGEST, **changes
    )


def check(
    candidate: UpdateFederation, *, latest: int | None = 2, governance: bytes | None = None
) -> Federation:
    return validate_update(
        candidate, latest_version=latest, network="regtest", governance_pubkey=governance
    )


def test_a_valid_update_gives_its_federation() -> None:
    fed = check(update())
    assert fed == Federation(version=3, members=members(5), threshold=3)
    assert not fed.halted


def test_a_matching_p2wsh_address_is_accepted_in_either_case() -> None:
    address = Federation(version=3, members=members(5), threshold=3).address("regtest")
    assert check(update(p2wsh_address=address)).address("regtest") == address
    check(update(p2wsh_address=address.upper()))


def test_the_first_update_has_no_version_to_exceed() -> None:
    check(update(version=0), latest=None)


def test_an_emergency_halt_is_validated_like_any_update() -> None:
    assert check(update(update_type="emergency_halt")).halted
    with pytest.raises(FederationInvalid, match="threshold 6"):
        check(update(update_type="emergency_halt", threshold=6))


@pytest.mark.parametrize(
    ("changes", "latest", "message"),
    [
        ({"update_type": "promote"}, 2, "unknown update_type 'promote'"),
        ({"version": 2}, 2, "version 2 is not greater than the latest known version 2"),
        ({"version": 1}, 2, "version 1 is not greater"),
        ({"version": -1}, None, "version -1 is negative"),
        (
            {"members": (*members(2), Member("bad", b"\x02" + b"\x00" * 32))},
            2,
            r"member 'bad' \(index 2\): public key \(33 bytes, 02000000..\) is not a valid",
        ),
        (
            {"members": (*members(2), Member("long", public_key(5) + b"\x00"))},
            2,
            r"member 'long' \(index 2\): public key \(34 bytes",
        ),
        (
            {"members": (*members(2), Member("empty", b""))},
            2,
            r"member 'empty' \(index 2\): public key \(empty\)",
        ),
        (
            {"members": (*members(3), Member("copy", public_key(1)))},
            2,
            r"members 'm1' \(index 1\) and 'copy' \(index 3\) have the same public key",
        ),
        (
            {"members": (*members(3), Member("m0", public_key(9)))},
            2,
            "member_id 'm0' appears at index 0 and 3",
        ),
        (
            {"members": tuple(dataclasses.replace(m, active=False) for m in members(3))},
            2,
            "no active member among 3 members",
        ),
        ({"members": (), "threshold": 1}, 2, "no active member among 0 members"),
        (
            {"members": tuple(Member(f"m{i}", public_key(i)) for i in range(17))},
            2,
            "17 active members; the multisig script allows at most 16",
        ),
        ({"threshold": 0}, 2, r"threshold 0 is outside 1..5 \(the active members\)"),
        ({"threshold": 6}, 2, r"threshold 6 is outside 1..5"),
        (
            {"members": (*members(3), Member("x", public_key(8), active=False)), "threshold": 4},
            2,
            r"threshold 4 is outside 1..3",
        ),
    ],
)
def test_an_invalid_update_is_refused_with_its_reason(
    changes: dict[str, object], latest: int | None, message: str
) -> None:
    with pytest.raises(FederationInvalid, match=message):
        check(update(**changes), latest=latest)


def test_a_mismatching_p2wsh_address_is_refused_naming_both_addresses() -> None:
    derived = Federation(version=3, members=members(5), threshold=3).address("regtest")
    other = Federation(version=3, members=members(5), threshold=2).address("regtest")
    with pytest.raises(FederationInvalid) as caught:
        check(update(p2wsh_address=other))
    assert other in str(caught.value) and derived in str(caught.value)


def test_an_address_for_another_network_is_refused() -> None:
    mainnet = Federation(version=3, members=members(5), threshold=3).address("mainnet")
    with pytest.raises(FederationInvalid, match="does not match"):
        check(update(p2wsh_address=mainnet))


def test_a_governance_signed_update_is_accepted() -> None:
    assert check(signed(), governance=GOVERNANCE_PUBKEY).version == 3


def test_a_high_s_governance_signature_is_accepted_too() -> None:
    # Governance may sign with a library that does not normalize S.
    order = int("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141", 16)
    low = GOVERNANCE.sign(DIGEST, hasher=None)
    r_len = low[3]
    r, s = low[4 : 4 + r_len], int.from_bytes(low[6 + r_len :], "big")
    high = (order - s).to_bytes(33, "big")  # high S has its top bit set: DER needs a 0x00 pad
    body = b"\x02" + bytes([r_len]) + r + b"\x02\x21" + high
    high_s = b"\x30" + bytes([len(body)]) + body
    assert not GOVERNANCE.public_key.verify(high_s, DIGEST, hasher=None)  # libsecp256k1 says no
    assert verify_update_signature(DIGEST, high_s, GOVERNANCE_PUBKEY)
    check(update(update_signature=high_s, update_digest=DIGEST), governance=GOVERNANCE_PUBKEY)


@pytest.mark.parametrize(
    ("candidate", "message"),
    [
        (update(), "update_signature is missing"),
        (update(update_signature=b"\x30\x00", update_digest=DIGEST), "is not a DER ECDSA"),
        (
            update(
                update_signature=GOVERNANCE.sign(DIGEST, hasher=None) + b"\x01",
                update_digest=DIGEST,
            ),
            "is not a DER ECDSA",
        ),
        (
            update(update_signature=GOVERNANCE.sign(DIGEST, hasher=None)),
            "update_digest is 0 bytes, expected 32",
        ),
        (
            update(
                update_signature=GOVERNANCE.sign(DIGEST, hasher=None),
                update_digest=hashlib.sha256(b"another update").digest(),
            ),
            "does not verify against the governance public key",
        ),
        (
            update(
                update_signature=PrivateKey(b"\x07" * 32).sign(DIGEST, hasher=None),
                update_digest=DIGEST,
            ),
            "does not verify",
        ),
    ],
)
def test_an_update_without_governance_s_valid_signature_is_refused(
    candidate: UpdateFederation, message: str
) -> None:
    with pytest.raises(FederationInvalid, match=message):
        check(candidate, governance=GOVERNANCE_PUBKEY)


def test_the_signature_is_checked_before_the_content() -> None:
    with pytest.raises(FederationInvalid, match="update_signature is missing"):
        check(update(threshold=0), governance=GOVERNANCE_PUBKEY)


def test_without_a_governance_key_the_signature_is_not_required() -> None:
    check(update(update_signature=b"garbage"))


def test_a_bad_configured_governance_key_is_a_config_error() -> None:
    with pytest.raises(BtcError, match="configured governance public key") as caught:
        check(signed(), governance=b"\x02" + b"\x00" * 32)
    assert not isinstance(caught.value, FederationInvalid)


def test_verify_update_signature_is_false_for_anything_malformed() -> None:
    good = GOVERNANCE.sign(DIGEST, hasher=None)
    assert verify_update_signature(DIGEST, good, GOVERNANCE_PUBKEY)
    assert not verify_update_signature(DIGEST[:31], good, GOVERNANCE_PUBKEY)
    assert not verify_update_signature(DIGEST, b"", GOVERNANCE_PUBKEY)
    assert not verify_update_signature(DIGEST, b"\x30", GOVERNANCE_PUBKEY)
    assert not verify_update_signature(DIGEST, good, b"\x02" * 33)
    assert not verify_update_signature(DIGEST, good, public_key(0))
