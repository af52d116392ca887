"""Sanity checks on a peg-in notification before the node reports it to governance."""

from __future__ import annotations

import re

from btc.errors import PeginInvalid
from btc.pegout import MAX_MONEY_SAT

_TXID = re.compile(r"[0-9a-fA-F]{64}")
_EVM_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
MAX_VOUT = 2**32 - 1  # an outpoint's index is a uint32


def validate_pegin(
    btc_txid: str,
    vout: int,
    amount: int,
    evm_address: str,
    confirmations: int,
    *,
    min_confirmations: int,
) -> None:
    """`PeginInvalid` unless the deposit is well formed and buried deep enough.

    The EVM address is checked for shape only: an EIP-55 mixed-case checksum
    is not verified, since lower-case addresses are equally valid.
    """
    if not isinstance(btc_txid, str) or not _TXID.fullmatch(btc_txid):
        raise PeginInvalid(f"btc_txid {btc_txid!r} is not 64 hexadecimal characters")
    if not 0 <= vout <= MAX_VOUT:
        raise PeginInvalid(f"vout {vout} is outside 0..{MAX_VOUT}")
    if not 0 < amount <= MAX_MONEY_SAT:
        raise PeginInvalid(f"amount {amount} sat is outside 1..{MAX_MONEY_SAT} sat")
    if not isinstance(evm_address, str) or not _EVM_ADDRESS.fullmatch(evm_address):
        raise PeginInvalid(
            f"evm_address {evm_address!r} is not '0x' followed by 40 hexadecimal characters"
        )
    if confirmations < min_confirmations:
        raise PeginInvalid(
            f"{confirmations} confirmations, fewer than the {min_confirmations} required"
        )
