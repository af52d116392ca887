from collections.abc import Iterable
from typing import Self

from bitcoin.core import CTransaction

SIGHASH_ALL: int
SIGVERSION_WITNESS_V0: int

class CScriptOp(int): ...

OP_CHECKMULTISIG: CScriptOp

class CScript(bytes):
    # Raw script bytes, or items to encode: ints as small-number pushes, bytes as data.
    def __new__(cls, value: bytes | Iterable[int | bytes] = b"") -> Self: ...

def SignatureHash(
    script: CScript,
    txTo: CTransaction,
    inIdx: int,
    hashtype: int,
    amount: int | None = None,
    sigversion: int = ...,
) -> bytes: ...
