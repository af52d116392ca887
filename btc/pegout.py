"""An unsigned peg-out as governance sends it, checked, and the digests to sign for it."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from io import BytesIO

from embit.base import EmbitError
from embit.script import Script, Witness
from embit.transaction import SIGHASH, Transaction, TransactionInput

from btc.errors import PegoutInvalid

MAX_MONEY_SAT = 21_000_000 * 100_000_000
# A transaction whose witness-less part exceeds this has a weight over
# Bitcoin Core's 400,000 standardness limit before any signature is added:
# it would never relay, and the cap also bounds the parsing work.
MAX_TX_BYTES = 100_000

_HEX = re.compile(r"[0-9a-fA-F]*")
_PARSE_ERRORS = (EmbitError, ValueError, RuntimeError, TypeError, IndexError, OverflowError)


@dataclass(frozen=True)
class PegoutInput:
    """An input as the transaction has it: the coin it spends and its sequence number."""

    prev_txid: str  # hex, as block explorers and Bitcoin Core display it
    vout: int
    sequence: int

    @property
    def outpoint(self) -> str:
        return f"{self.prev_txid}:{self.vout}"


@dataclass(frozen=True)
class PegoutOutput:
    value_sat: int
    script_pubkey: bytes


@dataclass(frozen=True)
class UnsignedPegout:
    """A checked peg-out: the transaction, the federation inputs it spends, their amounts.

    `txid` is final: signing adds only witnesses, which the txid does not
    cover. The parsed transaction and the sighash memo are private, not part
    of equality or repr.
    """

    tx_hex: str
    input_indices: tuple[int, ...]
    amounts: tuple[int, ...]
    txid: str
    _tx: Transaction = field(repr=False, compare=False)
    # witness script -> sighashes; a peg-out meets one federation, maybe a few
    # times (retried responses), so the memo stays tiny.
    _sighashes: dict[bytes, tuple[bytes, ...]] = field(
        default_factory=dict, repr=False, compare=False
    )

    @property
    def version(self) -> int:
        return self._tx.version

    @property
    def locktime(self) -> int:
        return self._tx.locktime

    @property
    def inputs(self) -> tuple[PegoutInput, ...]:
        return tuple(
            PegoutInput(tx_input.txid.hex(), tx_input.vout, tx_input.sequence)
            for tx_input in self._tx.vin
        )

    @property
    def outputs(self) -> tuple[PegoutOutput, ...]:
        return tuple(
            PegoutOutput(tx_output.value, tx_output.script_pubkey.data)
            for tx_output in self._tx.vout
        )

    @property
    def size_bytes(self) -> int:
        """The unsigned transaction's size: its serialization without witnesses."""
        return len(self.tx_hex) // 2


def parse_pegout(
    tx_hex: str,
    input_indices: Sequence[int],
    amounts: Sequence[int],
    *,
    max_pegout_sat: int,
) -> UnsignedPegout:
    """Check a signature request's transaction, inputs and amounts; `PegoutInvalid` if unusable.

    `max_pegout_sat` caps the federation money the peg-out may spend: the
    sum of `amounts`, the values of the inputs the federation signs.
    """
    raw = _decode_hex(tx_hex)
    tx = _read_transaction(raw)
    indices = _check_indices(input_indices, len(tx.vin))
    values = _check_amounts(amounts, len(indices), max_pegout_sat)
    return UnsignedPegout(
        tx_hex=tx_hex,
        input_indices=indices,
        amounts=values,
        txid=tx.txid().hex(),
        _tx=tx,
    )


def sighashes(pegout: UnsignedPegout, script: bytes) -> tuple[bytes, ...]:
    """BIP-143 SIGHASH_ALL digests of the signed inputs, in `input_indices` order.

    `script` is the federation's witness script, the scriptCode of every
    signed input.
    """
    cached = pegout._sighashes.get(script)
    if cached is None:
        script_code = Script(script)
        cached = tuple(
            pegout._tx.sighash_segwit(index, script_code, amount, SIGHASH.ALL)
            for index, amount in zip(pegout.input_indices, pegout.amounts, strict=True)
        )
        pegout._sighashes[script] = cached
    return cached


def taproot_sighashes(
    pegout: UnsignedPegout, script_pubkey: bytes, leaf_script: bytes, sighash_type: int
) -> tuple[bytes, ...]:
    """BIP341 script-path digests of the signed inputs, in `input_indices` order.

    Every input spends a coin paying `script_pubkey` through `leaf_script` (a BIP341
    sighash commits to the amounts and scripts of all inputs, so a P2TR peg-out's inputs
    are all the one federation's); `sighash_type` is SIGHASH_DEFAULT (0) or SIGHASH_ALL.
    """
    key = bytes([0xFF, sighash_type]) + leaf_script  # no P2WSH witness script starts 0xFF
    cached = pegout._sighashes.get(key)
    if cached is None:
        values = dict(zip(pegout.input_indices, pegout.amounts, strict=True))
        missing = [index for index in range(len(pegout._tx.vin)) if index not in values]
        if missing:
            raise PegoutInvalid(
                f"input {missing[0]} has no amount: a Taproot sighash commits to the amount "
                "of every input, so every input must be a federation coin"
            )
        amounts = [values[index] for index in range(len(pegout._tx.vin))]
        spent = [Script(script_pubkey)] * len(amounts)
        leaf = Script(leaf_script)
        # embit memoizes sha_amounts and sha_scriptpubkeys on the transaction object
        # whatever amounts and scripts a later call passes: a transaction of its own, whose
        # memo is empty, keeps another federation's scripts out of these digests. Within
        # it the per-transaction hashes are still computed once for all the inputs.
        tx = pegout._tx
        fresh = Transaction(version=tx.version, vin=tx.vin, vout=tx.vout, locktime=tx.locktime)
        cached = tuple(
            fresh.sighash_taproot(
                index, spent, amounts, sighash=sighash_type, ext_flag=1, script=leaf
            )
            for index in pegout.input_indices
        )
        pegout._sighashes[key] = cached
    return cached


