"""Transactions for the mock governance server to sign (the server itself: `harness.mock`).

Built with python-bitcoinlib, the mock's library, not with the node's embit.
"""

from __future__ import annotations

from bitcoin.core import CMutableTransaction, COutPoint, CTxIn, CTxOut
from bitcoin.core.script import CScript


def unsigned_tx_hex(inputs: int, *, salt: int = 0) -> str:
    """A version-2 transaction spending ``inputs`` made-up outpoints to one P2WSH output.

    ``salt`` changes the outpoints, and with them every input's sighash.
    """
    vin = [CTxIn(COutPoint(bytes([salt % 256, index]) * 16, index)) for index in range(inputs)]
    vout = [CTxOut(40_000, CScript([0, bytes(range(32))]))]
    return CMutableTransaction(vin, vout, nVersion=2).serialize().hex()
