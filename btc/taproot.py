"""A P2TR federation: one tapscript leaf of x-only keys under an unspendable internal key.

The leaf is `<k1> OP_CHECKSIG <k2> OP_CHECKSIGADD ... <kn> OP_CHECKSIGADD <m> OP_NUMEQUAL`
over the active members' x-only keys sorted bytewise (what `sortedmulti_a` builds), so
every node derives the same output from the same member set. The internal key is BIP341's
NUMS point H, whose discrete logarithm nobody knows: the coins can only be spent through
the leaf, never by a key-path signature.

The tagged hashes come from embit, the tweak and its parity from libsecp256k1 through
coincurve, and the bech32m address from embit: nothing here does curve arithmetic itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from coincurve import PublicKeyXOnly
from embit import script as embit_script
from embit.hashes import tagged_hash

from btc.errors import FederationInvalid

# BIP341's "nothing up my sleeve" point: lift_x(SHA-256 of the generator, uncompressed).
NUMS_INTERNAL_KEY = bytes.fromhex(
    "50929b74c1a04954b78b4b6035e97a5e078a5a0f28ec96d547bfee9ace803ac0"
)
TAPSCRIPT_LEAF_VERSION = 0xC0
_OP_1 = 0x51
_OP_CHECKSIG = 0xAC
_OP_CHECKSIGADD = 0xBA
_OP_NUMEQUAL = 0x9C
_PUSH_32 = 0x20


def xonly_key(compressed_key: bytes) -> bytes:
    """The x-only key (BIP340) of a 33-byte compressed key: its X coordinate."""
    return compressed_key[1:33]


def leaf_script(xonly_keys: Sequence[bytes], threshold: int) -> bytes:
    """The multisig leaf over `xonly_keys` in the given order, `threshold` of them needed.

    The threshold is one OP_1..OP_16: the federation's cap of 16 active members
    (`btc.federation.MAX_MULTISIG_KEYS`) holds for P2TR too.
    """
    if not 1 <= len(xonly_keys) <= 16:
        raise FederationInvalid(f"a multisig leaf needs 1 to 16 keys, got {len(xonly_keys)}")
    if not 1 <= threshold <= len(xonly_keys):
        raise FederationInvalid(f"threshold {threshold} is outside 1..{len(xonly_keys)}")
    script = bytearray()
    for position, key in enumerate(xonly_keys):
        if len(key) != 32:
            raise FederationInvalid(f"x-only key {position} is {len(key)} bytes, expected 32")
        script += bytes([_PUSH_32]) + key
        script.append(_OP_CHECKSIG if position == 0 else _OP_CHECKSIGADD)
    script += bytes([_OP_1 + threshold - 1, _OP_NUMEQUAL])
    return bytes(script)


@dataclass(frozen=True)
class TaprootOutput:
    """What spending through the leaf needs: the output key and the control block."""

    leaf_script: bytes
    output_key: bytes  # x-only, the 32 bytes of the witness program
    control_block: bytes  # leaf version | parity, then the internal key (a one-leaf tree)

    @property
    def script_pubkey(self) -> bytes:
        """`OP_1 <output key>`: the output a federation coin sits in."""
        return bytes([_OP_1, _PUSH_32]) + self.output_key


def leaf_hash(script: bytes) -> bytes:
    """BIP341's TapLeaf hash of `script` at the tapscript leaf version."""
    serialized = embit_script.Script(script).serialize()  # CompactSize length, then the script
    return tagged_hash("TapLeaf", bytes([TAPSCRIPT_LEAF_VERSION]) + serialized)


@lru_cache(maxsize=256)
def taproot_output(script: bytes, internal_key: bytes = NUMS_INTERNAL_KEY) -> TaprootOutput:
    """The output committing to `script` as its only leaf, under `internal_key`.

    Cached as `btc.federation`'s scripts are: a federation's leaf repeats from version to
    version."""
    tweak = tagged_hash("TapTweak", internal_key + leaf_hash(script))
    output = PublicKeyXOnly(internal_key)
    output.tweak_add(tweak)  # in place; sets the parity of the tweaked point
    first = TAPSCRIPT_LEAF_VERSION | int(output.parity)
    return TaprootOutput(
        leaf_script=script,
        output_key=output.format(),
        control_block=bytes([first]) + internal_key,
    )

