"""The BridgeActor's part once a peg-out is signed, and the outflow breaker: following
broadcast transactions, replacements taking over their originals, an operator's verdicts
(`ResolvePegout`, `ResetOutflowWindow`).

A mixin of `BridgeActor` (actor.py), kept apart so that neither part grows past reading
in one sitting; the decisions stay the pure workflow's (`following`). It uses the
actor's state and helpers, declared below for the type checker only.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from actors.bridge import following, metrics, workflow
from actors.bridge.book import Book, kept_states
from actors.bridge.effects import Effects, Supersede
from actors.bridge.follower import Follower
from actors.bridge.outflow import OutflowWindow
from actors.bridge.situation import Situation
from actors.messages import OutflowReset, ResetOutflowWindow, ResolvePegout
from actors.storage.protocol import _Load
from actors.storage.records import OUTFLOW_RESET_AT, MetaValue, OutflowEntry, PegoutRecord

if TYPE_CHECKING:
    from actors.owner import OwnerActor

    _Actor = OwnerActor
else:
    _Actor = object


class FollowDue:
    """Wakeup payload: look at the broadcast peg-outs' transactions in Bitcoin Core."""


class Settlement(_Actor):
    # The BridgeActor's, for the type checker.
    book: Book
    follower: Follower | None
    outflow: OutflowWindow
    _reset_revision: int
    _outflow_moved: bool

    if TYPE_CHECKING:
        def situation(self) -> Situation: ...

        def _carry_out(self, effects: Effects) -> None: ...

        def _with_record(self, request_id: object, client: Any,
                         decide: Callable[[PegoutRecord | None], workflow.Step], *,
                         read_back: bool) -> None: ...

        def _read(self, request_id: str, then: Callable[[PegoutRecord | None], None],
                  client: Any) -> None: ...

    def load_request(self) -> _Load:
        """The peg-outs memory holds, and the payouts still inside the outflow window."""
        return _Load(self.owner, pegout_states=kept_states(self._following()),
                     outflow_since=time.time() - self.outflow.window_s)

    def _following(self) -> bool:
        return self.follower is not None and self.follower.enabled

    def _load_settlement(self, records: tuple[Any, ...]) -> None:
        """The outflow window as storage summed it, a stored reset, and the first look at
        broadcast transactions."""
        for record in records:
            if isinstance(record, OutflowEntry):
                self.outflow.add(record.at, record.payout_sat)
            elif isinstance(record, MetaValue) and record.key == OUTFLOW_RESET_AT:
                self.outflow.reset(float(record.value))
                self._reset_revision = record.revision
        metrics.OUTFLOW_USED.set(self.outflow.used(time.time()))
        if self._following():
            # The first look comes soon: it asks Core for its txindex, and the log says at
            # once whether broadcast peg-outs will be followed.
            self.wakeupAfter(min(1.0, self.config.bridge.follow_interval_s),
                             payload=FollowDue())

    def _count_outflow(self, at: float, sat: int) -> None:
        if sat >= 0:
            self.outflow.add(at, sat)
        else:
            self.outflow.take_back(at, -sat)
        self._outflow_moved = True  # the gauge is set once per turn (`_settlement_turn`)

    def _settlement_turn(self) -> None:
        if self._outflow_moved:
            self._outflow_moved = False
            metrics.OUTFLOW_USED.set(self.outflow.used(time.time()))

    def _follow(self) -> None:
        assert self.follower is not None
        # The next look is armed first: nothing that goes wrong in this one may end following.
        self.wakeupAfter(self.config.bridge.follow_interval_s, payload=FollowDue())
        situation = self.situation()
        self._carry_out(self.follower.tick(list(self.book.pegouts.values()), situation))
        metrics.OLDEST_UNCONFIRMED.set(
            self.follower.oldest_unconfirmed(self.book.pegouts.values(), situation.now_s))

    def _rebroadcast(self, request_id: str) -> None:
        followed = self.book.pegouts.get(request_id)
        if followed is not None and self.follower is not None:
            self._carry_out(self.follower.rebroadcast(followed, self.situation()))

    def _supersede(self, effect: Supersede) -> None:
        def decide(original: PegoutRecord | None) -> None:
            self._carry_out(following.superseded(original, effect.by, effect.outpoints,
                                                 self.situation()).effects)
        self._read(effect.original, decide, None)

    def receiveMsg_ResolvePegout(self, message: ResolvePegout, sender: Any) -> None:
        self._with_record(message.request_id, sender, lambda record: following.resolve(
            record, message.request_id, message.outcome, sender, self.situation()),
            read_back=True)

    def receiveMsg_ResetOutflowWindow(self, message: ResetOutflowWindow, sender: Any) -> None:
        now = time.time()
        used = self.outflow.used(now)
        reason = message.reason if isinstance(message.reason, str) else repr(message.reason)

        def stored() -> None:
            # Lifted once it is durable, so that a restart cannot bring back what was
            # forgiven, and the operator's answer means what it says.
            self.outflow.reset(now)
            metrics.OUTFLOW_USED.set(self.outflow.used(time.time()))
            self.log.warning("outflow window reset by an operator (%s): %d sat paid out in "
                             "the last %.0f s no longer count against the %d sat cap",
                             reason or "no reason given", used, self.outflow.window_s,
                             self.outflow.cap_sat)
            self.send(sender, OutflowReset(now, used))
        self._reset_revision += 1
        self.store.write([MetaValue(OUTFLOW_RESET_AT, repr(now), self._reset_revision)],
                         then=stored)
