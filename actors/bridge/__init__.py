"""BridgeActor: peg-outs signed by governance, and peg-in notices.

Read in this order: ``workflow`` (the peg-out workflow, pure: a record and an event in,
the new record and the effects out), with ``situation`` (what a decision reads and
returns) and ``effects`` (what it asks for, as data); ``pegins`` (the same for peg-in
notices); ``ledger`` (a record's transitions and ids); ``book`` (what stays in memory);
then ``actor``, which carries effects out with ``attempts``, ``broadcasting``,
``handover``, ``resends``, ``queries``, ``outcomes`` and ``observe`` (metrics and log
lines). ``broadcast``, ``spool`` and ``rpc`` are where signed transactions go. The
Bitcoin rules (parsing, sighash, signature checks, witnesses) live in ``btc``.
"""
