"""The BridgeActor's part for an operator's maintenance: draining (`DrainPegouts`,
`UndrainPegouts`, `GetDrainState`) and a reloaded config (`_Reconfigure`).

A mixin of `BridgeActor` (actor.py), like `settlement`; the decisions are pure
(`drain`, `workflow`). A drain takes effect the moment it arrives and is answered once
stored; an undrain takes effect and is answered once stored. So a new peg-out is never
accepted after a drain was asked for, nor before an undrain is durable: a crash in
between leaves the node drained, which an operator sees and can undo.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from actors.bridge import drain as draining
from actors.bridge.book import Book
from actors.bridge.broadcast import BroadcastError, make_broadcaster
from actors.bridge.broadcasting import Broadcasting
from actors.bridge.follower import Follower
from actors.bridge.outflow import OutflowWindow
from actors.bridge.situation import Rules
from actors.messages import DrainPegouts, DrainState, GetDrainState, UndrainPegouts
from actors.storage.records import MetaValue

if TYPE_CHECKING:
    from actors.owner import OwnerActor
    from nodeconfig import NodeConfig

    _Actor = OwnerActor
else:
    _Actor = object


class Maintenance(_Actor):
    # The BridgeActor's, for the type checker.
    book: Book
    rules: Rules
    outflow: OutflowWindow
    drain: draining.Drain | None
    broadcasting: Broadcasting | None
    follower: Follower | None
    _drain_revision: int

    def _load_drain(self, records: tuple[Any, ...]) -> None:
        for record in records:
            if isinstance(record, MetaValue) and record.key == draining.DRAINED:
                self._drain_revision = record.revision
                try:
                    self.drain = draining.decode(record.value)
                except ValueError as exc:
                    # Whether the operator meant it drained is unknown: stay on the safe side.
                    self.drain = draining.Drain(f"the stored drain state is unreadable: {exc}",
                                                time.time())
        if self.drain is not None:
            self.log.warning("drained since %s (%s): new peg-outs are refused until an "
                             "operator undrains the node", draining.utc(self.drain.since),
                             self.drain.reason or "no reason given")

    def _drain_state(self, refused: str | None = None) -> DrainState:
        current = self.drain
        return DrainState(drained=current is not None,
                          reason=current.reason if current else "",
                          since=current.since if current else None,
                          open_pegouts=len(self.book.pegouts), refused=refused)

    def receiveMsg_GetDrainState(self, message: GetDrainState, sender: Any) -> None:
        self.send(sender, self._drain_state())

    def receiveMsg_DrainPegouts(self, message: DrainPegouts, sender: Any) -> None:
        reason = getattr(message, "reason", "")
        problem = draining.reason_problem(reason)
        if problem is not None:
            self.send(sender, self._drain_state(refused=problem))
            return
        since = self.drain.since if self.drain is not None else time.time()
        self.drain = draining.Drain(reason, since)
        self.log.warning("drained by an operator (%s): new peg-outs are refused; %d accepted "
                         "ones go on", reason or "no reason given", len(self.book.pegouts))
        self._store_drain(self.drain.encode(), lambda: self.send(sender, self._drain_state()))

    def receiveMsg_UndrainPegouts(self, message: UndrainPegouts, sender: Any) -> None:
        undone = self.drain  # a `DrainPegouts` asked meanwhile puts a new one in its place

        def stored() -> None:
            # A drain asked after this undrain was stored after it too (a higher revision):
            # it stays in force, and the answer says so.
            if self.drain is not None and self.drain is undone:
                self.log.warning("undrained by an operator: new peg-outs are accepted again "
                                 "(drained since %s)", draining.utc(self.drain.since))
                self.drain = None
            self.send(sender, self._drain_state())
        self._store_drain("", stored)

    def _store_drain(self, value: str, then: Any) -> None:
        self._drain_revision += 1
        self.store.write([MetaValue(draining.DRAINED, value, self._drain_revision)], then=then)

    # -- a reloaded config ----------------------------------------------------------

    def on_reconfigure(self, config: NodeConfig, changed: tuple[str, ...]) -> None:
        """What applies at once (`nodeconfig.reload`): the spending policy and the outflow
        cap decide every peg-out from now on (accepted ones keep their decision); a new
        Bitcoin Core URL takes the next broadcast and the next look."""
        self.rules = Rules.of(config)
        self.outflow.cap_sat = config.bridge.outflow.max_sat
        if ("bridge.broadcaster.rpc_url" in changed and self.broadcasting is not None
                and config.bridge.broadcaster.kind == "bitcoin_rpc"):  # a spool has no URL
            try:
                broadcaster = make_broadcaster(config.bridge.broadcaster)
            except BroadcastError as exc:  # its credential variables are read again
                self.log.error("keeping the Bitcoin Core URL in use: %s", exc)
                return
            self.broadcasting.broadcaster = broadcaster
            self.follower = Follower(broadcaster, self.log)
