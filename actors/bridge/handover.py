"""Handing signed peg-outs to the broadcaster: all of a turn's at once, or one by one when
the batch fails, and the workflow's decision on each outcome."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from actors.bridge import following
from actors.bridge.broadcast import Broadcaster, BroadcastError, BroadcastRejected, followable
from actors.bridge.effects import Effects
from actors.bridge.rpc import Seen
from actors.bridge.situation import Situation
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
                effects += refused(broadcaster, record, exc, situation, log)
    if done:
        # One line per batch at INFO; each peg-out's own line is at DEBUG (`observe`).
        log.info("broadcast %d peg-out%s: %s", len(done), "s" if len(done) > 1 else "",
                 ", ".join(f"{r.request_id} {r.txid}" for r in done[:3])
                 + (", …" if len(done) > 3 else ""))
    for record in done:
        effects += following.broadcast_taken(record, situation).effects
    return effects


def refused(broadcaster: Broadcaster, record: PegoutRecord, error: BroadcastError,
            situation: Situation, log: logging.Logger) -> Effects:
    """The broadcaster did not take `record`'s transaction. When the answer is that its
    inputs are missing or spent, the transaction may be what spent them: Bitcoin Core is
    asked about its own txid before anything is decided."""
    seen: Seen | None = None
    if isinstance(error, BroadcastRejected) and error.inputs_spent:
        core = followable(broadcaster)
        if core is not None:
            try:
                seen = core.find(record.txid or "", record.signed_tx_hex or "")
            except BroadcastError as exc:
                # Core could not be asked: nothing is decided; the peg-out is tried again.
                log.warning("peg-out %s: inputs spent, and its own txid could not be looked "
                            "up: %s", record.request_id, exc)
                return following.broadcast_failed(record, f"{error}; lookup: {exc}", True,
                                                  situation).effects
        else:
            seen = Seen(record.txid or "", "unknown")
    return following.broadcast_failed(record, str(error), error.retryable, situation,
                                      seen).effects
