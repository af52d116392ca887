"""Keys derived from a seed, for local mode and tests: anyone who knows the seed can
sign as the federation, so these never guard real coins.

Member ``i``'s private key is SHA-256(``"<seed>/<i>"``) read as a big-endian
scalar; governance's own key (it signs federation updates) is
SHA-256(``"<seed>/governance"``). A digest of 0 or of at least the curve
order is not a valid key: it is hashed again until it is. That happens
with probability about 2^-128, so in practice the first digest is the key,
but the rule keeps the derivation total and anyone can re-derive the keys.

The local node derives its first federation this way (``actors.chain.initial``),
and the mock governance server signs with the same keys.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

from coincurve import PrivateKey

SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
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
