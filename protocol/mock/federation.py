"""The mock's test federation: keys derived from ``--federation-seed``, and its signatures.

Placeholders for now: a key is ``0x02 || sha256("<seed>/<index>")`` (33 bytes,
shaped like a compressed secp256k1 key but not checked to be on the curve),
and a signature is 71 DER-shaped bytes that verify against nothing. Real
ECDSA replaces these two functions and nothing else: the same digest becomes
the member's private key.
"""

from __future__ import annotations

import hashlib

PUBLIC_KEY_BYTES = 33
SIGNATURE_BYTES = 71  # DER (r, s) of 32 bytes each, then the SIGHASH_ALL byte
SIGHASH_ALL = 0x01


def member_secret(seed: str, index: int) -> bytes:
    return hashlib.sha256(f"{seed}/{index}".encode()).digest()


def federation_keys(seed: str, count: int) -> tuple[bytes, ...]:
    """The federation's public keys, sorted: the order signatures come in (convention 4)."""
    if count < 0:
        raise ValueError(f"a federation cannot have {count} members")
    return tuple(sorted(b"\x02" + member_secret(seed, index) for index in range(count)))


def placeholder_signature(public_key: bytes, tx_hex: str, input_index: int) -> bytes:
    """Deterministic for (signer, transaction, input): a re-sent request gets the same bytes."""
    digest = hashlib.sha256(public_key + tx_hex.encode() + input_index.to_bytes(4, "big")).digest()
    # Clear the top bit of r and s: DER integers with it set would need a 0x00 pad.
    r = bytes([digest[0] & 0x7F]) + digest[1:]
    s_digest = hashlib.sha256(digest).digest()
    s = bytes([s_digest[0] & 0x7F]) + s_digest[1:]
    # 2 + (2 + 32) + (2 + 32) + 1 = SIGNATURE_BYTES
    return b"\x30\x44" + b"\x02\x20" + r + b"\x02\x20" + s + bytes([SIGHASH_ALL])
