"""Where the next start must read the spool from (pure).

The spool broadcaster knows which txids it holds so that a transaction is
never appended twice. A txid matters only while its peg-out may be handed over
again: while the peg-out is `signed` in SQLite, that is between the spool's
fsync and the commit of its `broadcast` state (a crash in between leaves it
`signed`, and the restarted bridge broadcasts it again). Lines whose peg-outs
are all committed `broadcast` (or `failed`) can never be asked for again.

So the bridge remembers each append it made (its starting byte) until every
peg-out in it is committed, and stores with its writes the start of the
oldest such append (`read_from`), as a meta value whose revision is that
offset, so that it only moves forward. A start reads the spool from there:
every line that may matter, and never the million before it. The value is
safe in whatever transaction it lands: it never passes an append that is not
committed yet, including the one the value is written with.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from actors.storage.records import SPOOL_READ_FROM, MetaValue, PegoutRecord

if TYPE_CHECKING:
    from actors.bridge.broadcast import SpoolBroadcaster


class SpoolMarks:
    def __init__(self, read_from: int, end: int, pending: Iterable[str] = ()) -> None:
        """`read_from`: where this start read from; `end`: the spool's size; `pending`:
        the signed peg-outs whose txids were found after `read_from` (spooled by a run
        that crashed before committing them)."""
        self._appends: dict[int, set[str]] = {}  # start of an append -> uncommitted ids
        self._where: dict[str, int] = {}  # request id -> start of its append
        self._end = end
        self.appended(read_from, end, pending)

    def appended(self, start: int, end: int, request_ids: Iterable[str]) -> None:
        """An append from byte `start` to `end` carried these peg-outs."""
        self._end = max(self._end, end)
        for request_id in request_ids:
            self.committed(request_id)  # handed over again: its newest append counts
            self._appends.setdefault(start, set()).add(request_id)
            self._where[request_id] = start

    def committed(self, request_id: str) -> None:
        """The peg-out's `broadcast` (or `failed`) state is durable."""
        start = self._where.pop(request_id, None)
        if start is None:
            return
        ids = self._appends[start]
        ids.discard(request_id)
        if not ids:
            del self._appends[start]

    def read_from(self) -> int:
        """Where a start must read from now."""
        return min(self._appends, default=self._end)

    def __len__(self) -> int:
        return len(self._where)


def index_spool(spool: SpoolBroadcaster, read_from: int,
                signed: Iterable[PegoutRecord]) -> tuple[SpoolMarks, str]:
    """Read the spool from `read_from` on (raises `BroadcastError` on a malformed line):
    the marks to keep, and a line for the log. Only the tail can hold txids of peg-outs
    still `signed` (spooled, then the commit lost), not the whole history."""
    spool.index(read_from)
    known = spool.txids()
    pending = [record.request_id for record in signed if record.txid in known]
    summary = (f"spool {spool.path} read from byte {read_from} of {spool.offset}: "
               f"{len(known)} txids, {len(pending)} of them signed peg-outs not yet "
               "committed as broadcast")
    return SpoolMarks(read_from, spool.offset, pending), summary


def read_from_record(read_from: int) -> MetaValue:
    """The stored offset a start reads the spool from. It is its own revision: a write
    that arrives late never moves it back."""
    return MetaValue(SPOOL_READ_FROM, str(read_from), revision=read_from + 1)
