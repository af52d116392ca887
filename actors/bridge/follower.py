"""The bridge's side of following broadcast transactions through Bitcoin Core (`bitcoin_rpc`
only): every `bridge.follow_interval_s`, one batched look at every broadcast peg-out's
txid, and the workflow's decision on each (`following.followed`).

Finding a confirmed transaction by its txid needs Core's `-txindex`: without it Core
knows a transaction only while it is in the mempool or has an unspent output, so a
payment whose outputs were spent would look gone. The follower asks `getindexinfo` first,
and without a synced txindex it follows nothing: broadcast peg-outs stay `broadcast`, and
the log says so. The "inputs missing or spent" check at broadcast (`handover.refused`)
works either way, parking what it cannot prove in `needs_review`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from actors.bridge import following
from actors.bridge.broadcast import Broadcaster, BroadcastError, followable
from actors.bridge.effects import Effects
from actors.bridge.handover import refused
from actors.bridge.situation import Situation
from actors.messages import PegoutState
from actors.storage.records import PegoutRecord

# getrawtransaction calls per JSON-RPC batch: one HTTP round trip each, short enough that
# a slow Core does not hold the bridge's turn for long.
BATCH = 100


class Follower:
    def __init__(self, broadcaster: Broadcaster, log: logging.Logger) -> None:
        self.broadcaster = broadcaster
        self.core = followable(broadcaster)  # None: a broadcaster nothing can be asked of
        self._log = log
        self.txindex: bool | None = None  # None: not known yet (Core not asked, or down)
        self._said = ""  # the last "not yet" line, said once until something changes

    @property
    def enabled(self) -> bool:
        return self.core is not None

    def check_index(self) -> bool:
        """Ask Core whether it has a synced txindex, once it answers; True when it does."""
        if self.txindex is not None or self.core is None:
            return bool(self.txindex)
        try:
            self.txindex = self.core.txindex()
        except BroadcastError as exc:
            self._once(f"following broadcast peg-outs: cannot ask Bitcoin Core for its "
                       f"indexes yet ({exc}); asked again at each look")
            return False
        if self.txindex is None:
            self._once("following broadcast peg-outs: Bitcoin Core's txindex is not ready "
                       "yet (syncing, or Core is starting); asked again at each look")
            return False
        if self.txindex:
            self._log.info("following broadcast peg-outs through Bitcoin Core (txindex "
                           "synced) until they are confirmed")
        else:
            self._log.warning(
                "Bitcoin Core has no synced -txindex: broadcast peg-outs are NOT followed "
                "(they stay broadcast: no confirmed state, no rebroadcast). A peg-out whose "
                "broadcast finds its inputs spent is still checked, and parked in "
                "needs_review when that check cannot prove it paid. Start Core with "
                "-txindex=1 to follow them.")
        return bool(self.txindex)

    def _once(self, line: str) -> None:
        if line != self._said:
            self._said = line
            self._log.warning("%s", line)

    def tick(self, records: Iterable[PegoutRecord], situation: Situation) -> Effects:
        """Look at every broadcast peg-out's transaction; the workflow's effects."""
        if self.core is None or not self.check_index():
            return ()
        broadcast = [r for r in records if r.state == PegoutState.BROADCAST.value and r.txid]
        effects: Effects = ()
        for start in range(0, len(broadcast), BATCH):
            batch = broadcast[start:start + BATCH]
            try:
                seen = self.core.follow([(r.txid or "", r.signed_tx_hex or "")
                                         for r in batch])
            except ValueError as exc:  # a record the look-up refuses: each on its own
                seen = self._one_by_one(batch, exc)
            except BroadcastError as exc:
                self._log.warning("following %d broadcast peg-outs: Bitcoin Core could not "
                                  "be asked: %s", len(broadcast), exc)
                return effects
            for record in batch:
                answer = seen.get(record.txid or "")
                if answer is not None:
                    effects += following.followed(record, answer, situation).effects
        return effects

    def _one_by_one(self, batch: list[PegoutRecord], error: ValueError) -> dict[str, Any]:
        self._log.warning("following: a batch was refused (%s); looking at its %d peg-outs "
                          "one by one", error, len(batch))
        assert self.core is not None
        seen: dict[str, Any] = {}
        for record in batch:
            try:
                seen.update(self.core.follow([(record.txid or "", record.signed_tx_hex or "")]))
            except ValueError as exc:
                self._log.error("following peg-out %s: its transaction cannot be looked up: "
                                "%s", record.request_id, exc)
        return seen

    def rebroadcast(self, record: PegoutRecord, situation: Situation) -> Effects:
        """Hand a transaction that left the mempool to Core again."""
        try:
            self.broadcaster.broadcast(record.signed_tx_hex or "", record.txid or "")
        except BroadcastError as exc:
            if getattr(exc, "inputs_spent", False):
                return refused(self.broadcaster, record, exc, situation, self._log)
            self._log.warning("peg-out %s: rebroadcast of %s failed: %s (tried again at the "
                              "next look)", record.request_id, record.txid, exc)
            return ()
        self._log.info("peg-out %s: %s had left the mempool unconfirmed; handed to Bitcoin "
                       "Core again", record.request_id, record.txid)
        return ()

    @staticmethod
    def oldest_unconfirmed(records: Iterable[PegoutRecord], now_s: float) -> float:
        """Seconds since the oldest broadcast peg-out in memory was broadcast (0: none)."""
        times = [r.broadcast_at or r.updated_at for r in records
                 if r.state == PegoutState.BROADCAST.value]
        return max(0.0, now_s - min(times)) if times else 0.0
