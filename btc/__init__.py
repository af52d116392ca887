"""The node's Bitcoin logic: pure functions over bytes, built on embit.

- `federation`: member keys, the P2WSH or P2TR multisig script and address, update checks.
- `taproot`: the P2TR federation's tapscript leaf, NUMS internal key, output and control block.
- `pegout`: parse and check an unsigned peg-out; its BIP-143 and BIP-341 sighashes.
- `policy`: the spending policy a peg-out must meet (fees, dust, payout, change),
  Bitcoin Core's dust limits and the signed size.
- `signing`: verify governance's signatures and assemble the witnesses.
- `pegin`: sanity checks on a peg-in notification.
- `errors`: `BtcError` and its subclasses.
- `testing`: deterministic fixtures for tests and benchmarks (not for actors).

embit does the transaction, script, sighash, tagged-hash and address work here;
the ECDSA and BIP340 checks of peg-out signatures and the Taproot tweak call
libsecp256k1 through coincurve, whose build is faster (see
`signing._verifying_key`). python-bitcoinlib belongs to
the mock signer and to the tests that cross-check this package's sighashes.
"""
