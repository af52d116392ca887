"""The owner's side of durable writes: coalesce, send, wait for the commit, re-send.

An owner (the BridgeActor, the ChainActor) calls `write(records, then=...)`
as often as it likes while handling messages; `flush` sends what gathered
as one `_Persist` (one transaction), and `then` runs once the StorageActor
has committed it. Group commit: while one `_Persist` is in flight, new
writes wait and go together as the next one, so under load the number of
transactions, and of Thespian sends, stays near the number of round trips
rather than the number of messages. A write whose answer never came, because the StorageActor
died, is sent again to its replacement (`resend`): records are keyed and
revisioned, so a second copy changes nothing.

A write can fail two ways:

- for now (a full disk): it calls its `otherwise` (the owner undoes and
  reports) or, when it has none, is retried after `retry_delay_s`;
- for good (a value SQLite cannot hold): it is never retried. `write` checks
  the records against the storage limits and refuses a bad write at once,
  before it joins a batch; a batch the StorageActor refuses for good anyway
  is split in halves, each sent on its own, until the bad write is alone,
  so that the writes gathered with it still commit. A refused write calls its
  `otherwise` with the reason, or, when it has none, is dropped; either way
  `refused` (the owner's hook, for the log and the metric) hears of it.

A write that `can_wait` (nothing on a client's or governance's path waits for
its commit: a peg-out's `broadcast` state once the broadcaster has it) does
not start a transaction of its own: it goes with the next write that cannot
wait, or when the owner's timer says it has waited long enough (`flush(...,
waited=True)`). Under a steady load it costs no round trip at all; it only
widens a window recovery already covers.

A write with `found` is a first write (a new peg-out and its claim on coins,
a new peg-in, a retried peg-out's new claim): the StorageActor writes it
whole or not at all, and when it finds an id or a coin taken, `found` runs
instead of `then`. Batches are only ever split between writes, so a first
write is never cut in two.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from thespian.actors import ActorAddress

from actors.storage.limits import refusal
from actors.storage.protocol import _Fetch, _Fetched, _Persist
from actors.storage.records import Claim, Record, Taken
from runtime import tracing

Then = Callable[[], None]
Otherwise = Callable[[str], None]
# A first write found its key taken, or a coin it claims held by another peg-out: called
# with the stored record or the `Held`, instead of `then`.
Found = Callable[[Taken], None]
Send = Callable[[ActorAddress, object], None]  # the owner's Actor.send
# Told of every write refused for good: its records, the reason, and whether its
# `otherwise` ran (False: it had none, and was dropped).
Refused = Callable[[tuple[Record, ...], str, bool], None]
# What cannot be stored among some records, or None (`limits.refusal`).
Check = Callable[[Sequence[object]], object | None]


@dataclass
class _Write:
    records: tuple[Record, ...]
    then: Then | None = None
    otherwise: Otherwise | None = None
    found: Found | None = None  # set: a first write, written whole or not at all
    insert_new: bool = True  # its peg-out and peg-in records are inserted only if absent
    trace: str | None = None  # the span it is written for (W3C traceparent), tracing on
    can_wait: bool = False  # goes with the next write that cannot, or on the owner's timer


@dataclass
class _InFlight:
    writes: list[_Write] = field(default_factory=list)

    @property
    def records(self) -> tuple[Record, ...]:
        return tuple(record for write in self.writes for record in write.records)

    @property
    def groups(self) -> tuple[tuple[int, int, bool], ...]:
        """The first writes, as `_Persist.groups`: where their records lie in `records`."""
        groups: list[tuple[int, int, bool]] = []
        at = 0
        for write in self.writes:
            if write.found is not None:
                groups.append((at, at + len(write.records), write.insert_new))
            at += len(write.records)
        return tuple(groups)

    @property
    def traceparents(self) -> tuple[str, ...]:
        if not tracing.active:
            return ()
        return tuple(dict.fromkeys(w.trace for w in self.writes if w.trace is not None))

    def persist(self, owner: str, seq: int) -> _Persist:
        return _Persist(owner, seq, self.records, self.groups, self.traceparents)

    def write_at(self, position: int) -> _Write | None:
        """The write whose records hold `position` in `records`."""
        at = 0
        for write in self.writes:
            at += len(write.records)
            if position < at:
                return write
        return None


class DurableStore:
    def __init__(self, owner: str, send: Send, *, refused: Refused | None = None,
                 check: Check = refusal) -> None:
        self.owner = owner
        self._send = send
        self._refused = refused
        self._check = check
        self._seq = 0
        self._open: list[_Write] = []
        self._waited = False  # the open writes that can wait have waited long enough
        self._in_flight: dict[int, _InFlight] = {}
        self._failed: list[_Write] = []  # waiting for a retry
        # Pieces of batches refused for good, each sent on its own, in order, before the
        # open writes (which came later): bisection finds the bad write.
        self._parts: list[list[_Write]] = []

    def __len__(self) -> int:
        """Writes not yet committed (open, in flight, being split, or waiting for a retry)."""
        return (len(self._open) + sum(len(f.writes) for f in self._in_flight.values())
                + sum(len(part) for part in self._parts) + len(self._failed))

    def write(self, records: Sequence[Record], then: Then | None = None,
              otherwise: Otherwise | None = None, found: Found | None = None, *,
              insert_new: bool = True, trace: str | None = None,
              can_wait: bool = False) -> None:
        """Write `records` in the next transaction; `then` runs once they are committed,
        `otherwise(reason)` if they never will be. A record that cannot be stored is
        refused here: `otherwise` then runs before `write` returns.

        With `found`, this is a first write, written whole or not at all. Its `Claim`s
        reserve coins, and with `insert_new` its peg-out and peg-in records are new ones
        whose ids may have been used before, each inserted only if its key is absent
        (without, they are upserted as usual). The first coin held by another peg-out, or
        key held by another record, undoes the whole write, and `found(Held or the stored
        record)` runs instead of `then`. So "was this id used, is this coin free?" is
        answered by the write that had to be made anyway, without a read of its own. A
        `Claim` without `found` is refused: its conflict would go unheard.

        `trace`: the span the write belongs to (W3C traceparent); by default the span
        being handled, if tracing is on. `can_wait`: the write starts no transaction of
        its own (see the module's docstring)."""
        if trace is None and tracing.active:
            trace = tracing.current_traceparent()
        write = _Write(tuple(records), then, otherwise, found, insert_new, trace, can_wait)
        problem = self._check(write.records)
        if problem is None and found is None and any(isinstance(r, Claim) for r in records):
            problem = "a Claim is written only with `found`, which hears of its conflict"
        if problem is not None:
            self._refuse(write, str(problem))
            return
        self._open.append(write)

    @property
    def waiting(self) -> bool:
        """Whether the open writes all can wait and have not waited long enough: the
        owner's timer must send them. Once they have, the next flush that can send
        anything sends them (the answer to the transaction in flight makes one)."""
        return bool(self._open) and not self._waited and self._all_can_wait()

    def _all_can_wait(self) -> bool:
        return all(write.can_wait for write in self._open)

    def flush(self, storage: ActorAddress | None, *, waited: bool = False) -> None:
        """Send the next transaction, unless one is already in flight (the next follows once
        it is answered) or the StorageActor is not known yet (None). The pieces of a batch
        refused for good go first, one at a time; then the open writes, as one, if one of
        them cannot wait or they have `waited` long enough (remembered until they go)."""
        # Only open writes can have waited: a late timer, after they went with another
        # write, must not let the next one that can wait go alone at once.
        self._waited = bool(self._open) and (self._waited or waited)
        if storage is None or self._in_flight:
            return
        if self._parts:
            writes = self._parts.pop(0)
        elif self._open and (self._waited or not self._all_can_wait()):
            writes, self._open, self._waited = self._open, [], False
        else:
            return
        self._seq += 1
        batch = _InFlight(writes)
        self._in_flight[self._seq] = batch
        self._send(storage, batch.persist(self.owner, self._seq))

    def resend(self, storage: ActorAddress) -> int:
        """Send every uncommitted write again, to a new StorageActor; returns how many."""
        for seq, batch in sorted(self._in_flight.items()):
            self._send(storage, batch.persist(self.owner, seq))
        return len(self._in_flight)

    def persisted(self, seq: int, found: Sequence[tuple[int, Taken]] = ()) -> None:
        """Committed: each write's `found` runs if its group found something, else `then`,
        in the order of the writes."""
        batch = self._in_flight.pop(seq, None)
        if batch is None:
            return  # a second answer to a re-sent write
        taken: dict[int, Taken] = {}
        for position, stored in found:
            owner = batch.write_at(position)
            if owner is not None and owner.found is not None:
                taken.setdefault(id(owner), stored)
        for write in batch.writes:
            existing = taken.get(id(write))
            if existing is not None and write.found is not None:
                write.found(existing)
            elif write.then is not None:
                write.then()

    def failed(self, seq: int, reason: str, *, permanent: bool = False) -> bool:
        """The write was not committed; True if some writes wait for `retry`.

        `permanent`: the same records would fail again. A batch of one write is refused;
        a larger one is split in halves, sent by the next flushes."""
        batch = self._in_flight.pop(seq, None)
        if batch is None:
            return False
        writes = batch.writes
        if permanent and len(writes) > 1:
            half = len(writes) // 2
            self._parts[:0] = [writes[:half], writes[half:]]
        elif permanent:
            for write in writes:
                self._refuse(write, reason)
        else:
            for write in writes:
                if write.otherwise is not None:
                    write.otherwise(reason)
                else:
                    self._failed.append(write)
        return bool(self._failed)

    def retry(self, storage: ActorAddress | None) -> None:
        # The failed writes are older than any piece still queued and any open write: they
        # go first, as a piece of their own while pieces are being sent, else with the open.
        retried = bool(self._failed)
        if self._failed and self._parts:
            self._parts.insert(0, self._failed)
        else:
            self._open = self._failed + self._open
        self._failed = []
        # Failed writes have waited already (those that can wait too); without any, the
        # open writes that can wait keep waiting for company or the owner's timer.
        self.flush(storage, waited=retried)

    def _refuse(self, write: _Write, reason: str) -> None:
        if write.otherwise is not None:
            write.otherwise(reason)
        if self._refused is not None:
            self._refused(write.records, reason, write.otherwise is not None)


# Called with the records read (peg-outs or proposals), or with None and the reason the
# read failed.
Answer = Callable[[tuple[Any, ...] | None, str | None], None]


class Fetches:
    """The owner's reads from the StorageActor: `fetch(..., then)` sends a `_Fetch`, and
    `then(records, error)` runs when its `_Fetched` comes. A read whose answer never came,
    because the StorageActor died, is sent again to its replacement (`resend`); until a
    StorageActor is known, reads wait."""

    def __init__(self, owner: str, send: Send) -> None:
        self.owner = owner
        self._send = send
        self._next_id = 0
        self._pending: dict[int, tuple[_Fetch, Answer]] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def fetch(self, storage: ActorAddress | None, then: Answer, *,
              request_id: str | None = None, state: str | None = None,
              proposals_since: float | None = None, federations: bool = False,
              limit: int | None = None) -> None:
        self._next_id += 1
        query = _Fetch(self.owner, self._next_id, request_id=request_id, state=state,
                       proposals_since=proposals_since, federations=federations, limit=limit)
        self._pending[query.query_id] = (query, then)
        if storage is not None:
            self._send(storage, query)

    def answered(self, message: _Fetched) -> None:
        if message.owner != self.owner:
            return
        pending = self._pending.pop(message.query_id, None)
        if pending is None:
            return  # a second answer to a re-sent read
        pending[1](None if message.error else message.records, message.error)

    def resend(self, storage: ActorAddress) -> int:
        """Send every unanswered read again, to a new StorageActor; returns how many."""
        for query, _ in self._pending.values():
            self._send(storage, query)
        return len(self._pending)
