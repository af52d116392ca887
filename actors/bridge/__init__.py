"""BridgeActor: peg-outs signed by governance, and peg-in notices.

Read in this order: ``workflow`` (the peg-out workflow, pure: a record and an
event in, the new record and the effects out) and ``pegins`` (the same for
peg-in notices); ``effects`` (what they ask for, as data); ``ledger`` (a
record's state transitions and ids); ``book`` (what stays in memory);
``actor`` (carries the effects out); ``observe`` (metrics and log lines from
the workflows' notes); ``queries``, ``resends``; ``broadcast`` (where signed
transactions go: a spool file or Bitcoin Core's JSON-RPC). The Bitcoin rules
(parsing, sighash, signature checks, witnesses) live in the ``btc`` package.
"""
