"""Turn governance's signatures into a broadcastable peg-out (convention 4).

Every signature is checked before any is used: one bad signature would make
the whole transaction invalid on chain, and governance must hear precisely
which one and why. A P2WSH federation's members sign with ECDSA over BIP143
sighashes; a P2TR federation's with BIP340 Schnorr over BIP341 script-path
sighashes (`_taproot_stacks`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import NoReturn

from coincurve import PublicKey as VerifyingKey
from coincurve import PublicKeyXOnly
from embit.base import EmbitError
from embit.ec import Signature
from embit.transaction import SIGHASH
from embit.util import secp256k1

from btc.errors import SignaturesInvalid
from btc.federation import Federation, Member
from btc.pegout import UnsignedPegout, serialize_with_witnesses, sighashes, taproot_sighashes
from btc.taproot import xonly_key

SIG_TYPE_ECDSA = "ecdsa"
SIG_TYPE_SCHNORR = "schnorr"
SCHNORR_SIGNATURE_BYTES = 64

_PARSE_ERRORS = (EmbitError, ValueError, IndexError, TypeError)


@dataclass(frozen=True)
class SignedPegout:
    tx_hex: str
    txid: str


def assemble(
    pegout: UnsignedPegout,
    federation: Federation[Member],
    witnesses: Sequence[tuple[bytes, bytes, str]],
) -> SignedPegout:
    """The signed peg-out, or `SignaturesInvalid` naming the first unusable signature.

    `witnesses` holds (signature with its sighash byte, public key, sig_type):
    `federation.threshold` of them per signed input, input by input in
    `input_indices` order. Signers may come in any order within an input.
    """
    threshold = federation.threshold
    n_inputs = len(pegout.input_indices)
    expected = threshold * n_inputs
    if len(witnesses) != expected:
        raise SignaturesInvalid(
            f"expected {expected} signatures ({threshold} for each of {n_inputs} inputs), "
            f"got {len(witnesses)}",
            kind="count",
        )
    if federation.is_taproot:
        stacks = _taproot_stacks(pegout, federation, witnesses)
    else:
        stacks = _p2wsh_stacks(pegout, federation, witnesses)
    return SignedPegout(
        tx_hex=serialize_with_witnesses(pegout, stacks).hex(),
        txid=pegout.txid,
    )


def _p2wsh_stacks(
    pegout: UnsignedPegout,
    federation: Federation[Member],
    witnesses: Sequence[tuple[bytes, bytes, str]],
) -> dict[int, list[bytes]]:
    threshold = federation.threshold
    expected = len(witnesses)
    script = federation.witness_script
    positions = {key: position for position, key in enumerate(federation.keys)}
    stacks: dict[int, list[bytes]] = {}
    for group_start, (input_index, digest) in zip(
        range(0, expected, threshold),
        zip(pegout.input_indices, sighashes(pegout, script), strict=True),
        strict=True,
    ):
        group = witnesses[group_start : group_start + threshold]
        signatures = _ordered_signatures(input_index, group, digest, positions, federation)
        # The leading empty item is the extra value OP_CHECKMULTISIG pops.
        stacks[input_index] = [b"", *signatures, script]
    return stacks


def _taproot_stacks(
    pegout: UnsignedPegout,
    federation: Federation[Member],
    witnesses: Sequence[tuple[bytes, bytes, str]],
) -> dict[int, list[bytes]]:
    """Each input's script-path witness: one item per leaf key, then the leaf and the
    control block. The leaf's first key checks the item on top of the stack, which is the
    last item before the leaf: so the items go in reverse leaf order, empty for a key
    that did not sign (its OP_CHECKSIG(ADD) then adds nothing)."""
    threshold = federation.threshold
    output = federation.taproot
    positions = {key: position for position, key in enumerate(federation.xonly_keys)}
    digests: dict[int, tuple[bytes, ...]] = {}

    def digest_of(sighash_type: int, group_index: int) -> bytes:
        if sighash_type not in digests:
            digests[sighash_type] = taproot_sighashes(
                pegout, output.script_pubkey, output.leaf_script, sighash_type
            )
        return digests[sighash_type][group_index]

    stacks: dict[int, list[bytes]] = {}
    for group_index, input_index in enumerate(pegout.input_indices):
        start = group_index * threshold
        by_position: dict[int, bytes] = {}
        for number, (signature, key, sig_type) in enumerate(witnesses[start : start + threshold]):
            where = (input_index, number, key)
            xonly = _member_xonly(key, federation)
            position = _signer(where, sig_type, SIG_TYPE_SCHNORR,
                               positions.get(xonly) if xonly is not None else None,
                               by_position, federation)
            assert xonly is not None  # a member's
            sighash_type = _schnorr_sighash_type(where, signature)
            if not _verifying_xonly(xonly).verify(
                signature[:SCHNORR_SIGNATURE_BYTES], digest_of(sighash_type, group_index)
            ):
                _reject(
                    where, "is not a valid BIP340 signature over the BIP341 sighash",
                    "bad_signature",
                )
            by_position[position] = signature
        items = [by_position.get(position, b"") for position in range(len(positions))]
        stacks[input_index] = [*reversed(items), output.leaf_script, output.control_block]
    return stacks


def _member_xonly(key: bytes, federation: Federation[Member]) -> bytes | None:
    """The x-only key a signer names by its 33-byte member key or by the x-only key itself
    (the caller looks the latter up among the leaf's keys)."""
    if len(key) == 33:
        return xonly_key(key) if federation.is_member(key) else None
    if len(key) == 32:
        return key
    return None


def _schnorr_sighash_type(where: tuple[int, int, bytes], signature: bytes) -> int:
    """SIGHASH_DEFAULT for a bare 64-byte signature; the type byte of a 65-byte one, which
    must be SIGHASH_ALL (BIP341 forbids an explicit 0x00, and the rest sign less than the
    whole transaction)."""
    if len(signature) == SCHNORR_SIGNATURE_BYTES:
        return SIGHASH.DEFAULT
    if len(signature) != SCHNORR_SIGNATURE_BYTES + 1:
        _reject(
            where,
            f"is {len(signature)} bytes; a BIP340 signature is 64, or 65 with a sighash byte",
            "malformed_signature",
        )
    if signature[-1] != SIGHASH.ALL:
        _reject(
            where,
            f"has sighash type 0x{signature[-1]:02x}; only SIGHASH_DEFAULT (no byte) and "
            "SIGHASH_ALL (0x01) are accepted",
            "sighash_type",
        )
    return SIGHASH.ALL


def _ordered_signatures(
    input_index: int,
    group: Sequence[tuple[bytes, bytes, str]],
    digest: bytes,
    positions: Mapping[bytes, int],
    federation: Federation[Member],
) -> list[bytes]:
    """The input's signatures, checked, in script key order (CHECKMULTISIG's order)."""
    by_position: dict[int, bytes] = {}
    for number, (signature, key, sig_type) in enumerate(group):
        where = (input_index, number, key)
        position = _signer(where, sig_type, SIG_TYPE_ECDSA, positions.get(key), by_position,
                           federation)
        if not signature:
            _reject(where, "is empty", "malformed_signature")
        if signature[-1] != SIGHASH.ALL:
            _reject(
                where,
                f"has sighash type 0x{signature[-1]:02x}; only SIGHASH_ALL (0x01) is accepted",
                "sighash_type",
            )
        parsed = _parse_strict_der(signature[:-1])
        if parsed is None:
            _reject(where, "is not a strict DER ECDSA signature", "malformed_signature")
        if not _verifying_key(key).verify(signature[:-1], digest, hasher=None):
            if _is_high_s(parsed):
                _reject(
                    where,
                    "has a high S value, which Bitcoin does not relay (BIP-146)",
                    "malformed_signature",
                )
            _reject(where, "does not verify against the BIP143 sighash", "bad_signature")
        by_position[position] = signature
    return [by_position[position] for position in sorted(by_position)]


_MULTISIG_OF = {SIG_TYPE_ECDSA: "P2WSH", SIG_TYPE_SCHNORR: "P2TR"}


def _signer(
    where: tuple[int, int, bytes],
    sig_type: str,
    wanted: str,
    position: int | None,
    by_position: Mapping[int, bytes],
    federation: Federation[Member],
) -> int:
    """The signer's position among the script's keys, checked: the signature type the
    federation's script needs, an active member, not yet used for this input."""
    if sig_type != wanted:
        _reject(
            where,
            f"has sig_type {sig_type!r}; {_MULTISIG_OF[wanted]} multisig needs {wanted!r}",
            "wrong_sig_type",
        )
    if position is None:
        _reject(
            where,
            f"is not by an active member of federation version {federation.version}",
            "non_member",
        )
    if position in by_position:
        _reject(where, "repeats a signer already used for this input", "duplicate_signer")
    return position


def _reject(where: tuple[int, int, bytes], reason: str, kind: str) -> NoReturn:
    input_index, number, key = where
    raise SignaturesInvalid(
        f"input {input_index}: signature {number} by {_short(key)} {reason}",
        kind=kind,
        input_index=input_index,
        public_key=key,
    )


def _parse_strict_der(der: bytes) -> Signature | None:
    try:
        parsed = Signature.parse(der)
    except _PARSE_ERRORS:
        return None
    # Re-encoding must give the same bytes: that rules out the encodings
    # libsecp256k1 tolerates but Bitcoin's strict-DER rule (BIP-66) does not,
    # such as r or s out of range.
    return parsed if parsed.serialize() == der else None


def _is_high_s(signature: Signature) -> bool:
    # embit exposes no accessor for the parsed signature, hence `_sig`.
    return secp256k1.ecdsa_signature_normalize(signature._sig) != signature._sig


@lru_cache(maxsize=256)
def _verifying_key(key: bytes) -> VerifyingKey:
    # Only keys that passed the membership check get here, and those were
    # validated with the federation, so parsing cannot fail and the cache
    # holds a few federations' worth of keys.
    #
    # The check itself is libsecp256k1's through coincurve rather than embit:
    # both bundle the library, but coincurve's build verifies in 26 us where
    # embit's takes 35 us, and a peg-out's answer carries 6 signatures. The
    # strict-DER and high-S checks above and below stay embit's.
    return VerifyingKey(key)


@lru_cache(maxsize=256)
def _verifying_xonly(key: bytes) -> PublicKeyXOnly:
    # Parsing an x-only key lifts it onto the curve (a square root): a quarter of what
    # verifying one Schnorr signature costs, for the same few keys peg-out after peg-out.
    # Only keys of the leaf get here (the membership check comes first), all on the curve.
    return PublicKeyXOnly(key)


def _short(key: object) -> str:
    if isinstance(key, bytes):
        return f"{key[:4].hex()}.." if len(key) > 4 else key.hex() or "(empty key)"
    return repr(key)
