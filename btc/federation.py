"""The federation: its keys, its multisig script and address, and its updates.

A federation is one of two script types (convention 10). `p2wsh`: the script is
`OP_m <active keys, sorted bytewise> OP_n OP_CHECKMULTISIG` (convention 5) and members
sign with ECDSA. `p2tr`: one tapscript leaf over the active members' x-only keys under an
unspendable internal key (`btc.taproot`), and members sign with BIP340 Schnorr. Either
way every node derives the same address from the same member set whatever order
governance lists the members in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Generic, Protocol, TypeVar

from embit import script as embit_script
from embit.base import EmbitError
from embit.ec import PublicKey, Signature
from embit.networks import NETWORKS as EMBIT_NETWORKS
from embit.util import secp256k1

from btc.errors import BtcError, FederationInvalid
from btc.taproot import TaprootOutput, leaf_script, taproot_output, xonly_key

# The node's config names networks as Bitcoin Core's `-chain` does; embit does not.
_EMBIT_NETWORK_NAMES = {
    "mainnet": "main",
    "testnet": "test",
    "signet": "signet",
    "regtest": "regtest",
}
SUPPORTED_NETWORKS = tuple(_EMBIT_NETWORK_NAMES)

UPDATE_TYPES = frozenset({"member_add", "member_remove", "config_change", "emergency_halt"})

P2WSH = "p2wsh"
P2TR = "p2tr"
SCRIPT_TYPES = (P2WSH, P2TR)

# OP_1..OP_16 are the only small-integer opcodes, and embit encodes m and n with them.
# Tapscript has no such limit (its multisig leaf may name up to 999 keys), but the cap
# holds for P2TR too: a federation update may move between the two types, and a P2TR
# federation larger than a P2WSH one can be could never move back (docs/federations.md).
MAX_MULTISIG_KEYS = 16

_PARSE_ERRORS = (EmbitError, ValueError, IndexError, TypeError)

# How many applied federation versions, the one in force included, a peg-out may spend
# coins of: after a switch, coins still at an earlier address stay spendable under their
# own version's script and members until the version falls out of this window (it is
# then retired). It bounds what the chain announces and the bridge keeps.
SPENDABLE_VERSIONS = 8


# The btc package reads members and updates through these shapes, so that it does
# not depend on the actors' message classes (actors.messages.Member and
# UpdateFederation have them).
class Member(Protocol):
    @property
    def member_id(self) -> str: ...
    @property
    def public_key(self) -> bytes: ...
    @property
    def active(self) -> bool: ...


# A Federation keeps the member objects it was built from (the ChainActor persists
# them), so it is generic in their type.
MemberT = TypeVar("MemberT", bound=Member)
MemberT_co = TypeVar("MemberT_co", bound=Member, covariant=True)


class UpdateFederation(Protocol[MemberT_co]):
    @property
    def update_type(self) -> str: ...
    @property
    def version(self) -> int: ...
    @property
    def members(self) -> Sequence[MemberT_co]: ...
    @property
    def threshold(self) -> int: ...
    @property
    def p2wsh_address(self) -> str | None: ...
    @property
    def script_type(self) -> str | None: ...
    @property
    def p2tr_address(self) -> str | None: ...
    @property
    def update_signature(self) -> bytes: ...
    @property
    def update_digest(self) -> bytes: ...


def embit_network(network: str) -> dict[str, object]:
    """embit's parameters for a network named as in the node's config."""
    try:
        return EMBIT_NETWORKS[_EMBIT_NETWORK_NAMES[network]]
    except KeyError:
        # A config error, not a bad update: hence the root class.
        raise BtcError(
            f"unknown network {network!r}; expected one of {', '.join(SUPPORTED_NETWORKS)}"
        ) from None


def is_compressed_pubkey(key: bytes) -> bool:
    """True for a 33-byte SEC key with an 02/03 prefix whose point is on the curve."""
    return _parse_compressed(key) is not None


def active_keys(members: Iterable[Member]) -> tuple[bytes, ...]:
    """The public keys of the active members, sorted bytewise (the script's order)."""
    return tuple(sorted(member.public_key for member in members if member.active))


def witness_script(keys: Sequence[bytes], threshold: int) -> bytes:
    """`OP_m <keys in the given order> OP_n OP_CHECKMULTISIG`."""
    if not 1 <= len(keys) <= MAX_MULTISIG_KEYS:
        raise FederationInvalid(
            f"a multisig script needs 1 to {MAX_MULTISIG_KEYS} keys, got {len(keys)}"
        )
    if not 1 <= threshold <= len(keys):
        raise FederationInvalid(f"threshold {threshold} is outside 1..{len(keys)}")
    parsed = []
    for index, key in enumerate(keys):
        point = _parse_compressed(key)
        if point is None:
            raise FederationInvalid(f"key {index} is not a valid compressed secp256k1 key")
        parsed.append(point)
    return embit_script.multisig(threshold, parsed).data


@lru_cache(maxsize=256)
def _cached_witness_script(keys: tuple[bytes, ...], threshold: int) -> bytes:
    """`witness_script` for a federation: each version is a new `Federation`, but its
    keys and threshold mostly repeat the last one's (a sixth of the ChainActor's time)."""
    return witness_script(keys, threshold)


@lru_cache(maxsize=256)
def p2wsh_address(script: bytes, network: str) -> str:
    """The bech32 P2WSH address paying to `script` on `network`.

    Cached: bech32 in pure Python was a third of the ChainActor's time under a
    stream of updates, and a federation's script repeats from version to version."""
    return embit_script.p2wsh(embit_script.Script(script)).address(embit_network(network))


@lru_cache(maxsize=256)
def p2tr_address(script_pubkey: bytes, network: str) -> str:
    """The bech32m address of the witness v1 `script_pubkey` on `network` (cached as above)."""
    return embit_script.Script(script_pubkey).address(embit_network(network))


def check_script_type(script_type: str) -> str:
    """`script_type` if the node knows it; FederationInvalid naming the known ones if not."""
    if script_type not in SCRIPT_TYPES:
        raise FederationInvalid(
            f"unknown script_type {script_type!r}; expected one of {', '.join(SCRIPT_TYPES)}"
        )
    return script_type


@dataclass(frozen=True)
class Federation(Generic[MemberT_co]):
    """A federation version: its full member record and the multisig it controls.

    Inactive members stay on record but are not in the script and cannot sign.
    `halted` is set by an emergency halt: nothing is signed or broadcast until
    a later version replaces this one. `script_type` is `p2wsh` or `p2tr`.
    """

    version: int
    members: tuple[MemberT_co, ...]
    threshold: int
    halted: bool = False
    script_type: str = P2WSH

    @staticmethod
    def from_update(
        update: UpdateFederation[MemberT], script_type: str = P2WSH
    ) -> Federation[MemberT]:
        return Federation(
            version=update.version,
            members=tuple(update.members),
            threshold=update.threshold,
            halted=update.update_type == "emergency_halt",
            script_type=script_type,
        )

    @property
    def is_taproot(self) -> bool:
        return self.script_type == P2TR

    # cached_property writes to the instance __dict__, which a frozen dataclass
    # allows; the caches are derived from the fields, so equality is unaffected.
    @cached_property
    def keys(self) -> tuple[bytes, ...]:
        """Active members' keys in script order."""
        return active_keys(self.members)

    @cached_property
    def _key_set(self) -> frozenset[bytes]:
        return frozenset(self.keys)

    @cached_property
    def xonly_keys(self) -> tuple[bytes, ...]:
        """Active members' x-only keys in leaf order (sorted bytewise): P2TR's signers."""
        return tuple(sorted(xonly_key(key) for key in self.keys))

    @cached_property
    def witness_script(self) -> bytes:
        """The script the federation's coins are spent with: the P2WSH witness script,
        or the P2TR leaf script."""
        if self.is_taproot:
            return leaf_script(self.xonly_keys, self.threshold)
        return _cached_witness_script(self.keys, self.threshold)

    @property
    def taproot(self) -> TaprootOutput:
        """The P2TR output of a `p2tr` federation (its leaf, output key, control block)."""
        return taproot_output(self.witness_script)

    @cached_property
    def script_pubkey(self) -> bytes:
        """The output script of the federation's address."""
        if self.is_taproot:
            return self.taproot.script_pubkey
        return embit_script.p2wsh(embit_script.Script(self.witness_script)).data

    def address(self, network: str) -> str:
        if self.is_taproot:
            return p2tr_address(self.script_pubkey, network)
        return p2wsh_address(self.witness_script, network)

    def is_member(self, key: bytes) -> bool:
        """True if `key` belongs to an active member, i.e. can sign for this federation."""
        return key in self._key_set


def verify_update_signature(digest: bytes, signature_der: bytes, pubkey: bytes) -> bool:
    """Whether `signature_der` is `pubkey`'s ECDSA signature over the 32-byte `digest`.

    Malformed input of any kind is simply `False`.
    """
    signature = _parse_der(signature_der)
    key = _parse_pubkey(pubkey)
    if signature is None or key is None or len(digest) != 32:
        return False
    return _verify_any_s(key, signature, digest)


def validate_update(
    update: UpdateFederation[MemberT],
    *,
    latest_version: int | None,
    network: str,
    governance_pubkey: bytes | None,
    current_script_type: str = P2WSH,
) -> Federation[MemberT]:
    """The federation `update` describes, or `FederationInvalid` saying why not.

    `latest_version` is the highest version the node knows, applied or
    scheduled; `governance_pubkey`, when set, must have signed the update. An
    update without a `script_type` keeps `current_script_type`, the latest
    version's (convention 10).
    """
    if update.update_type not in UPDATE_TYPES:
        raise FederationInvalid(
            f"unknown update_type {update.update_type!r}; expected one of "
            f"{', '.join(sorted(UPDATE_TYPES))}"
        )
    if governance_pubkey is not None:
        _check_governance_signature(update, governance_pubkey)
    _check_version(update.version, latest_version)
    _check_members(update.members)
    script_type = check_script_type(update.script_type or current_script_type)
    federation = Federation.from_update(update, script_type)
    active = len(federation.keys)
    if active == 0:
        raise FederationInvalid(f"no active member among {len(update.members)} members")
    if active > MAX_MULTISIG_KEYS:
        raise FederationInvalid(
            f"{active} active members; the multisig script allows at most {MAX_MULTISIG_KEYS}"
        )
    if not 1 <= update.threshold <= active:
        raise FederationInvalid(
            f"threshold {update.threshold} is outside 1..{active} (the active members)"
        )
    if federation.is_taproot:
        _check_distinct_xonly(update.members)
    _check_addresses(update, federation, network)
    return federation


def _check_addresses(
    update: UpdateFederation[Member], federation: Federation[Member], network: str
) -> None:
    """Convention 5's address check, and convention 10's for P2TR: an address governance
    sends must be the one the node derives; one of the other type says governance means
    another federation than the update's script type."""
    given = {P2WSH: update.p2wsh_address, P2TR: update.p2tr_address}
    for kind, address in given.items():
        if address is None:
            continue
        if kind != federation.script_type:
            raise FederationInvalid(
                f"{kind}_address is given, but the update's federation is "
                f"{federation.script_type}: send {federation.script_type}_address instead"
            )
        derived = federation.address(network)
        if address not in (derived, derived.upper()):
            raise FederationInvalid(
                f"{kind}_address {address!r} does not match the address "
                f"derived from the active keys and threshold on {network}: {derived!r}"
            )


def _check_distinct_xonly(members: Sequence[Member]) -> None:
    # Two keys that differ only in their 02/03 prefix are one x-only key: the leaf
    # would name it twice, and one signer would count twice towards the threshold.
    seen: dict[bytes, int] = {}
    for index, member in enumerate(members):
        if not member.active:
            continue
        key = xonly_key(member.public_key)
        if key in seen:
            first = seen[key]
            raise FederationInvalid(
                f"members {members[first].member_id!r} (index {first}) and "
                f"{member.member_id!r} (index {index}) have the same x-only key {key.hex()}: "
                "a P2TR federation cannot tell them apart"
            )
        seen[key] = index


def _check_governance_signature(
    update: UpdateFederation[Member], governance_pubkey: bytes
) -> None:
    key = _parse_pubkey(governance_pubkey)
    if key is None:
        # The node's configuration is wrong, not the update.
        raise BtcError("the configured governance public key is not a valid secp256k1 key")
    if not update.update_signature:
        raise FederationInvalid("update_signature is missing; governance must sign updates")
    if len(update.update_digest) != 32:
        raise FederationInvalid(
            f"update_digest is {len(update.update_digest)} bytes, expected 32: "
            "the signed form of the update is unknown, so the signature cannot be checked"
        )
    signature = _parse_der(update.update_signature)
    if signature is None:
        raise FederationInvalid(
            f"update_signature ({len(update.update_signature)} bytes) is not a DER ECDSA signature"
        )
    if not _verify_any_s(key, signature, update.update_digest):
        raise FederationInvalid(
            "update_signature does not verify against the governance public key "
            f"over digest {update.update_digest.hex()}"
        )


def _check_version(version: int, latest_version: int | None) -> None:
    if version < 0:
        raise FederationInvalid(f"version {version} is negative")
    if latest_version is not None and version <= latest_version:
        raise FederationInvalid(
            f"version {version} is not greater than the latest known version {latest_version}"
        )


def _check_members(members: Sequence[Member]) -> None:
    seen_keys: dict[bytes, int] = {}
    seen_ids: dict[str, int] = {}
    for index, member in enumerate(members):
        key = member.public_key
        if not is_compressed_pubkey(key):
            raise FederationInvalid(
                f"member {member.member_id!r} (index {index}): public key "
                f"{_describe_key(key)} is not a valid compressed secp256k1 key"
            )
        if key in seen_keys:
            first = seen_keys[key]
            raise FederationInvalid(
                f"members {members[first].member_id!r} (index {first}) and "
                f"{member.member_id!r} (index {index}) have the same public key {key.hex()}"
            )
        if member.member_id in seen_ids:
            raise FederationInvalid(
                f"member_id {member.member_id!r} appears at index {seen_ids[member.member_id]} "
                f"and {index}"
            )
        seen_keys[key] = index
        seen_ids[member.member_id] = index


def _describe_key(key: object) -> str:
    if not isinstance(key, bytes):
        return f"of type {type(key).__name__}"
    if not key:
        return "(empty)"
    return f"({len(key)} bytes, {key[:4].hex()}..)"


def _parse_der(data: object) -> Signature | None:
    if not isinstance(data, bytes) or not data:
        return None
    try:
        return Signature.parse(data)
    except _PARSE_ERRORS:
        return None


def _parse_compressed(key: object) -> PublicKey | None:
    if not isinstance(key, bytes) or len(key) != 33 or key[0] not in (2, 3):
        return None
    return _parse_point(key)


@lru_cache(maxsize=1024)
def _parse_point(key: bytes) -> PublicKey | None:
    """Cached: a federation's keys repeat from version to version, and parsing each one
    (decompressing the point) was a quarter of the ChainActor's time under a stream of
    updates. The parsed keys are only read, never changed."""
    return _parse_pubkey(key)


def _parse_pubkey(data: object) -> PublicKey | None:
    if not isinstance(data, bytes):
        return None
    try:
        return PublicKey.parse(data)
    except _PARSE_ERRORS:
        return None


def _verify_any_s(key: PublicKey, signature: Signature, digest: bytes) -> bool:
    # Governance is not bound by Bitcoin's low-S rule (its signer may be any
    # ECDSA library), and libsecp256k1 rejects high S: normalize first. embit
    # has no public accessor for the parsed signature, hence `_sig`.
    normalized = Signature(secp256k1.ecdsa_signature_normalize(signature._sig))
    return bool(key.verify(normalized, digest))
