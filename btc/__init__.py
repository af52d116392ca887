"""The node's Bitcoin logic: pure functions over bytes, built on embit.

- `federation`: member keys, the P2WSH multisig script and address, update checks.
- `pegout`: parse and check an unsigned peg-out; its BIP-143 sighashes.
- `signing`: verify governance's signatures and assemble the witnesses.
- `pegin`: sanity checks on a peg-in notification.
- `errors`: `BtcError` and its subclasses.
- `testing`: deterministic fixtures for tests and benchmarks (not for actors).

embit is the only Bitcoin library used here; coincurve and python-bitcoinlib
belong to the mock signer and to the tests that cross-check this package.
"""
