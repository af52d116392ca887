"""The owner's side of durable writes: coalesce, send, wait for the commit, re-send.

An owner (the BridgeActor, the ChainActor) calls `write(records, then=...)`
as often as it likes while handling messages; `flush` sends what gathered
as one `_Persist` (one transaction), and `then` runs once the StorageActor
has committed it. Group commit: while one `_Persist` is in flight, new
writes wait and go together as the next one, so under load the number of
transactions, and of Thespian sends, stays near the number of round trips
rather than the number of messages. A write whose answer never came, because the StorageActor
died, is sent again to its replacement (`resend`): records are keyed and
revisioned, so a second copy changes nothing. A write that failed (disk
full) either calls its `otherwise` (the owner undoes and reports) or, when
it has none, is retried after `retry_delay_s`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from actors.storage.protocol import _Fetch, _Fetched, _Persist

Then = Callable[[], None]
Otherwise = Callable[[str], None]


@dataclass
class _Write:
    records: tuple[Any, ...]
    then: Then | None = None
    otherwise: Otherwise | None = None


@dataclass
class _InFlight:
    writes: list[_Write] = field(default_factory=list)

    @property
    def records(self) -> tuple[Any, ...]:
        return tuple(record for write in self.writes for record in write.records)


class DurableStore:
    def __init__(self, owner: str, send: Callable[[Any, Any], None]) -> None:
        self.owner = owner
        self._send = send
        self._seq = 0
        self._open: list[_Write] = []
        self._in_flight: dict[int, _InFlight] = {}
        self._failed: list[_Write] = []  # waiting for a retry

    def __len__(self) -> int:
        """Writes not yet committed (open, in flight or waiting for a retry)."""
        return (len(self._open) + sum(len(f.writes) for f in self._in_flight.values())
                + len(self._failed))

    def write(self, records: Sequence[Any], then: Then | None = None,
              otherwise: Otherwise | None = None) -> None:
        self._open.append(_Write(tuple(records), then, otherwise))

    def flush(self, storage: Any) -> None:
        """Send the open writes as one transaction, unless one is already in flight (they
        follow once it is committed) or the StorageActor is not known yet."""
        if not self._open or storage is None or self._in_flight:
            return
        self._seq += 1
        batch = _InFlight(self._open)
        self._open = []
        self._in_flight[self._seq] = batch
        self._send(storage, _Persist(self.owner, self._seq, batch.records))

    def resend(self, storage: Any) -> int:
        """Send every uncommitted write again, to a new StorageActor; returns how many."""
        for seq, batch in sorted(self._in_flight.items()):
            self._send(storage, _Persist(self.owner, seq, batch.records))
        return len(self._in_flight)

    def persisted(self, seq: int) -> None:
        batch = self._in_flight.pop(seq, None)
        if batch is None:
            return  # a second answer to a re-sent write
        for write in batch.writes:
            if write.then is not None:
                write.then()

    def failed(self, seq: int, reason: str) -> bool:
        """The write was not committed; True if some of it waits for `retry`."""
        batch = self._in_flight.pop(seq, None)
        if batch is None:
            return False
        for write in batch.writes:
            if write.otherwise is not None:
                write.otherwise(reason)
            else:
                self._failed.append(write)
        return bool(self._failed)

    def retry(self, storage: Any) -> None:
        self._open = self._failed + self._open
        self._failed = []
        self.flush(storage)


Answer = Callable[[tuple[Any, ...] | None, str | None], None]


class Fetches:
    """The owner's reads from the StorageActor: `fetch(..., then)` sends a `_Fetch`, and
    `then(records, error)` runs when its `_Fetched` comes. A read whose answer never came,
    because the StorageActor died, is sent again to its replacement (`resend`); until a
    StorageActor is known, reads wait."""

    def __init__(self, owner: str, send: Callable[[Any, Any], None]) -> None:
        self.owner = owner
        self._send = send
        self._next_id = 0
        self._pending: dict[int, tuple[_Fetch, Answer]] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def fetch(self, storage: Any, then: Answer, *, request_id: str | None = None,
              state: str | None = None) -> None:
        self._next_id += 1
        query = _Fetch(self.owner, self._next_id, request_id=request_id, state=state)
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

    def resend(self, storage: Any) -> int:
        """Send every unanswered read again, to a new StorageActor; returns how many."""
        for query, _ in self._pending.values():
            self._send(storage, query)
        return len(self._pending)
