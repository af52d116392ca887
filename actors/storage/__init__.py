"""StorageActor: the only writer of the node's durable state, in SQLite.

Modules: ``records`` (the rows other actors send and get back), ``schema``
(versioned migrations), ``database`` (one SQLite connection: open, check,
write, load; no actors), ``actor`` (the StorageActor), ``client`` (what an
owner of state uses to persist it: keyed, idempotent writes, re-sent after
the StorageActor restarts).
"""
