"""The bridge's side of broadcasting: signed peg-outs gathered during a turn and handed to
the broadcaster together after it, and, for a spool, where the next start reads it from.

The decisions on each outcome stay the workflow's (`handover.hand_over`); this keeps
what a turn gathers, the retry wakeup's flag, and the spool marks (`spoolmarks`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from actors.bridge import following
from actors.bridge.book import Book
from actors.bridge.broadcast import Broadcaster, SpoolBroadcaster
from actors.bridge.effects import Effects
from actors.bridge.handover import hand_over
from actors.bridge.observe import pegout_key
from actors.bridge.situation import Situation
from actors.bridge.spoolmarks import SpoolMarks, index_spool, read_from_record
from actors.messages import PegoutState
from actors.storage.records import MetaValue, PegoutRecord
from runtime import tracing


class Broadcasting:
    def __init__(self, broadcaster: Broadcaster, log: logging.Logger) -> None:
        self.broadcaster = broadcaster
        self._log = log
        self._queued: list[str] = []
        self.retry_armed = False
        self.marks: SpoolMarks | None = None  # spool broadcasters only
        self._read_from_stored = -1

    @property
    def spool(self) -> SpoolBroadcaster | None:
        broadcaster = self.broadcaster
        return broadcaster if isinstance(broadcaster, SpoolBroadcaster) else None

    def index(self, read_from: int, signed: Iterable[PegoutRecord]) -> None:
        """Read a spool from the stored offset on (raises `BroadcastError` on a malformed
        line); nothing for other broadcasters."""
        if self.spool is None:
            return
        self.marks, summary = index_spool(self.spool, read_from, signed)
        self._read_from_stored = read_from
        self._log.info("%s", summary)

    def queue(self, request_ids: Iterable[str]) -> None:
        self._queued.extend(request_ids)

    def __bool__(self) -> bool:
        return bool(self._queued)

    def turn(self, book: Book, situation: Situation) -> tuple[Effects, MetaValue | None]:
        """Hand this turn's signed peg-outs over: the workflow's effects, and the spool
        offset to store with this turn's writes (one small row in the same transaction as
        the broadcast states: no round trip), if it moved."""
        ready = following.broadcastable([record for rid in self._queued
                                        if (record := book.pegouts.get(rid)) is not None])
        self._queued = []
        spool = self.spool
        start = spool.offset if spool is not None else 0
        with tracing.spans("bridge.broadcast", (tracing.traceparent_of(pegout_key(r.request_id))
                                                for r in ready) if tracing.active else (),
                           peg_outs=len(ready)):
            effects = hand_over(self.broadcaster, ready, situation, self._log)
        if spool is not None and self.marks is not None and spool.offset != start:
            self.marks.appended(start, spool.offset, (r.request_id for r in ready))
        return effects, self._read_from_to_store()

    def committed(self, record: PegoutRecord) -> None:
        """A peg-out's state is durable: past `signed`, its append no longer needs reading."""
        if self.marks is not None and record.state != PegoutState.SIGNED.value:
            self.marks.committed(record.request_id)

    def _read_from_to_store(self) -> MetaValue | None:
        if self.marks is None:
            return None
        read_from = self.marks.read_from()
        if read_from == self._read_from_stored:
            return None
        self._read_from_stored = read_from
        return read_from_record(read_from)
