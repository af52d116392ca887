"""Handing signed peg-outs to the broadcaster: all of a turn's at once, or one by one when
the batch fails, and the workflow's decision on each outcome."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from actors.bridge import workflow
from actors.bridge.broadcast import Broadcaster, BroadcastError
from actors.bridge.effects import Effects
from actors.bridge.workflow import Situation
from actors.storage.records import PegoutRecord


def hand_over(broadcaster: Broadcaster, ready: Sequence[PegoutRecord], situation: Situation,
              log: logging.Logger) -> Effects:
    """Broadcast the signed `ready` peg-outs; the effects of what came of each."""
    if not ready:
        return ()
    if situation.halted:
        log.info("%d signed peg-outs wait for the emergency halt to be lifted", len(ready))
        return ()
    effects: Effects = ()
    try:
        broadcaster.broadcast_many([(r.signed_tx_hex or "", r.txid or "") for r in ready])
        done = list(ready)
    except BroadcastError:
        done = []
        for record in ready:
            try:
                broadcaster.broadcast(record.signed_tx_hex or "", record.txid or "")
                done.append(record)
            except BroadcastError as exc:
                effects += workflow.broadcast_failed(record, str(exc), exc.retryable,
                                                     situation).effects
    if done:
        # One line per batch at INFO; each peg-out's own line is at DEBUG (`observe`).
        log.info("broadcast %d peg-out%s: %s", len(done), "s" if len(done) > 1 else "",
                 ", ".join(f"{r.request_id} {r.txid}" for r in done[:3])
                 + (", …" if len(done) > 3 else ""))
    for record in done:
        effects += workflow.broadcast_taken(record, situation).effects
    return effects
