"""One SQLite connection in WAL mode: open and check, write records, load an owner's state.

No actors here, so it is tested directly. Every write is one transaction;
`synchronous=FULL` makes a commit durable against power loss, not only a
SIGKILL, before the StorageActor acknowledges it.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Collection, Iterable, Sequence
from functools import cache
from types import TracebackType
from typing import Any

from actors.messages import Member
from actors.storage.errors import (
    SchemaTooNew,
    StorageCorrupt,
    StorageError,
    StorageFull,
    StorageRefused,
    StorageUnavailable,
)
from actors.storage.limits import describe
from actors.storage.records import (
    BRIDGE_META,
    OPEN_PEGOUT_STATES,
    PRUNABLE,
    Expired,
    FederationRecord,
    InboundHandled,
    Loaded,
    MetaValue,
    PeginRecord,
    PegoutRecord,
    ProposalRecord,
    ProposalSeen,
    Record,
)
from actors.storage.schema import LATEST, MIGRATIONS

OWNERS = ("bridge", "chain")

# What sqlite3 stores and returns for the node's columns.
SqlValue = int | float | str | bytes | None
# A row by column name. Its values are Any: each column's type is the schema's
# (schema.py), which the type checker cannot see through a query.
Row = dict[str, Any]


class Database:
    def __init__(self, path: str, connection: sqlite3.Connection) -> None:
        self.path = path
        self._db = connection

    @classmethod
    def open(cls, path: str, *, max_size_mb: float | None = None,
             integrity: str = "full") -> Database:
        """Open (creating if needed), check and migrate; raises a StorageError subclass.

        `integrity`: `full` reads every page (SQLite's quick_check), `header` only that
        the file is a database SQLite can read the schema of (a corrupt page found later
        fails that read or write, and the StorageActor stops)."""
        directory = os.path.dirname(path)
        try:
            if directory:
                os.makedirs(directory, exist_ok=True)
            # isolation_level=None: transactions are begun and ended explicitly below.
            connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise StorageUnavailable(path, f"cannot open: {exc}") from exc
        database = cls(path, connection)
        try:
            database._prepare(max_size_mb, full_check=integrity == "full")
        except BaseException:
            connection.close()
            raise
        return database

    def close(self) -> None:
        self._db.close()

    # -- opening ---------------------------------------------------------------------

    def _prepare(self, max_size_mb: float | None, full_check: bool = True) -> None:
        try:
            mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA busy_timeout=5000")
            if full_check:
                check = self._db.execute("PRAGMA quick_check").fetchall()
            else:  # reading the schema proves the header and the first pages sound
                self._db.execute("SELECT count(*) FROM sqlite_master").fetchone()
                check = [("ok",)]
        except sqlite3.DatabaseError as exc:
            raise StorageCorrupt(self.path, f"not a usable SQLite database: {exc}") from exc
        if [row[0] for row in check] != ["ok"]:
            problems = "; ".join(str(row[0]) for row in check[:3])
            raise StorageCorrupt(self.path, f"integrity check failed: {problems}")
        if mode.lower() != "wal":
            raise StorageUnavailable(self.path, f"cannot switch to WAL mode (got {mode!r})")
        if max_size_mb is not None:
            page_size = self._db.execute("PRAGMA page_size").fetchone()[0]
            pages = max(1, int(max_size_mb * 1024 * 1024 // page_size))
            self._db.execute(f"PRAGMA max_page_count={pages}")
        self._migrate()

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        version = self.schema_version
        if version > LATEST:
            raise SchemaTooNew(
                self.path,
                f"schema version {version} is newer than this node's {LATEST}; "
                "run the node version that wrote it, or restore a backup",
            )
        for number in range(version + 1, LATEST + 1):
            with self._transaction():
                for statement in _statements(MIGRATIONS[number - 1]):
                    self._db.execute(statement)
                # PRAGMA user_version takes no parameters; `number` is our own int.
                self._db.execute(f"PRAGMA user_version={number}")

    # -- writing ---------------------------------------------------------------------

    def write(self, records: Sequence[Record],
              first: Collection[int] = ()) -> tuple[tuple[int, Record], ...]:
        """Write every record in one transaction: all of them, or (on error) none. A record
        sqlite3 cannot bind raises `StorageRefused` naming it (the limits are checked before,
        so this is the last line).

        The records at the positions in `first` are new records' first writes (a peg-out,
        a peg-in): each is inserted only if its key is absent. Returns, for each of those
        that found a row of another record under its key, its position and the stored
        record, read inside the same transaction. A row equal to the record is its own
        earlier copy (a write re-sent after a StorageActor restart) and is not reported."""
        found: list[tuple[int, Record]] = []
        with self._transaction():
            for index, record in enumerate(records):
                try:
                    if index in first:
                        existing = self._insert_if_absent(record)
                        if existing is not None and existing != record:
                            found.append((index, existing))
                        continue
                    sql, values = _upsert(record)
                    self._db.execute(sql, values)
                except (ValueError, TypeError, OverflowError) as exc:
                    # Raised by sqlite3 while binding (an int past int64, a lone surrogate)
                    # or by json.dumps; not sqlite3.Error, so named here.
                    raise StorageRefused(self.path, f"{describe(record)} cannot be stored: "
                                         f"{type(exc).__name__}: {exc}") from exc
        return tuple(found)

    def _insert_if_absent(self, record: Record) -> Record | None:
        """Insert `record` unless its key is taken; the stored record if it was. One
        statement either way: the read follows only a conflict, which is rare."""
        stored: Callable[..., Sequence[Record]]
        if isinstance(record, PegoutRecord):
            stored = self.pegouts
        elif isinstance(record, PeginRecord):
            stored = self.pegins
        else:
            raise TypeError(f"only a peg-out or a peg-in is written if absent, not "
                            f"{type(record).__name__}")
        sql, values = _upsert(record)
        if self._db.execute(_if_absent(sql), values).rowcount == 1:
            return None
        rows = stored(request_id=record.request_id)
        return rows[0] if rows else None

    def _transaction(self) -> _Transaction:
        return _Transaction(self)

    # -- loading ---------------------------------------------------------------------

    def load(self, owner: str, *, handled_since: float = 0.0,
             proposals_since: float = 0.0) -> tuple[Loaded, ...]:
        """What the owner needs after a (re)start, and no more: what it loads must not grow
        with the node's history. The bridge gets its open peg-outs and unacknowledged
        peg-ins (finished and acknowledged ones are read on demand, and a reused id is
        found by its insert), the federation in force and its meta values; the chain its
        federations, the ids it handled since `handled_since`, the ids (not the data) of
        the proposals received since `proposals_since`, and its meta values."""
        if owner == "bridge":
            return (*self.pegouts(states=OPEN_PEGOUT_STATES), *self.pegins(unacknowledged=True),
                    *self.federations(state="applied")[-1:],
                    *(m for m in self.meta() if m.key.startswith(BRIDGE_META)))
        if owner == "chain":
            return (*self.federations(), *self.proposal_ids(since=proposals_since),
                    *self.inbound_handled("chain", since=handled_since),
                    *(m for m in self.meta() if not m.key.startswith(BRIDGE_META)))
        raise ValueError(f"unknown owner {owner!r}; owners: {', '.join(OWNERS)}")

    def pegouts(self, *, states: Sequence[str] = (),
                request_id: str | None = None) -> list[PegoutRecord]:
        """Peg-outs in any of `states` (all if empty), or the one with `request_id`."""
        values: tuple[str, ...]
        if request_id is not None:
            where, values = "WHERE request_id = ?", (request_id,)
        elif states:
            where, values = f"WHERE state IN ({', '.join('?' * len(states))})", tuple(states)
        else:
            where, values = "", ()
        rows = self._query(f"SELECT * FROM pegouts {where} ORDER BY created_at, request_id",
                           values)
        return [
            PegoutRecord(
                request_id=r["request_id"], tx_hex=r["tx_hex"],
                input_indices=tuple(json.loads(r["input_indices"])),
                amounts=tuple(json.loads(r["amounts"])), state=r["state"],
                attempt=r["attempt"], signatures_required=r["signatures_required"],
                signatures_collected=r["signatures_collected"], error=r["error"],
                signed_tx_hex=r["signed_tx_hex"], txid=r["txid"],
                failures=tuple(json.loads(r["failures"])), created_at=r["created_at"],
                updated_at=r["updated_at"], revision=r["revision"],
                series_failures=r["series_failures"], series_started_at=r["series_started_at"],
            )
            for r in rows
        ]

    def pegins(self, *, unacknowledged: bool = False,
               request_id: str | None = None) -> list[PeginRecord]:
        values: tuple[str, ...] = ()
        if request_id is not None:
            where, values = "WHERE request_id = ?", (request_id,)
        else:
            where = "WHERE acknowledged = 0" if unacknowledged else ""
        rows = self._query(f"SELECT * FROM pegins {where} ORDER BY created_at, request_id",
                           values)
        return [
            PeginRecord(r["request_id"], r["btc_txid"], r["vout"], r["amount"],
                        r["evm_address"], r["confirmations"], bool(r["acknowledged"]),
                        r["created_at"], r["revision"])
            for r in rows
        ]

    def federations(self, state: str | None = None) -> list[FederationRecord]:
        where, values = ("WHERE state = ?", (state,)) if state else ("", ())
        rows = self._query(f"SELECT * FROM federations {where} ORDER BY version", values)
        return [
            FederationRecord(
                version=r["version"], update_type=r["update_type"],
                members=tuple(Member(m, bytes.fromhex(k), w, bool(a))
                              for m, k, w, a in json.loads(r["members"])),
                threshold=r["threshold"], effective_height=r["effective_height"],
                witness_script=bytes(r["witness_script"]), address=r["address"],
                state=r["state"], request_id=r["request_id"], recorded_at=r["recorded_at"],
                revision=r["revision"],
            )
            for r in rows
        ]

    def proposals(self, since: float = 0.0) -> list[ProposalRecord]:
        rows = self._query("SELECT * FROM proposals WHERE received_at >= ? "
                           "ORDER BY received_at, proposal_id", (since,))
        return [
            ProposalRecord(r["proposal_id"], r["proposal_type"], bytes(r["data"]),
                           r["voting_deadline"], r["required_votes"], r["received_at"])
            for r in rows
        ]

    def proposal_ids(self, since: float = 0.0) -> list[ProposalSeen]:
        rows = self._query("SELECT proposal_id, received_at FROM proposals "
                           "WHERE received_at >= ? ORDER BY received_at, proposal_id", (since,))
        return [ProposalSeen(r["proposal_id"], r["received_at"]) for r in rows]

    def inbound_handled(self, owner: str, since: float = 0.0) -> list[InboundHandled]:
        rows = self._query("SELECT * FROM inbound_handled WHERE owner = ? AND at >= ? "
                           "ORDER BY at", (owner, since))
        return [InboundHandled(r["request_id"], r["owner"], r["outcome"], r["at"]) for r in rows]

    def meta(self) -> list[MetaValue]:
        return [MetaValue(r["key"], r["value"], r["revision"])
                for r in self._query("SELECT * FROM meta ORDER BY key")]

    def _query(self, sql: str, values: Sequence[SqlValue] = ()) -> list[Row]:
        try:
            cursor = self._db.execute(sql, values)
            names = [d[0] for d in cursor.description]
            # Plain dicts: sqlite3.Row would need a row_factory on the shared connection.
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        except sqlite3.Error as exc:
            raise _classify(self.path, exc) from exc


class _Transaction:
    def __init__(self, database: Database) -> None:
        self._database = database

    def __enter__(self) -> None:
        try:
            self._database._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise _classify(self._database.path, exc) from exc

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        db = self._database._db
        if error is None:
            try:
                db.execute("COMMIT")
                return
            except sqlite3.Error as exc:
                error = exc
        if db.in_transaction:
            db.execute("ROLLBACK")
        if isinstance(error, StorageError):
            return
        if isinstance(error, sqlite3.Error):
            raise _classify(self._database.path, error) from error


def _classify(path: str, exc: sqlite3.Error) -> StorageError:
    text = str(exc)
    if isinstance(exc, sqlite3.IntegrityError | sqlite3.DataError) or (
            isinstance(exc, sqlite3.InterfaceError | sqlite3.ProgrammingError)
            and "binding" in text):
        # A constraint, a value too big, a type sqlite3 cannot bind: the records' doing.
        return StorageRefused(path, text)
    if isinstance(exc, sqlite3.OperationalError) and "full" in text:
        return StorageFull(path, f"{text}; nothing was written")
    if isinstance(exc, sqlite3.DatabaseError) and ("malformed" in text or "not a database"
                                                   in text):
        return StorageCorrupt(path, text)
    return StorageUnavailable(path, text)


def _statements(script: str) -> Iterable[str]:
    # sqlite3's executescript would COMMIT our open transaction; split instead
    # (the migrations hold no semicolons inside strings).
    for statement in script.split(";"):
        if statement.strip():
            yield statement


def _upsert(record: Record) -> tuple[str, tuple[SqlValue, ...]]:
    if isinstance(record, PegoutRecord):
        return _guarded("pegouts", ("request_id",), {
            "request_id": record.request_id, "tx_hex": record.tx_hex,
            "input_indices": json.dumps(list(record.input_indices)),
            "amounts": json.dumps(list(record.amounts)), "state": record.state,
            "attempt": record.attempt, "signatures_required": record.signatures_required,
            "signatures_collected": record.signatures_collected, "error": record.error,
            "signed_tx_hex": record.signed_tx_hex, "txid": record.txid,
            "failures": json.dumps(list(record.failures)), "created_at": record.created_at,
            "updated_at": record.updated_at, "revision": record.revision,
            "series_failures": record.series_failures,
            "series_started_at": record.series_started_at,
        })
    if isinstance(record, PeginRecord):
        return _guarded("pegins", ("request_id",), {
            "request_id": record.request_id, "btc_txid": record.btc_txid, "vout": record.vout,
            "amount": record.amount, "evm_address": record.evm_address,
            "confirmations": record.confirmations, "acknowledged": int(record.acknowledged),
            "created_at": record.created_at, "revision": record.revision,
        })
    if isinstance(record, FederationRecord):
        members = [[m.member_id, m.public_key.hex(), m.weight, m.active] for m in record.members]
        return _guarded("federations", ("version",), {
            "version": record.version, "update_type": record.update_type,
            "members": json.dumps(members), "threshold": record.threshold,
            "effective_height": record.effective_height,
            "witness_script": record.witness_script, "address": record.address,
            "state": record.state, "request_id": record.request_id,
            "recorded_at": record.recorded_at, "revision": record.revision,
        })
    if isinstance(record, MetaValue):
        return _guarded("meta", ("key",), {"key": record.key, "value": record.value,
                                           "revision": record.revision})
    if isinstance(record, ProposalRecord):
        # A proposal never changes: the first copy stays.
        return (
            "INSERT INTO proposals VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (record.proposal_id, record.proposal_type, record.data, record.voting_deadline,
             record.required_votes, record.received_at),
        )
    if isinstance(record, InboundHandled):
        return (
            "INSERT INTO inbound_handled VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (record.request_id, record.owner, record.outcome, record.at),
        )
    if isinstance(record, Expired):
        column = PRUNABLE.get(record.table)
        if column is None:
            raise TypeError(f"{record.table!r} is not a table that retention prunes")
        if record.table == "inbound_handled":
            return (f"DELETE FROM inbound_handled WHERE owner = ? AND {column} < ?",
                    (record.owner, record.before))
        return f"DELETE FROM {record.table} WHERE {column} < ?", (record.before,)
    raise TypeError(f"not a storage record: {type(record).__name__}")


def _guarded(table: str, key: tuple[str, ...],
             row: dict[str, SqlValue]) -> tuple[str, tuple[SqlValue, ...]]:
    """An upsert that replaces the stored row only with a higher revision."""
    return _guarded_sql(table, key, tuple(row)), tuple(row.values())


@cache
def _if_absent(upsert: str) -> str:
    """The guarded upsert's INSERT, with its update replaced by nothing."""
    return upsert.split(" ON CONFLICT ", 1)[0] + " ON CONFLICT DO NOTHING"


@cache
def _guarded_sql(table: str, key: tuple[str, ...], columns: tuple[str, ...]) -> str:
    # Built once per table: it was a sixth of the StorageActor's time when built per row.
    marks = ", ".join("?" for _ in columns)
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
    return (f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks}) "
            f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates} "
            f"WHERE excluded.revision > {table}.revision")
