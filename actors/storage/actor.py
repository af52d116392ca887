"""StorageActor: the only writer of the node's durable state.

It owns one SQLite connection (`Database`) in its own process. An owner (the
BridgeActor, the ChainActor) sends `_Persist(owner, seq, records)` and acts
on the change only after `_Persisted(owner, seq)`; `_Load(owner)` returns
what the owner needs after a (re)start, and `_Fetch` reads peg-outs the
bridge does not keep in memory (the finished ones). A database that cannot be opened,
is corrupt or has a newer schema is fatal: the actor reports it to its
supervisor and exits rather than pretend to work. A full disk fails the
write (`_PersistFailed`) and leaves the database as it was.
"""

from __future__ import annotations

import os
from typing import Any

from thespian.actors import ActorExitRequest

from actors.base import NodeActor
from actors.lifecycle import _FatalError, _Start
from actors.storage import metrics
from actors.storage.database import Database
from actors.storage.errors import StorageCorrupt, StorageError
from actors.storage.protocol import (
    _Fetch,
    _Fetched,
    _Load,
    _Loaded,
    _Persist,
    _Persisted,
    _PersistFailed,
)


class StorageActor(NodeActor):
    name = "storage"

    def __init__(self) -> None:
        super().__init__()
        self.database: Database | None = None

    def on_start(self, start: _Start) -> None:
        storage = self.config.storage
        try:
            self.database = Database.open(storage.path, max_size_mb=storage.max_size_mb)
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

    def receiveMsg__Persist(self, message: _Persist, sender: Any) -> None:
        if self.database is None:
            self.send(sender, _PersistFailed(message.owner, message.seq,
                                             "storage: the database is not open"))
            return
        try:
            with metrics.WRITE_SECONDS.time():
                self.database.write(message.records)
        except StorageError as exc:
            metrics.WRITE_FAILURES.labels(reason=type(exc).__name__).inc()
            self.log.error("write #%d of %s failed: %s", message.seq, message.owner, exc)
            self.send(sender, _PersistFailed(message.owner, message.seq, str(exc)))
            if isinstance(exc, StorageCorrupt):
                self._fatal(exc)
            return
        metrics.RECORDS_WRITTEN.labels(owner=message.owner).inc(len(message.records))
        self.send(sender, _Persisted(message.owner, message.seq))

    def receiveMsg__Load(self, message: _Load, sender: Any) -> None:
        if self.database is None:
            return  # exiting; the owner asks the replacement
        try:
            records = self.database.load(message.owner)
        except StorageError as exc:
            self._fatal(exc)
            return
        self.log.info("loaded %d records for %s", len(records), message.owner)
        self.send(sender, _Loaded(message.owner, records))

    def receiveMsg__Fetch(self, message: _Fetch, sender: Any) -> None:
        if self.database is None:
            return  # exiting; the owner asks the replacement
        try:
            states = (message.state,) if message.state else ()
            records = self.database.pegouts(states=states, request_id=message.request_id)
        except StorageError as exc:
            self.log.error("read #%d of %s failed: %s", message.query_id, message.owner, exc)
            self.send(sender, _Fetched(message.owner, message.query_id, error=str(exc)))
            if isinstance(exc, StorageCorrupt):
                self._fatal(exc)
            return
        self.send(sender, _Fetched(message.owner, message.query_id, tuple(records)))
