"""Deterministic unsigned peg-outs for tests, benchmarks and chaos tools; never for actors.

The transactions spend coins that do not exist, so they only exercise
parsing, sighashing and witness assembly, never a real chain.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from embit.script import Script
from embit.transaction import Transaction, TransactionInput, TransactionOutput

from btc.federation import p2wsh_address

DEFAULT_INPUT_SAT = 50_000
FEE_SAT = 1_000
_OP_RETURN = 0x6A
# A single-byte push opcode covers up to 75 bytes; it keeps each padding
# output's size easy to predict.
_MAX_DIRECT_PUSH = 75
# value (8) + script length (1) + OP_RETURN (1) + push opcode (1)
_PADDING_OUTPUT_OVERHEAD = 11
_SEQUENCE_RBF = 0xFFFFFFFD


def make_unsigned_pegout(
    witness_script: bytes,
    *,
    n_inputs: int = 2,
    amounts: Sequence[int] | None = None,
    seed: int = 0,
    padding_bytes: int = 0,
    network: str = "regtest",
) -> tuple[str, tuple[int, ...], tuple[int, ...]]:
    """(tx_hex, input_indices, amounts) of a peg-out spending `n_inputs` federation coins.

    The prevouts are fake but, like real ones, differ by federation address
    (so by script and network) and by `seed`. The transaction pays everything
    but a 1,000 sat fee to one P2WPKH output, and carries OP_RETURN outputs
    adding about `padding_bytes` bytes, to size benchmark transactions.
    """
    if n_inputs < 1:
        raise ValueError(f"n_inputs must be at least 1, got {n_inputs}")
    values = tuple(amounts) if amounts is not None else (DEFAULT_INPUT_SAT,) * n_inputs
    if len(values) != n_inputs:
        raise ValueError(f"{len(values)} amounts for {n_inputs} inputs")
    if sum(values) <= FEE_SAT:
        raise ValueError(f"inputs total {sum(values)} sat, not enough for a {FEE_SAT} sat fee")
    address = p2wsh_address(witness_script, network)
    vin = [
        TransactionInput(
            _digest(b"prevout", address.encode(), seed, index),
            index % 3,  # a few different vouts, as real coin selection would give
            sequence=_SEQUENCE_RBF,
        )
        for index in range(n_inputs)
    ]
    payee = Script(b"\x00\x14" + _digest(b"payee", b"", seed, 0)[:20])
    vout = [TransactionOutput(sum(values) - FEE_SAT, payee)]
    vout.extend(_padding_outputs(padding_bytes, seed))
    tx = Transaction(version=2, vin=vin, vout=vout, locktime=0)
    return tx.serialize().hex(), tuple(range(n_inputs)), values


def _padding_outputs(padding_bytes: int, seed: int) -> list[TransactionOutput]:
    outputs = []
    remaining = padding_bytes
    counter = 0
    while remaining > _PADDING_OUTPUT_OVERHEAD:
        size = min(_MAX_DIRECT_PUSH, remaining - _PADDING_OUTPUT_OVERHEAD)
        data = _stream(seed, counter, size)
        outputs.append(TransactionOutput(0, Script(bytes([_OP_RETURN, size]) + data)))
        remaining -= _PADDING_OUTPUT_OVERHEAD + size
        counter += 1
    return outputs


def _stream(seed: int, counter: int, size: int) -> bytes:
    blocks = b"".join(
        _digest(b"padding", counter.to_bytes(4, "little"), seed, block)
        for block in range(-(-size // 32))
    )
    return blocks[:size]


def _digest(label: bytes, context: bytes, seed: int, index: int) -> bytes:
    material = b"alys-test/" + label + b"/" + context + b"/%d/%d" % (seed, index)
    return hashlib.sha256(material).digest()
