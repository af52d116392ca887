from collections.abc import Sequence

from embit.base import EmbitBase
from embit.script import Script, Witness

class SIGHASH:
    DEFAULT: int
    ALL: int

class TransactionInput(EmbitBase):
    txid: bytes
    vout: int
    script_sig: Script
    sequence: int
    witness: Witness
    def __init__(
        self,
        txid: bytes,
        vout: int,
        script_sig: Script | None = None,
        sequence: int = ...,
        witness: Witness | None = None,
    ) -> None: ...

class TransactionOutput(EmbitBase):
    value: int
    script_pubkey: Script
    def __init__(self, value: int, script_pubkey: Script) -> None: ...

class Transaction(EmbitBase):
    version: int
    locktime: int
    vin: list[TransactionInput]
    vout: list[TransactionOutput]
    def __init__(
        self,
        version: int = 2,
        vin: list[TransactionInput] = ...,
        vout: list[TransactionOutput] = ...,
        locktime: int = 0,
    ) -> None: ...
    def txid(self) -> bytes: ...
    def sighash_segwit(
        self, input_index: int, script_pubkey: Script, value: int, sighash: int = ...
    ) -> bytes: ...
    def sighash_taproot(
        self,
        input_index: int,
        script_pubkeys: Sequence[Script],
        values: Sequence[int],
        sighash: int = ...,
        ext_flag: int = ...,
        annex: bytes | None = ...,
        script: Script | None = ...,
        leaf_version: int = ...,
        codeseparator_pos: int | None = ...,
    ) -> bytes: ...
