"""Bitcoin Core's consensus engine (libbitcoinkernel) as the tests' last word on a signed
peg-out: it accepts what the bridge assembles, and refuses a tampered copy, so the check
the other tests lean on can fail."""

from __future__ import annotations

import pytest
from embit.transaction import Transaction

from btc.signing import assemble
from tests.support.kernel import kernel_verify, p2wsh_script_pubkey
from tests.unit.btc.test_signing import FED, pegout, sign


def signed_pegout() -> tuple[str, list[tuple[int, bytes, int]]]:
    unsigned = pegout()
    signed = assemble(unsigned, FED, sign(unsigned))
    script_pubkey = p2wsh_script_pubkey(FED.witness_script)
    return signed.tx_hex, [(index, script_pubkey, amount) for index, amount
                           in zip(unsigned.input_indices, unsigned.amounts, strict=True)]


def test_core_accepts_every_input_the_bridge_signed() -> None:
    tx_hex, spent = signed_pegout()
    kernel_verify(tx_hex, spent)


def test_core_refuses_an_input_whose_amount_is_not_what_was_signed() -> None:
    # BIP143 commits to the amount: the same witness over another value does not verify.
    tx_hex, spent = signed_pegout()
    index, script_pubkey, amount = spent[0]
    with pytest.raises(AssertionError, match=f"input {index}: libbitcoinkernel refused it"):
        kernel_verify(tx_hex, [(index, script_pubkey, amount + 1)])


def test_core_refuses_a_signature_with_one_byte_changed() -> None:
    tx_hex, spent = signed_pegout()
    tx = Transaction.parse(bytes.fromhex(tx_hex))
    index = spent[0][0]
    signature = bytearray(tx.vin[index].witness.items[1])  # after the empty dummy
    signature[10] ^= 0x01  # inside r: still DER, no longer valid
    tx.vin[index].witness.items[1] = bytes(signature)
    with pytest.raises(AssertionError, match=f"input {index}: libbitcoinkernel refused it"):
        kernel_verify(tx.serialize().hex(), spent)
