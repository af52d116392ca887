"""The mock's test keys, all derived from ``--federation-seed``, and the federation it signs with.

Member ``i``'s private key is SHA-256(``"<seed>/<i>"``) read as a big-endian
scalar; governance's own key (it signs federation updates) is
SHA-256(``"<seed>/governance"``). A digest of 0 or of at least the curve
order is not a valid key: it is hashed again until it is. That happens
with probability about 2^-128, so in practice the first digest is the key,
but the rule keeps the derivation total and anyone can re-derive the keys.

Anyone who knows the seed can sign as the federation: these are test keys.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from coincurve import PrivateKey

from protocol.mock.multisig import MAX_KEYS, witness_script

SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
# A signer outside every federation the tests build; `non_member` faults sign with it.
NON_MEMBER_INDEX = 1000


def _scalar(label: str) -> bytes:
    secret = hashlib.sha256(label.encode()).digest()
    while not 0 < int.from_bytes(secret, "big") < SECP256K1_ORDER:
        secret = hashlib.sha256(secret).digest()
    return secret


def member_secret(seed: str, index: int) -> bytes:
    if index < 0:
        raise ValueError(f"member indices start at 0, got {index}")
    return _scalar(f"{seed}/{index}")


def governance_secret(seed: str) -> bytes:
    return _scalar(f"{seed}/governance")


@dataclass(frozen=True)
class MemberKey:
    index: int
    private_key: PrivateKey
    public_key: bytes  # compressed, 33 bytes


@lru_cache(maxsize=1024)
def derive_member(seed: str, index: int) -> MemberKey:
    """Cached: a PrivateKey costs a point multiplication, and the same few are asked for often."""
    private_key = PrivateKey(member_secret(seed, index))
    return MemberKey(index, private_key, private_key.public_key.format(compressed=True))


def federation_keys(seed: str, count: int) -> tuple[bytes, ...]:
    """Members 0..count-1's public keys, sorted: the order signatures come in (convention 4)."""
    if count < 0:
        raise ValueError(f"a federation cannot have {count} members")
    return tuple(sorted(derive_member(seed, index).public_key for index in range(count)))


def governance_key(seed: str) -> PrivateKey:
    return PrivateKey(governance_secret(seed))


def governance_public_key(seed: str) -> bytes:
    return governance_key(seed).public_key.format(compressed=True)


@dataclass(frozen=True)
class SigningFederation:
    """The keys the mock signs with: members sorted by public key, and the threshold."""

    seed: str
    members: tuple[MemberKey, ...]  # in sorted public-key order
    threshold: int
    witness_script: bytes
    outsider: MemberKey  # a derived key that is not a member

    @property
    def indices(self) -> tuple[int, ...]:
        return tuple(sorted(member.index for member in self.members))

    @property
    def public_keys(self) -> tuple[bytes, ...]:
        return tuple(member.public_key for member in self.members)

    @property
    def signers(self) -> tuple[MemberKey, ...]:
        """Who signs a complete answer: the first `threshold` members (convention 4)."""
        return self.members[: self.threshold]


def check_federation_shape(indices: Iterable[int], threshold: int) -> tuple[int, ...]:
    """The indices as a tuple; ValueError naming the problem if they cannot make a multisig."""
    chosen = tuple(indices)
    if not 1 <= len(chosen) <= MAX_KEYS:
        raise ValueError(f"a federation has 1 to {MAX_KEYS} members, got {len(chosen)}")
    if len(set(chosen)) != len(chosen):
        raise ValueError(f"member indices must be distinct, got {list(chosen)}")
    if any(index < 0 for index in chosen):
        raise ValueError(f"member indices start at 0, got {list(chosen)}")
    if not 1 <= threshold <= len(chosen):
        raise ValueError(f"the threshold must be from 1 to {len(chosen)}, got {threshold}")
    return chosen


def signing_federation(seed: str, indices: Iterable[int], threshold: int) -> SigningFederation:
    chosen = check_federation_shape(indices, threshold)
    members = tuple(
        sorted((derive_member(seed, index) for index in chosen), key=lambda m: m.public_key)
    )
    outsider_index = next(i for i in itertools.count(NON_MEMBER_INDEX) if i not in chosen)
    return SigningFederation(
        seed=seed,
        members=members,
        threshold=threshold,
        witness_script=witness_script([m.public_key for m in members], threshold),
        outsider=derive_member(seed, outsider_index),
    )
