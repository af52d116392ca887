"""BridgeActor: peg-outs signed by governance, and peg-in notices.

Modules: ``ledger`` (peg-outs and peg-ins in memory, with their durable
records), ``broadcast`` (where signed transactions go: a spool file or
Bitcoin Core's JSON-RPC), ``actor``. The Bitcoin rules (parsing, sighash,
signature checks, witnesses) live in the ``btc`` package.
"""
