"""One SQLite connection in WAL mode: open and check, write records, load an owner's state.

No actors here, so it is tested directly. Every write is one transaction;
`synchronous=FULL` makes a commit durable against power loss, not only a
SIGKILL, before the StorageActor acknowledges it. Inside it, each first write
(a new peg-out with its claim on coins, a new peg-in) runs under a savepoint
of its own, so that one that finds its id or a coin taken is undone whole
while the others commit. What a row or a record looks like in SQL is
`rows.py`'s business.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Collection, Iterable, Sequence
from types import TracebackType
from typing import TypeAlias

from actors.messages import PegoutState
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
    OUTFLOW_RESET_AT,
    Claim,
    FederationRecord,
    Held,
    InboundHandled,
    Loaded,
    MetaValue,
    OutflowEntry,
    PeginRecord,
    PegoutRecord,
    ProposalRecord,
    ProposalSeen,
    Record,
    Taken,
)
from actors.storage.rows import (
    Row,
    SqlValue,
    claim_conflict,
    claim_insert,
    federation_from_row,
    handled_from_row,
    if_absent,
    meta_from_row,
    outflow_from_row,
    pegin_from_row,
    pegout_from_row,
    proposal_from_row,
    proposal_seen_from_row,
    upsert,
)
from actors.storage.schema import LATEST, MIGRATIONS
from btc.federation import SPENDABLE_VERSIONS

OWNERS = ("bridge", "chain")

# One first write's records in a batch: positions start..stop-1, and whether its peg-out
# and peg-in records are new ones, inserted only if their key is absent (True), or
# revisioned upserts whose group only its claims can undo (False).
Group: TypeAlias = tuple[int, int, bool]

# The outflow window: a peg-out replaced, or failed before it was ever signed, never paid
# anything and never will, and is left out.
_NOT_PAID = (PegoutState.REPLACED.value, PegoutState.FAILED.value)
# Summed per minute (each sum dated by its latest peg-out, so it counts no earlier than
# exactly): what a start loads is at most a row a minute of the window, however many
# peg-outs it holds.
OUTFLOW_GRAIN_S = 60
# A peg-out counts from the start of its latest series (`series_started_at`, 0 before any
# RetryPegout); the expression is the index's (`pegouts_by_age`), word for word.
_COUNTED_AT = "max(created_at, series_started_at)"
OUTFLOW = (f"SELECT MAX({_COUNTED_AT}) AS created_at, SUM(payout_sat) AS payout_sat "
           f"FROM pegouts WHERE {_COUNTED_AT} >= ? AND state <> ? "
           "AND (state <> ? OR signed_tx_hex IS NOT NULL) "
           f"GROUP BY CAST({_COUNTED_AT} / {OUTFLOW_GRAIN_S} AS INTEGER) ORDER BY 1")


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
              groups: Collection[Group] = ()) -> tuple[tuple[int, Taken], ...]:
        """Write every record in one transaction: all of them, or (on error) none. A record
        sqlite3 cannot bind raises `StorageRefused` naming it (the limits are checked before,
        so this is the last line).

        Each of `groups` is a first write: its records are written together or not at all.
        A `Claim` in it may find a coin another peg-out holds (a `Held`), and, when the
        group inserts new records, a peg-out or peg-in record may find its key held by
        another record (the stored one; any other kind of record is written as usual).
        The first thing a group finds undoes everything the group wrote, and the rest of
        the batch goes on. Returns, for each group that found something, the position of
        the record that found it and what it found, read inside the same transaction. A
        stored row equal to the record is its own earlier copy (a write re-sent after a
        StorageActor restart) and is not reported; nor is a coin the claimant holds."""
        spans = self._spans(groups, len(records))
        found: list[tuple[int, Taken]] = []
        with self._transaction():
            index = 0
            while index < len(records):
                span = spans.get(index)
                if span is None:
                    self._write_one(records[index])
                    index += 1
                    continue
                stop, insert_new = span
                taken = self._write_group(records, index, stop, insert_new)
                if taken is not None:
                    found.append(taken)
                index = stop
        return tuple(found)

    def _spans(self, groups: Collection[Group], count: int) -> dict[int, tuple[int, bool]]:
        """`groups` by their start, checked to lie apart inside the batch."""
        spans: dict[int, tuple[int, bool]] = {}
        end = 0
        for start, stop, insert_new in sorted(groups):
            if not end <= start <= stop <= count:
                raise StorageRefused(self.path, f"the first write of records {start} to "
                                     f"{stop - 1} overlaps another or lies outside the "
                                     f"{count} records of the write")
            if start < stop:  # an empty group can find nothing
                spans[start] = (stop, insert_new)
            end = stop
        return spans

    def _write_group(self, records: Sequence[Record], start: int, stop: int,
                     insert_new: bool) -> tuple[int, Taken] | None:
        # No RELEASE on an error: the transaction's ROLLBACK ends the savepoint with it, and
        # a failing RELEASE would hide the error that matters.
        self._db.execute("SAVEPOINT first_write")
        for index in range(start, stop):
            taken = self._write_one(records[index], first=True, insert_new=insert_new)
            if taken is not None:
                self._db.execute("ROLLBACK TO first_write")
                self._db.execute("RELEASE first_write")
                return index, taken
        self._db.execute("RELEASE first_write")
        return None

    def _write_one(self, record: Record, *, first: bool = False,
                   insert_new: bool = False) -> Taken | None:
        """Write `record`; what it found instead, in a first write. A Claim outside a first
        write is refused: nothing would hear of its conflict."""
        try:
            if first and isinstance(record, Claim):
                return self._claim(record)
            if first and insert_new and isinstance(record, PegoutRecord | PeginRecord):
                existing = self._insert_if_absent(record)
                return existing if existing is not None and existing != record else None
            sql, values = upsert(record)
            self._db.execute(sql, values)
            return None
        except (ValueError, TypeError, OverflowError) as exc:
            # Raised by sqlite3 while binding (an int past int64, a lone surrogate)
            # or by json.dumps; not sqlite3.Error, so named here.
            raise StorageRefused(self.path, f"{describe(record)} cannot be stored: "
                                 f"{type(exc).__name__}: {exc}") from exc

    def _insert_if_absent(self, record: PegoutRecord | PeginRecord) -> Taken | None:
        """Insert `record` unless its key is taken; the stored record if it was. One
        statement either way: the read follows only a conflict, which is rare."""
        stored: Callable[..., Sequence[PegoutRecord | PeginRecord]]
        stored = self.pegouts if isinstance(record, PegoutRecord) else self.pegins
        sql, values = upsert(record)
        if self._db.execute(if_absent(sql), values).rowcount == 1:
            return None
        rows = stored(request_id=record.request_id)
        return rows[0] if rows else None

    def _claim(self, claim: Claim) -> Held | None:
        """Reserve the claim's free outpoints, unless another peg-out holds one of them:
        then that one, and nothing is written."""
        row = self._db.execute(*claim_conflict(claim)).fetchone()
        if row is not None:
            return Held(row[0], row[1])
        self._db.execute(*claim_insert(claim))
        return None

    def _transaction(self) -> _Transaction:
        return _Transaction(self)

    # -- loading ---------------------------------------------------------------------

    def load(self, owner: str, *, handled_since: float = 0.0, proposals_since: float = 0.0,
             pegout_states: Sequence[str] = (),
             outflow_since: float | None = None) -> tuple[Loaded, ...]:
        """What the owner needs after a (re)start, and no more: what it loads must not grow
        with the node's history. The bridge gets its peg-outs in `pegout_states` (empty:
        the open ones) and unacknowledged peg-ins (the others are read on demand, and a
        reused id is found by its insert), the federation in force and the applied ones
        before it whose coins may still be spent (`SPENDABLE_VERSIONS` in all), its meta
        values and,
        with `outflow_since`, an `OutflowEntry` for each peg-out since then that counts
        against the outflow window; the chain its federations, the ids it handled since
        `handled_since`, the ids (not the data) of the proposals received since
        `proposals_since`, and its meta values."""
        if owner == "bridge":
            meta = [m for m in self.meta() if m.key.startswith(BRIDGE_META)]
            outflow = []
            if outflow_since is not None:
                # What an operator forgave stays forgiven: summed per minute, a sum that
                # mixed payouts from before a reset with later ones would bring them back.
                reset = [float(m.value) for m in meta if m.key == OUTFLOW_RESET_AT]
                outflow = self.outflow(max([outflow_since, *reset]))
            return (*self.pegouts(states=tuple(pegout_states) or OPEN_PEGOUT_STATES),
                    *self.pegins(unacknowledged=True),
                    *self.federations(state="applied")[-SPENDABLE_VERSIONS:], *meta, *outflow)
        if owner == "chain":
            return (*self.federations(), *self.proposal_ids(since=proposals_since),
                    *self.inbound_handled("chain", since=handled_since),
                    *(m for m in self.meta() if not m.key.startswith(BRIDGE_META)))
        raise ValueError(f"unknown owner {owner!r}; owners: {', '.join(OWNERS)}")

    def pegouts(self, *, states: Sequence[str] = (), request_id: str | None = None,
                newest: int | None = None) -> list[PegoutRecord]:
        """Peg-outs in any of `states` (all if empty), or the one with `request_id`; only
        the `newest` of them, if set (still oldest first)."""
        values: tuple[str, ...]
        if request_id is not None:
            where, values = "WHERE request_id = ?", (request_id,)
        elif states:
            where, values = f"WHERE state IN ({', '.join('?' * len(states))})", tuple(states)
        else:
            where, values = "", ()
        if newest is not None:
            # The newest N by a top-N sort over the rows that match: memory stays bounded.
            rows = self._query(f"SELECT * FROM (SELECT * FROM pegouts {where} ORDER BY "
                               f"created_at DESC, request_id DESC LIMIT ?) "
                               f"ORDER BY created_at, request_id", (*values, int(newest)))
        else:
            rows = self._query(f"SELECT * FROM pegouts {where} ORDER BY created_at, "
                               f"request_id", values)
        return [pegout_from_row(r) for r in rows]

    def outflow(self, since: float) -> list[OutflowEntry]:
        """What the peg-outs whose latest series began at or after `since` paid out or may
        still, summed per minute: all but the replaced ones and those that failed before
        they were ever signed. Found by age (`pegouts_by_age`), so a window's worth is read, not the
        history."""
        return [outflow_from_row(r) for r in self._query(OUTFLOW, (since, *_NOT_PAID))]

    def reservations(self, request_id: str | None = None) -> list[tuple[str, str]]:
        """(outpoint, holder) of every reserved coin, or of those `request_id` holds."""
        where, values = (("WHERE request_id = ?", (request_id,)) if request_id is not None
                         else ("", ()))
        rows = self._query(f"SELECT outpoint, request_id FROM reservations {where} "
                           "ORDER BY outpoint", values)
        return [(r["outpoint"], r["request_id"]) for r in rows]

    def pegins(self, *, unacknowledged: bool = False,
               request_id: str | None = None) -> list[PeginRecord]:
        values: tuple[str, ...] = ()
        if request_id is not None:
            where, values = "WHERE request_id = ?", (request_id,)
        else:
            where = "WHERE acknowledged = 0" if unacknowledged else ""
        rows = self._query(f"SELECT * FROM pegins {where} ORDER BY created_at, request_id",
                           values)
        return [pegin_from_row(r) for r in rows]

    def federations(self, state: str | None = None,
                    newest: int | None = None) -> list[FederationRecord]:
        """Federation versions (in `state`, if set), oldest first: only the `newest` of
        them, if set (a listing must not read every version governance ever sent)."""
        where, values = ("WHERE state = ?", (state,)) if state else ("", ())
        if newest is not None:
            rows = self._query(f"SELECT * FROM (SELECT * FROM federations {where} ORDER BY "
                               f"version DESC LIMIT ?) ORDER BY version",
                               (*values, int(newest)))
        else:
            rows = self._query(f"SELECT * FROM federations {where} ORDER BY version", values)
        return [federation_from_row(r) for r in rows]

    def proposals(self, since: float = 0.0) -> list[ProposalRecord]:
        rows = self._query("SELECT * FROM proposals WHERE received_at >= ? "
                           "ORDER BY received_at, proposal_id", (since,))
        return [proposal_from_row(r) for r in rows]

    def proposal_ids(self, since: float = 0.0) -> list[ProposalSeen]:
        rows = self._query("SELECT proposal_id, received_at FROM proposals "
                           "WHERE received_at >= ? ORDER BY received_at, proposal_id", (since,))
        return [proposal_seen_from_row(r) for r in rows]

    def inbound_handled(self, owner: str, since: float = 0.0) -> list[InboundHandled]:
        rows = self._query("SELECT * FROM inbound_handled WHERE owner = ? AND at >= ? "
                           "ORDER BY at", (owner, since))
        return [handled_from_row(r) for r in rows]

    def meta(self) -> list[MetaValue]:
        return [meta_from_row(r) for r in self._query("SELECT * FROM meta ORDER BY key")]

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

