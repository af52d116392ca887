"""Deterministic unsigned peg-outs for tests, benchmarks and chaos tools; never for actors.

The transactions spend coins that do not exist, so they only exercise
parsing, sighashing, the spending policy and witness assembly, never a real
chain.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence

from embit.script import Script
from embit.transaction import Transaction, TransactionInput, TransactionOutput

from btc.federation import p2tr_address, p2wsh_address
from btc.pegout import MAX_MONEY_SAT, parse_pegout
from btc.policy import MAX_SCRIPT_BYTES, compact_size_len, signed_vsize
from btc.taproot import taproot_output

DEFAULT_INPUT_SAT = 50_000
# Twice Bitcoin Core's default minimum relay fee rate: the default spending
# policy accepts it, with room for a test to go lower.
DEFAULT_FEE_RATE_SAT_VB = 2.0
_OP_1 = 0x51
_OP_16 = 0x60
_OP_RETURN = 0x6A
_OP_PUSHDATA2 = 0x4D
# OP_RETURN, OP_PUSHDATA2 and its 2-byte length come before the data.
_PADDING_SCRIPT_OVERHEAD = 4
# The data of one padding output: its script stays within Core's 10,000-byte limit.
_MAX_PADDING_DATA = MAX_SCRIPT_BYTES - _PADDING_SCRIPT_OVERHEAD
_SEQUENCE_RBF = 0xFFFFFFFD


def make_unsigned_pegout(
    witness_script: bytes,
    *,
    n_inputs: int = 2,
    amounts: Sequence[int] | None = None,
    seed: int = 0,
    padding_bytes: int = 0,
    network: str = "regtest",
    fee_rate_sat_vb: float = DEFAULT_FEE_RATE_SAT_VB,
) -> tuple[str, tuple[int, ...], tuple[int, ...]]:
    """(tx_hex, input_indices, amounts) of a peg-out spending `n_inputs` federation coins.

    The prevouts are fake but, like real ones, differ by federation address
    (so by script and network) and by `seed`. The transaction pays everything
    but its fee to one P2WPKH output; the fee is `fee_rate_sat_vb` over the
    signed size (`btc.policy.signed_vsize`, with the threshold read from the
    script's OP_m, or, for a P2TR federation's leaf script, from its end). Zero-value
    OP_RETURN outputs, as few as hold it, add about `padding_bytes` bytes, to size
    benchmark transactions.
    """
    if n_inputs < 1:
        raise ValueError(f"n_inputs must be at least 1, got {n_inputs}")
    values = tuple(amounts) if amounts is not None else (DEFAULT_INPUT_SAT,) * n_inputs
    if len(values) != n_inputs:
        raise ValueError(f"{len(values)} amounts for {n_inputs} inputs")
    threshold, taproot_keys = _shape_of(witness_script)
    if taproot_keys is None:
        address = p2wsh_address(witness_script, network)
    else:
        address = p2tr_address(taproot_output(witness_script).script_pubkey, network)
    vin = [
        TransactionInput(
            _digest(b"prevout", address.encode(), seed, index),
            index % 3,  # a few different vouts, as real coin selection would give
            sequence=_SEQUENCE_RBF,
        )
        for index in range(n_inputs)
    ]
    payee = Script(b"\x00\x14" + _digest(b"payee", b"", seed, 0)[:20])
    padding = _padding_outputs(padding_bytes, seed)
    indices = tuple(range(n_inputs))
    # An output's size does not depend on its value: size the draft, then pay.
    draft = Transaction(version=2, vin=vin, vout=[TransactionOutput(0, payee), *padding])
    sized = parse_pegout(draft.serialize().hex(), indices, values, max_pegout_sat=MAX_MONEY_SAT)
    fee = math.ceil(fee_rate_sat_vb * signed_vsize(sized, witness_script, threshold, taproot_keys))
    if sum(values) <= fee:
        raise ValueError(f"inputs total {sum(values)} sat, not enough for a {fee} sat fee")
    vout = [TransactionOutput(sum(values) - fee, payee), *padding]
    tx = Transaction(version=2, vin=vin, vout=vout, locktime=0)
    return tx.serialize().hex(), indices, values


_OP_NUMEQUAL = 0x9C
_LEAF_KEY_BYTES = 34  # a 32-byte push and its OP_CHECKSIG or OP_CHECKSIGADD


def _shape_of(script: bytes) -> tuple[int, int | None]:
    """(threshold, None) of a P2WSH witness script; (threshold, keys) of a P2TR leaf."""
    if script[-1:] == bytes([_OP_NUMEQUAL]) and len(script) % _LEAF_KEY_BYTES == 2:
        return script[-2] - _OP_1 + 1, len(script) // _LEAF_KEY_BYTES
    if not script or not _OP_1 <= script[0] <= _OP_16:
        raise ValueError("the witness script does not start with OP_m (OP_1..OP_16)")
    return script[0] - _OP_1 + 1, None


def _padding_outputs(padding_bytes: int, seed: int) -> list[TransactionOutput]:
    outputs: list[TransactionOutput] = []
    remaining = padding_bytes
    counter = 0
    while True:
        size = min(_MAX_PADDING_DATA, _data_filling(remaining))
        if size < 1:
            return outputs
        data = _stream(seed, counter, size)
        script = bytes([_OP_RETURN, _OP_PUSHDATA2]) + size.to_bytes(2, "little") + data
        outputs.append(TransactionOutput(0, Script(script)))
        remaining -= _output_size(len(script))
        counter += 1


def _data_filling(room: int) -> int:
    """The most data a padding output of at most `room` bytes can carry."""
    size = room - _output_size(_PADDING_SCRIPT_OVERHEAD)
    while size > 0 and _output_size(_PADDING_SCRIPT_OVERHEAD + size) > room:
        size -= 1
    return size


def _output_size(script_bytes: int) -> int:
    # value (8), the script's length, the script
    return 8 + compact_size_len(script_bytes) + script_bytes


def _stream(seed: int, counter: int, size: int) -> bytes:
    blocks = b"".join(
        _digest(b"padding", counter.to_bytes(4, "little"), seed, block)
        for block in range(-(-size // 32))
    )
    return blocks[:size]


def _digest(label: bytes, context: bytes, seed: int, index: int) -> bytes:
    material = b"alys-test/" + label + b"/" + context + b"/%d/%d" % (seed, index)
    return hashlib.sha256(material).digest()
