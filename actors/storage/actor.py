"""StorageActor: the only writer of the node's durable state.

It owns one SQLite connection (`Database`) in its own process. An owner (the
BridgeActor, the ChainActor) sends `_Persist(owner, seq, records)` and acts
on the change only after `_Persisted(owner, seq)` (which says what a first write found
instead of writing: a taken id, a coin another peg-out holds); `_Load(owner)` returns
what the owner needs after a (re)start, and `_Fetch` reads peg-outs the
bridge does not keep in memory (the finished ones). A database that cannot be opened,
is corrupt or has a newer schema is fatal: the actor reports it to its
supervisor and exits rather than pretend to work. A full disk fails the
write (`_PersistFailed`) and leaves the database as it was.

Every `_Persist` is answered, and every `_Fetch`, whatever goes wrong: an
exception that escaped here would come back to the owner as a PoisonMessage
and leave its write in flight for good. A failed write says whether it is
`permanent` (the records themselves cannot be stored: checked against the
limits before the transaction begins, and again by what SQLite raises) or
may pass on a retry.
"""

from __future__ import annotations

import os

from thespian.actors import ActorAddress, ActorExitRequest

from actors.base import NodeActor
from actors.lifecycle import _FatalError, _Start
from actors.storage import metrics
from actors.storage.database import OWNERS, Database
from actors.storage.errors import StorageCorrupt, StorageError, is_permanent
from actors.storage.limits import refusal
from actors.storage.protocol import (
    _Fetch,
    _Fetched,
    _Load,
    _Loaded,
    _Persist,
    _Persisted,
    _PersistFailed,
)
from actors.storage.records import FederationRecord, PegoutRecord, ProposalRecord
from runtime import tracing

# The failure kind of a write refused before it reached SQLite (other kinds name the
# exception SQLite raised).
REFUSED = "refused"

class StorageActor(NodeActor):
    name = "storage"

    def __init__(self) -> None:
        super().__init__()
        self.database: Database | None = None

    def on_start(self, start: _Start) -> None:
        storage = self.config.storage
        metrics.WRITE_FAILURES.labels(reason=REFUSED)  # a 0 to see the first one increase
        try:
            # `scripts/start` ran the configured check seconds before the first start;
            # a restart after a crash needs no more (SQLite's WAL recovers on open).
            self.database = Database.open(storage.path, max_size_mb=storage.max_size_mb,
                                          integrity="header")
        except StorageError as exc:
            self._fatal(exc)
            return
        self.log.info("database %s open: schema version %d, pid=%d", storage.path,
                      self.database.schema_version, os.getpid())

    def on_stop(self) -> None:
        if self.database is not None:
            self.database.close()
            self.database = None

    def _fatal(self, exc: StorageError) -> None:
        self.log.error("cannot go on: %s", exc)
        metrics.FATAL.inc()
        if self.supervisor_address is not None:
            self.send(self.supervisor_address, _FatalError(self.name, str(exc)))
        self.send(self.myAddress, ActorExitRequest())

    def receiveMsg__Persist(self, message: _Persist, sender: ActorAddress) -> None:
        if self.database is None:
            self.send(sender, _PersistFailed(message.owner, message.seq,
                                             "storage: the database is not open"))
            return
        refused = refusal(message.records)
        if refused is not None:
            self._write_failed(message, sender, f"refused before writing: {refused}",
                               permanent=True, kind=REFUSED)
            return
        try:
            with (metrics.WRITE_SECONDS.time(),
                  tracing.spans("storage.commit", message.traceparents, owner=message.owner,
                                records=len(message.records))):
                found = self.database.write(message.records, message.groups)
        except Exception as exc:
            self._write_failed(message, sender, _reason(self.database.path, exc),
                               permanent=is_permanent(exc), kind=type(exc).__name__)
            if isinstance(exc, StorageCorrupt):
                self._fatal(exc)
            return
        metrics.RECORDS_WRITTEN.labels(owner=message.owner).inc(len(message.records))
        self.send(sender, _Persisted(message.owner, message.seq, found))

    def _write_failed(self, message: _Persist, sender: ActorAddress, reason: str, *,
                      permanent: bool, kind: str) -> None:
        metrics.WRITE_FAILURES.labels(reason=kind).inc()
        self.log.error("write #%d of %s %s: %s", message.seq, message.owner,
                       "refused for good" if permanent else "failed", reason)
        self.send(sender, _PersistFailed(message.owner, message.seq, reason, permanent))

    def receiveMsg__Load(self, message: _Load, sender: ActorAddress) -> None:
        if self.database is None:
            return  # exiting; the owner asks the replacement
        if message.owner not in OWNERS:
            self.log.warning("a load for %s, which owns nothing here: ignored",
                             _printable(message.owner))
            return
        try:
            records = self.database.load(message.owner, handled_since=message.handled_since,
                                         proposals_since=message.proposals_since,
                                         pegout_states=message.pegout_states,
                                         outflow_since=message.outflow_since)
        except Exception as exc:
            # The owner cannot start without its state: a database whose rows cannot be
            # read back is as good as corrupt, and its supervisor decides what follows.
            self._fatal(exc if isinstance(exc, StorageError) else StorageCorrupt(
                self.database.path, f"cannot load the state of {message.owner}: "
                f"{_reason(self.database.path, exc)}"))
            return
        self.log.info("loaded %d records for %s", len(records), message.owner)
        self.send(sender, _Loaded(message.owner, records))

    def receiveMsg__Fetch(self, message: _Fetch, sender: ActorAddress) -> None:
        if self.database is None:
            return  # exiting; the owner asks the replacement
        records: tuple[PegoutRecord, ...] | tuple[ProposalRecord, ...] | \
            tuple[FederationRecord, ...]
        try:
            if getattr(message, "federations", False):  # absent from an older sender's
                records = tuple(self.database.federations(
                    newest=getattr(message, "limit", None)))
            elif message.proposals_since is not None:
                records = tuple(self.database.proposals(since=message.proposals_since))
            else:
                states = (message.state,) if message.state else ()
                records = tuple(self.database.pegouts(
                    states=states, request_id=message.request_id,
                    newest=getattr(message, "limit", None)))  # absent from an older sender's
        except Exception as exc:
            reason = _reason(self.database.path, exc)
            self.log.error("read #%d of %s failed: %s", message.query_id, message.owner, reason)
            self.send(sender, _Fetched(message.owner, message.query_id, error=reason))
            if isinstance(exc, StorageCorrupt):
                self._fatal(exc)
            return
        self.send(sender, _Fetched(message.owner, message.query_id, records))


def _reason(path: str, exc: Exception) -> str:
    """What went wrong, naming the database, in text that can be logged and stored."""
    text = str(exc) if isinstance(exc, StorageError) else \
        f"storage {path}: {type(exc).__name__}: {exc}"
    return _printable(text)


def _printable(text: str) -> str:
    # A lone surrogate (from a hostile request id) has no UTF-8 form, and this text goes to
    # the log, back to the owner, and from there to clients and stored outcomes.
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
