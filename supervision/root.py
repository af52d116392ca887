"""The root supervisor: the top of the tree and the node's front desk.

Besides supervising `storage_supervisor` and `system_supervisor`, it holds the
node-wide view that the supervisors below report to it: it answers
`NodeStatus` (with the StreamActor's `ConnectionStatus`, asked on the spot)
and `Lookup`, and after every change of an address it sends the new directory
of actor addresses down the tree (`_Peers`). Its globalName is `alys.root`; tools
find it with `actors.front_desk.RootProbe`.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from thespian.actors import WakeupMessage

from actors.lifecycle import _Peers, _Reconfigure
from actors.messages import (
    ActorInfo,
    ActorRef,
    ConfigReloaded,
    ConnectionStatus,
    GetConnectionStatus,
    Lookup,
    NodeStatus,
    NodeStatusReport,
    ReloadConfig,
)
from nodeconfig import ConfigError, load_config
from nodeconfig.reload import plan_reload
from supervision.children import ActorState
from supervision.protocol import _ActorRecord, _ConfigChanged, _StatusTimeout
from supervision.supervisor import Supervisor

STREAM_STATUS_TIMEOUT_S = 1.0


@dataclass
class _PendingStatus:
    requester: Any
    actors: tuple[ActorInfo, ...]


def actor_info(record: _ActorRecord, now: float) -> ActorInfo:
    running = record.state == ActorState.RUNNING.value and record.started_at is not None
    return ActorInfo(
        name=record.name,
        pid=record.pid,
        state=record.state,
        restarts=record.restarts,
        uptime_s=round(now - record.started_at, 3) if running and record.started_at else 0.0,
        supervisor=record.supervisor,
    )


class RootSupervisor(Supervisor):
    name = "root"

    def __init__(self) -> None:
        super().__init__()
        self.directory: dict[str, Any] = {}
        self.directory_version = 0
        self.pending_status: dict[int, _PendingStatus] = {}
        self.next_query_id = 0

    def _tree_changed(self) -> None:
        # The root has no supervising actor to report to: it re-wires instead.
        directory = {r.name: r.address for r in self.records() if r.address is not None}
        directory[self.name] = self.myAddress
        if directory == self.directory:
            return
        stream_moved = directory.get("stream") != self.directory.get("stream")
        self.directory = directory
        self.directory_version += 1
        self.receiveMsg__Peers(_Peers(tuple(sorted(directory.items())), self.directory_version),
                               self.myAddress)
        if stream_moved and self.pending_status and "stream" in directory:
            # A status query went to a stream that has since been replaced.
            self.send(directory["stream"], GetConnectionStatus())

    def own_record(self) -> _ActorRecord:
        return _ActorRecord(
            name=self.name,
            pid=os.getpid(),
            state=ActorState.RUNNING.value if not self.exiting else ActorState.STOPPED.value,
            restarts=self.restarts,
            started_at=self.started_at,
            supervisor="launcher",
            address=self.myAddress,
        )

    # -- node-wide queries ----------------------------------------------------

    def receiveMsg_NodeStatus(self, message: NodeStatus, sender: Any) -> None:
        now = time.time()
        records = (self.own_record(), *self.records()) if self.config else ()
        actors = tuple(actor_info(r, now) for r in records)
        stream = self.directory.get("stream")
        if stream is None:
            self.send(sender, self._report(actors, None))
            return
        self.next_query_id += 1
        self.pending_status[self.next_query_id] = _PendingStatus(sender, actors)
        self.send(stream, GetConnectionStatus())
        self.wakeupAfter(STREAM_STATUS_TIMEOUT_S, payload=_StatusTimeout(self.next_query_id))

    def receiveMsg_ConnectionStatus(self, message: ConnectionStatus, sender: Any) -> None:
        # Statuses are not correlated: the newest answers every query waiting for one.
        for pending in self.pending_status.values():
            self.send(pending.requester, self._report(pending.actors, message))
        self.pending_status.clear()

    def receiveMsg_WakeupMessage(self, message: WakeupMessage, sender: Any) -> None:
        if isinstance(message.payload, _StatusTimeout):
            pending = self.pending_status.pop(message.payload.query_id, None)
            if pending is not None:
                self.log.warning("stream did not report its status within %.1fs",
                                 STREAM_STATUS_TIMEOUT_S)
                self.send(pending.requester, self._report(pending.actors, None))
            return
        super().receiveMsg_WakeupMessage(message, sender)

    def receiveMsg_Lookup(self, message: Lookup, sender: Any) -> None:
        self.send(sender, ActorRef(message.name, self.directory.get(message.name)))

    # -- a reloaded config ------------------------------------------------------

    def receiveMsg_ReloadConfig(self, message: ReloadConfig, sender: Any) -> None:
        if self.started_at is None:
            return  # not started: there is no file to read again yet
        self.send(sender, self._reload())

    def _reload(self) -> ConfigReloaded:
        """Read the file again and apply it down the tree, all or nothing (see
        `nodeconfig.reload`); the launcher hears of it to re-create a root with it."""
        source = self.config.source
        try:
            reloaded = load_config(source)
        except ConfigError as exc:
            refused = f"the file is invalid, nothing changed: {exc}"
            self.log.error("config reload refused: %s", refused)
            return ConfigReloaded(source, refused=refused)
        plan = plan_reload(self.config, reloaded)
        if plan.refusal is not None:
            self.log.warning("config reload of %s refused: %s", source, plan.refusal)
            return ConfigReloaded(source, restart_needed=plan.restart_needed,
                                  refused=plan.refusal)
        # Through the handler every actor runs: the root applies it, then its children.
        self.receiveMsg__Reconfigure(_Reconfigure(reloaded, plan.changed), self.myAddress)
        if self.parent_address is not None:
            self.send(self.parent_address, _ConfigChanged(reloaded, plan.changed))
        self.log.info("config reloaded from %s: %s; credential files re-read", source,
                      ", ".join(plan.changed) or "no key changed")
        return ConfigReloaded(source, applied=plan.changed)

    def _report(self, actors: tuple[ActorInfo, ...], stream: ConnectionStatus | None
                ) -> NodeStatusReport:
        node_id = self.config.node.id if self.config else ""
        return NodeStatusReport(node_id=node_id, actors=actors, stream=stream)
