"""validate_pegin: a well-formed, deep enough deposit passes; anything else says why."""

from __future__ import annotations

import pytest

from btc.errors import PeginInvalid
from btc.pegin import validate_pegin

TXID = "ab" * 32
EVM = "0x" + "5A" * 20
VALID = {"btc_txid": TXID, "vout": 0, "amount": 100_000, "evm_address": EVM, "confirmations": 6}


def test_a_valid_pegin_passes() -> None:
    validate_pegin(**VALID, min_confirmations=6)  # type: ignore[arg-type]


def test_the_boundaries_are_accepted() -> None:
    validate_pegin(
        "AB" * 32, 2**32 - 1, 21_000_000 * 10**8, "0x" + "f" * 40, 0, min_confirmations=0
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("btc_txid", "ab" * 31, "is not 64 hexadecimal characters"),
        ("btc_txid", "ab" * 33, "is not 64 hexadecimal characters"),
        ("btc_txid", "zz" * 32, "is not 64 hexadecimal characters"),
        ("btc_txid", "ab" * 32 + "\n", "is not 64 hexadecimal characters"),
        ("vout", -1, r"vout -1 is outside 0..4294967295"),
        ("vout", 2**32, r"vout 4294967296 is outside"),
        ("amount", 0, r"amount 0 sat is outside 1..2100000000000000 sat"),
        ("amount", -3, "amount -3 sat"),
        ("amount", 21_000_000 * 10**8 + 1, "amount 2100000000000001 sat"),
        ("evm_address", "5A" * 20, "is not '0x' followed by 40 hexadecimal characters"),
        ("evm_address", "0x" + "5A" * 19, "is not '0x' followed by 40"),
        ("evm_address", "0x" + "5A" * 21, "is not '0x' followed by 40"),
        ("evm_address", "0x" + "g" * 40, "is not '0x' followed by 40"),
        ("evm_address", "0X" + "5A" * 20, "is not '0x' followed by 40"),
        ("confirmations", 5, "5 confirmations, fewer than the 6 required"),
    ],
)
def test_an_invalid_pegin_is_refused_with_its_reason(
    field: str, value: object, message: str
) -> None:
    with pytest.raises(PeginInvalid, match=message):
        validate_pegin(**{**VALID, field: value}, min_confirmations=6)  # type: ignore[arg-type]
