"""Shared helpers for the btc tests: deterministic keys signed with coincurve.

coincurve (not embit) signs here on purpose: the tests then check embit-based
code against an independent secp256k1 binding.
"""

from __future__ import annotations

import hashlib

from coincurve import PrivateKey

from actors.messages import Member
from btc.federation import Federation


def private_key(index: int) -> PrivateKey:
    return PrivateKey(hashlib.sha256(b"k%d" % index).digest())


def public_key(index: int) -> bytes:
    return private_key(index).public_key.format(compressed=True)


def members(count: int) -> tuple[Member, ...]:
    return tuple(
        Member(member_id=f"m{index}", public_key=public_key(index)) for index in range(count)
    )


def federation(count: int = 5, threshold: int = 3, version: int = 1) -> Federation:
    return Federation(version=version, members=members(count), threshold=threshold)


def sign_digest(index: int, digest: bytes) -> bytes:
    """Member `index`'s DER signature over a ready-made 32-byte digest."""
    return private_key(index).sign(digest, hasher=None)


def index_of(key: bytes, count: int = 10) -> int:
    return next(index for index in range(count) if public_key(index) == key)
