"""The federation the mock signs with, from the keys of ``btc.seeded``.

Anyone who knows the seed can sign as the federation: these are test keys.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable
from dataclasses import dataclass

from btc.seeded import (
    MemberKey,
    derive_member,
    federation_keys,
    governance_key,
    governance_public_key,
    governance_secret,
    member_secret,
)

__all__ = [
    "NON_MEMBER_INDEX", "MemberKey", "SigningFederation", "check_federation_shape",
    "derive_member", "federation_keys", "governance_key", "governance_public_key",
    "governance_secret", "member_secret", "signing_federation",
]

__all__ = [
    "NON_MEMBER_INDEX", "MemberKey", "SigningFederation", "check_federation_shape",
    "derive_member", "federation_keys", "governance_key", "governance_public_key",
    "governance_secret", "member_secret", "signing_federation",
]
from mock_governance.multisig import (
    MAX_KEYS,
    SCRIPT_TYPES,
    p2tr_address,
    p2wsh_address,
    taproot_multisig,
    witness_script,
)

# A signer outside every federation the tests build; `non_member` faults sign with it.
NON_MEMBER_INDEX = 1000


@dataclass(frozen=True)
class SigningFederation:
    """The keys the mock signs with: members sorted by public key, and the threshold.

    `witness_script` is the P2WSH witness script, or the P2TR leaf script; `script_pubkey`
    the output its coins sit in."""

    seed: str
    members: tuple[MemberKey, ...]  # in sorted public-key order
    threshold: int
    witness_script: bytes
    outsider: MemberKey  # a derived key that is not a member
    script_type: str = "p2wsh"
    script_pubkey: bytes = b""

    @property
    def is_taproot(self) -> bool:
        return self.script_type == "p2tr"

    def address(self, network: str) -> str:
        if self.is_taproot:
            return p2tr_address(self.script_pubkey, network)
        return p2wsh_address(self.witness_script, network)

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


def signing_federation(
    seed: str, indices: Iterable[int], threshold: int, script_type: str = "p2wsh"
) -> SigningFederation:
    chosen = check_federation_shape(indices, threshold)
    if script_type not in SCRIPT_TYPES:
        raise ValueError(f"script_type must be one of {', '.join(SCRIPT_TYPES)}, got "
                         f"{script_type!r}")
    members = tuple(
        sorted((derive_member(seed, index) for index in chosen), key=lambda m: m.public_key)
    )
    outsider_index = next(i for i in itertools.count(NON_MEMBER_INDEX) if i not in chosen)
    keys = [m.public_key for m in members]
    if script_type == "p2tr":
        script, script_pubkey = taproot_multisig(keys, threshold)
    else:
        script = witness_script(keys, threshold)
        script_pubkey = b"\x00\x20" + hashlib.sha256(script).digest()
    return SigningFederation(
        seed=seed,
        members=members,
        threshold=threshold,
        witness_script=script,
        outsider=derive_member(seed, outsider_index),
        script_type=script_type,
        script_pubkey=script_pubkey,
    )
