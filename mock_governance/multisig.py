"""The federation's P2WSH multisig: witness script and address, by python-bitcoinlib.

The node builds the same script and address with embit; the mock uses a
different library on purpose, so that tests comparing the two catch a bug
in either.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable

import bitcoin
from bitcoin.core.script import OP_CHECKMULTISIG, CScript
from bitcoin.wallet import P2WSHBitcoinAddress

# OP_1..OP_16 are the only small-number opcodes; a larger m or n would have to
# be a pushed number, which the node's script builder does not produce.
MAX_KEYS = 16
NETWORKS = ("regtest", "testnet", "signet", "mainnet")
DEFAULT_NETWORK = "regtest"

# python-bitcoinlib keeps the chain (and with it the bech32 prefix) in a
# module global that SelectParams swaps and str(address) reads.
_params_lock = threading.Lock()


def witness_script(public_keys: Iterable[bytes], threshold: int) -> bytes:
    """``OP_threshold <keys, sorted bytewise> OP_n OP_CHECKMULTISIG``."""
    keys = sorted(public_keys)
    if not 1 <= len(keys) <= MAX_KEYS:
        raise ValueError(f"a multisig names 1 to {MAX_KEYS} keys, got {len(keys)}")
    if not 1 <= threshold <= len(keys):
        raise ValueError(f"the threshold must be from 1 to {len(keys)}, got {threshold}")
    if any(len(key) != 33 for key in keys):
        raise ValueError("every key must be a 33-byte compressed public key")
    return bytes(CScript([threshold, *keys, len(keys), OP_CHECKMULTISIG]))


def p2wsh_address(script: bytes, network: str = DEFAULT_NETWORK) -> str:
    if network not in NETWORKS:
        raise ValueError(f"unknown network {network!r}; known: {', '.join(NETWORKS)}")
    program = hashlib.sha256(script).digest()
    with _params_lock:
        bitcoin.SelectParams(network)
        return str(P2WSHBitcoinAddress.from_bytes(0, program))
