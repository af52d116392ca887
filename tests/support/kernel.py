"""Bitcoin Core's own verdict on a signed transaction: libbitcoinkernel, through
py-bitcoinkernel (`pbk`), verifies each input's script exactly as Core's consensus code
does. The tests check every signed peg-out with it beside python-bitcoinlib's emulation."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pbk

# The rules a standard P2WSH spend is judged by on mainnet today (Taproot spends need the
# spent outputs as well, and none of these transactions has one).
FLAGS = (pbk.ScriptVerificationFlags.P2SH | pbk.ScriptVerificationFlags.DERSIG
         | pbk.ScriptVerificationFlags.NULLDUMMY
         | pbk.ScriptVerificationFlags.CHECKLOCKTIMEVERIFY
         | pbk.ScriptVerificationFlags.CHECKSEQUENCEVERIFY
         | pbk.ScriptVerificationFlags.WITNESS)


def p2wsh_script_pubkey(witness_script: bytes) -> bytes:
    """`OP_0 <SHA-256(witness script)>`: the output a federation coin sits in."""
    return b"\x00\x20" + hashlib.sha256(witness_script).digest()


def kernel_verify(signed_tx_hex: str, spent: Sequence[tuple[int, bytes, int]]) -> None:
    """Every (input index, script pubkey, amount) in `spent` verifies under `FLAGS`;
    AssertionError naming the input and Core's reason otherwise."""
    tx = pbk.Transaction(bytes.fromhex(signed_tx_hex))
    for index, script_pubkey, amount in spent:
        try:
            ok = pbk.ScriptPubkey(script_pubkey).verify(amount, tx, None, index, FLAGS)
        except pbk.ScriptVerifyException as exc:
            raise AssertionError(f"input {index}: libbitcoinkernel refused it: {exc}") from exc
        assert ok, f"input {index}: libbitcoinkernel refused it"


TAPROOT_FLAGS = FLAGS | pbk.ScriptVerificationFlags.TAPROOT


def kernel_verify_all(signed_tx_hex: str, spent: Sequence[tuple[bytes, int]]) -> None:
    """Every input verifies under `FLAGS` and TAPROOT, with `spent[i]` (script pubkey,
    amount) the output input `i` spends: a Taproot sighash commits to all of them, so
    Core is given all of them. AssertionError naming the input and Core's reason."""
    tx = pbk.Transaction(bytes.fromhex(signed_tx_hex))
    outputs = [pbk.TransactionOutput(pbk.ScriptPubkey(script), amount) for script, amount in spent]
    precomputed = pbk.script.PrecomputedTransactionData(tx, outputs)
    for index, (script_pubkey, amount) in enumerate(spent):
        try:
            ok = pbk.ScriptPubkey(script_pubkey).verify(amount, tx, precomputed, index,
                                                       TAPROOT_FLAGS)
        except pbk.ScriptVerifyException as exc:
            raise AssertionError(f"input {index}: libbitcoinkernel refused it: {exc}") from exc
        assert ok, f"input {index}: libbitcoinkernel refused it"
