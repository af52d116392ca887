"""The node's Bitcoin logic: pure functions over bytes, built on embit.

- `federation`: member keys, the P2WSH multisig script and address, update checks.
- `pegout`: parse and check an unsigned peg-out; its BIP-143 sighashes.
- `policy`: the spending policy a peg-out must meet (fees, dust, payout, change),
  Bitcoin Core's dust limits and the signed size.
- `signing`: verify governance's signatures and assemble the witnesses.
- `pegin`: sanity checks on a peg-in notification.
- `errors`: `BtcError` and its subclasses.
- `testing`: deterministic fixtures for tests and benchmarks (not for actors).

embit does the transaction, script, sighash and address work here; the
ECDSA checks of peg-out signatures call libsecp256k1 through coincurve, whose
build is faster (see `signing._verifying_key`). python-bitcoinlib belongs to
the mock signer and to the tests that cross-check this package's sighashes.
"""
