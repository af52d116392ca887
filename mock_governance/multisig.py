"""The federation's multisig: P2WSH by python-bitcoinlib, P2TR by embit's descriptors.

The node builds the P2WSH script and address with embit; the mock uses a
different library on purpose, so that tests comparing the two catch a bug
in either. python-bitcoinlib has no Taproot: the P2TR leaf and output come
from embit's `tr(NUMS, sortedmulti_a(...))` descriptor, which the node does
not use (it builds the leaf itself, `btc.taproot`).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable

import bitcoin
from bitcoin.core.script import OP_CHECKMULTISIG, CScript
from bitcoin.wallet import P2WSHBitcoinAddress
from embit.descriptor import Descriptor
from embit.networks import NETWORKS as EMBIT_NETWORKS
from embit.script import Script

# OP_1..OP_16 are the only small-number opcodes; a larger m or n would have to
# be a pushed number, which the node's script builder does not produce.
MAX_KEYS = 16
NETWORKS = ("regtest", "testnet", "signet", "mainnet")
DEFAULT_NETWORK = "regtest"
SCRIPT_TYPES = ("p2wsh", "p2tr")
# BIP341's unspendable internal key: the coins can be spent only through the leaf.
NUMS_INTERNAL_KEY = "50929b74c1a04954b78b4b6035e97a5e078a5a0f28ec96d547bfee9ace803ac0"
_EMBIT_NETWORK = {"regtest": "regtest", "testnet": "test", "signet": "signet", "mainnet": "main"}

# python-bitcoinlib keeps the chain (and with it the bech32 prefix) in a
# module global that SelectParams swaps and str(address) reads.
_params_lock = threading.Lock()


def _sorted_keys(public_keys: Iterable[bytes], threshold: int) -> list[bytes]:
    """The keys sorted bytewise; ValueError if they and `threshold` make no multisig."""
    keys = sorted(public_keys)
    if not 1 <= len(keys) <= MAX_KEYS:
        raise ValueError(f"a multisig names 1 to {MAX_KEYS} keys, got {len(keys)}")
    if not 1 <= threshold <= len(keys):
        raise ValueError(f"the threshold must be from 1 to {len(keys)}, got {threshold}")
    if any(len(key) != 33 for key in keys):
        raise ValueError("every key must be a 33-byte compressed public key")
    return keys


def witness_script(public_keys: Iterable[bytes], threshold: int) -> bytes:
    """``OP_threshold <keys, sorted bytewise> OP_n OP_CHECKMULTISIG``."""
    keys = _sorted_keys(public_keys, threshold)
    return bytes(CScript([threshold, *keys, len(keys), OP_CHECKMULTISIG]))


def p2wsh_address(script: bytes, network: str = DEFAULT_NETWORK) -> str:
    if network not in NETWORKS:
        raise ValueError(f"unknown network {network!r}; known: {', '.join(NETWORKS)}")
    program = hashlib.sha256(script).digest()
    with _params_lock:
        bitcoin.SelectParams(network)
        return str(P2WSHBitcoinAddress.from_bytes(0, program))


def taproot_multisig(public_keys: Iterable[bytes], threshold: int) -> tuple[bytes, bytes]:
    """(leaf script, script pubkey) of the P2TR federation: `threshold` of the keys' x-only
    forms, sorted, in one leaf under the NUMS internal key."""
    keys = _sorted_keys(public_keys, threshold)
    xonly = ",".join(key[1:].hex() for key in keys)
    descriptor = Descriptor.from_string(
        f"tr({NUMS_INTERNAL_KEY},sortedmulti_a({threshold},{xonly}))"
    )
    leaf = descriptor.taptree.tree.miniscript.compile()
    return bytes(leaf), bytes(descriptor.script_pubkey().data)


def p2tr_address(script_pubkey: bytes, network: str = DEFAULT_NETWORK) -> str:
    if network not in NETWORKS:
        raise ValueError(f"unknown network {network!r}; known: {', '.join(NETWORKS)}")
    return Script(script_pubkey).address(EMBIT_NETWORKS[_EMBIT_NETWORK[network]])