def serialize_with_witnesses(
    pegout: UnsignedPegout, stacks: Mapping[int, Sequence[bytes]]
) -> bytes:
    """The transaction with `stacks[i]` as the witness of input `i` (others left empty)."""
    tx = pegout._tx
    # Fresh inputs: the parsed transaction is shared and must stay unsigned.
    vin = [
        TransactionInput(
            tx_input.txid,
            tx_input.vout,
            tx_input.script_sig,
            tx_input.sequence,
            Witness(list(stacks.get(index, ()))),
        )
        for index, tx_input in enumerate(tx.vin)
    ]
    signed = Transaction(version=tx.version, vin=vin, vout=tx.vout, locktime=tx.locktime)
    return signed.serialize()


def _decode_hex(tx_hex: str) -> bytes:
    if not isinstance(tx_hex, str):
        raise PegoutInvalid(f"tx_hex must be a string, got {type(tx_hex).__name__}")
    if not tx_hex:
        raise PegoutInvalid("tx_hex is empty")
    if len(tx_hex) % 2:
        raise PegoutInvalid(f"tx_hex has an odd length ({len(tx_hex)} characters)")
    if len(tx_hex) > 2 * MAX_TX_BYTES:
        raise PegoutInvalid(
            f"transaction is {len(tx_hex) // 2} bytes, over the {MAX_TX_BYTES}-byte limit"
        )
    # bytes.fromhex alone would let whitespace through.
    if not _HEX.fullmatch(tx_hex):
        raise PegoutInvalid("tx_hex is not hexadecimal")
    return bytes.fromhex(tx_hex)


def _read_transaction(raw: bytes) -> Transaction:
    stream = BytesIO(raw)
    try:
        tx = Transaction.read_from(stream)
    except _PARSE_ERRORS as exc:
        raise PegoutInvalid(f"tx_hex does not parse as a transaction: {exc}") from None
    trailing = len(raw) - stream.tell()
    if trailing:
        plural = "s" if trailing > 1 else ""
        raise PegoutInvalid(f"tx_hex has {trailing} trailing byte{plural} after the transaction")
    if not tx.vin:
        raise PegoutInvalid("transaction has no inputs")
    if not tx.vout:
        raise PegoutInvalid("transaction has no outputs")
    for index, tx_input in enumerate(tx.vin):
        if tx_input.witness.items:
            raise PegoutInvalid(f"input {index} already carries witness data")
    # embit reads past the end of a short stream without complaint and
    # accepts non-minimal lengths: only a byte-exact round trip proves the
    # bytes are the transaction we will sign and serialize.
    if tx.serialize() != raw:
        raise PegoutInvalid(
            "tx_hex does not parse as a transaction: truncated, non-canonical encoding, "
            "or a segwit marker without witnesses"
        )
    return tx


def _check_indices(input_indices: Sequence[int], n_inputs: int) -> tuple[int, ...]:
    indices = tuple(input_indices)
    if not indices:
        raise PegoutInvalid("input_indices is empty: nothing to sign")
    seen: set[int] = set()
    for index in indices:
        if not _is_int(index):
            raise PegoutInvalid(f"input index {index!r} is not an integer")
        if not 0 <= index < n_inputs:
            raise PegoutInvalid(
                f"input index {index} is out of range: the transaction has {n_inputs} inputs"
            )
        if index in seen:
            raise PegoutInvalid(f"input index {index} appears more than once in input_indices")
        seen.add(index)
    return indices


def _check_amounts(amounts: Sequence[int], n_indices: int, max_pegout_sat: int) -> tuple[int, ...]:
    values = tuple(amounts)
    if len(values) != n_indices:
        raise PegoutInvalid(
            f"{len(values)} amounts for {n_indices} input indices; need one amount per input"
        )
    for position, amount in enumerate(values):
        if not _is_int(amount):
            raise PegoutInvalid(f"amount {position} ({amount!r}) is not an integer")
        if not 0 < amount <= MAX_MONEY_SAT:
            raise PegoutInvalid(
                f"amount {position} is {amount} sat, outside 1..{MAX_MONEY_SAT} sat"
            )
    total = sum(values)
    if total > max_pegout_sat:
        raise PegoutInvalid(
            f"the peg-out spends {total} sat, over the {max_pegout_sat} sat per-peg-out limit"
        )
    return values


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
