"""A supervisor actor: starts its children in order, watches them, applies policy.

Every supervisor of the tree is this class configured by its `_Start`: the
child specs it owns and the node's config. It sees a child's death as
Thespian's `ChildActorExited`, asks `policy.decide` what to do, logs one
supervision line per decision, and reports the records of every actor below it
to its parent (`_SubtreeChanged`) so that the root can answer `NodeStatus` and
re-wire the tree with `_Peers`.
"""

from __future__ import annotations

import importlib
import os
import random
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from thespian.actors import ActorExitRequest, ChildActorExited, WakeupMessage

from actors.base import NodeActor
from actors.messages import (
    _ActorRecord,
    _ChildSpec,
    _GivingUp,
    _Peers,
    _RestartDue,
    _Start,
    _Started,
    _SubtreeChanged,
)
from supervision import metrics
from supervision.policy import Decision, ExitReason, decide, restart_delay
from supervision.processes import is_alive, kill_now


class ActorState(StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    RESTARTING = "restarting"
    STOPPED = "stopped"
    FAILED = "failed"


@dataclass
class _PendingRestart:
    """What the `restart` log line needs once the new process has answered."""

    reason: ExitReason
    attempt: int
    old_pid: int | None


@dataclass
class _Child:
    spec: _ChildSpec
    address: Any = None
    pid: int | None = None
    state: ActorState = ActorState.STARTING
    restarts: int = 0
    started_at: float | None = None
    history: tuple[float, ...] = ()
    exit_reason: ExitReason | None = None  # what the child told us before it died
    pending: _PendingRestart | None = None
    generation: int = 0  # bumps on every (re)start, so stale restart wakeups are ignored
    subtree: tuple[_ActorRecord, ...] = ()
    subtree_seq: int = 0  # of the newest `_SubtreeChanged` applied

    def record(self, supervisor: str) -> _ActorRecord:
        return _ActorRecord(
            name=self.spec.name,
            pid=self.pid,
            state=self.state.value,
            restarts=self.restarts,
            started_at=self.started_at,
            supervisor=supervisor,
            address=self.address if self.state is ActorState.RUNNING else None,
        )


def supervision_line(
    event: str,
    *,
    supervisor: str,
    child: str,
    reason: str,
    decision: str,
    attempt: int,
    old_pid: int | None,
    new_pid: int | None,
) -> str:
    """The one-line, key=value record of a supervision event (CONTRACTS.md)."""
    return (
        f"supervision event={event} supervisor={supervisor} child={child} reason={reason} "
        f"decision={decision} attempt={attempt} old_pid={old_pid or '-'} new_pid={new_pid or '-'}"
    )


def import_actor_class(path: str) -> type:
    module_name, _, class_name = path.partition(":")
    return getattr(importlib.import_module(module_name), class_name)  # type: ignore[no-any-return]


class Supervisor(NodeActor):
    name = "supervisor"

    def __init__(self) -> None:
        super().__init__()
        self.children: dict[str, _Child] = {}
        self.parent_address: Any = None
        self.stopping = False
        self.report_seq = 0
        self.clock = time.monotonic
        self.rng = random.Random()

    # -- start ----------------------------------------------------------------

    def on_start(self, start: _Start) -> None:
        for spec in start.children:
            child = _Child(spec)
            self.children[spec.name] = child
            self._spawn(child)

    def receiveMsg__Start(self, message: _Start, sender: Any) -> None:
        self.parent_address = sender
        super().receiveMsg__Start(message, sender)

    def _spawn(self, child: _Child) -> None:
        child.generation += 1
        child.exit_reason = None
        child.address = self.createActor(import_actor_class(child.spec.actor_class))
        child.state = ActorState.RESTARTING if child.restarts else ActorState.STARTING
        self.send(
            child.address,
            _Start(
                name=child.spec.name,
                config=self.config,
                supervisor=self.name,
                supervisor_pid=os.getpid(),
                children=child.spec.children,
                generation=child.generation,
            ),
        )

    def receiveMsg__Started(self, message: _Started, sender: Any) -> None:
        # Matched by name and incarnation, not by address: right after
        # createActor, Thespian may still hold a provisional address for the
        # child that does not compare equal to the one it answers from.
        child = self.children.get(message.name)
        if child is None or child.generation != message.generation:
            return
        child.address = sender
        child.pid = message.pid
        child.state = ActorState.RUNNING
        child.started_at = time.time()
        if child.pending is not None:
            metrics.ACTOR_RESTARTS.labels(actor=child.spec.name).inc()
            self.log.info(
                supervision_line(
                    "restart",
                    supervisor=self.name,
                    child=child.spec.name,
                    reason=child.pending.reason.value,
                    decision=Decision.RESTART.value,
                    attempt=child.pending.attempt,
                    old_pid=child.pending.old_pid,
                    new_pid=message.pid,
                )
            )
            child.pending = None
        self._tree_changed()

    # -- failures ---------------------------------------------------------------

    def receiveMsg_ChildActorExited(self, message: ChildActorExited, sender: Any) -> None:
        child = self._child_at(message.childAddress)
        if child is None or self.stopping:
            return
        reason = child.exit_reason or ExitReason.KILLED
        old_pid = child.pid
        self._bury(child)
        verdict = decide(
            restart=self.config.supervision.child(child.spec.name).restart,
            reason=reason,
            flags=self.config.supervision.flags_for(self.name),
            history=child.history,
            now=self.clock(),
        )
        child.history = verdict.history
        metrics.SUPERVISOR_DECISIONS.labels(
            supervisor=self.name, decision=verdict.decision.value
        ).inc()
        self.log.warning(
            supervision_line(
                "child_exited",
                supervisor=self.name,
                child=child.spec.name,
                reason=reason.value,
                decision=verdict.decision.value,
                attempt=verdict.attempt,
                old_pid=old_pid,
                new_pid=None,
            )
        )
        if verdict.decision is Decision.RESTART:
            child.restarts += 1
            child.state = ActorState.RESTARTING
            child.pending = _PendingRestart(reason, verdict.attempt, old_pid)
            delay = restart_delay(verdict.attempt, self.config.supervision.backoff, self.rng)
            if delay > 0:
                child.generation += 1
                self.wakeupAfter(delay, payload=_RestartDue(child.spec.name, child.generation))
            else:
                self._spawn(child)
        elif verdict.decision is Decision.STOP:
            child.state = ActorState.STOPPED
        else:
            child.state = ActorState.FAILED
            self._give_up(child, verdict.attempt)
        self._tree_changed()

    def receiveMsg__GivingUp(self, message: _GivingUp, sender: Any) -> None:
        child = self.children.get(message.name)
        if child is not None:
            child.exit_reason = ExitReason.ESCALATED

    def receiveMsg_WakeupMessage(self, message: WakeupMessage, sender: Any) -> None:
        due = message.payload
        if isinstance(due, _RestartDue):
            child = self.children.get(due.name)
            if child and child.generation == due.generation and not self.stopping:
                self._spawn(child)

    def _bury(self, child: _Child) -> None:
        """Forget a dead child's process, and end any process left below it.

        The kernel kills a child's own children when it dies (`die_with_parent`);
        killing the recorded pids as well makes that certain before a new
        subtree starts, so there is never a second copy of an actor.
        """
        dead = [child.pid] if child.pid else []
        my_session = os.getsid(0)
        for record in child.subtree:
            if record.pid and is_alive(record.pid) and os.getsid(record.pid) == my_session:
                kill_now(record.pid)
            if record.pid:
                dead.append(record.pid)
        for pid in dead:
            metrics.mark_dead(pid)
        child.address = None
        child.pid = None
        child.started_at = None
        child.subtree = ()
        child.subtree_seq = 0  # the next incarnation numbers its reports from 1 again

    def _give_up(self, failed: _Child, attempt: int) -> None:
        """Intensity exceeded: stop every child, tell the parent, and exit."""
        metrics.SUPERVISOR_INTENSITY_EXCEEDED.labels(supervisor=self.name).inc()
        self.log.error(
            supervision_line(
                "intensity_exceeded",
                supervisor=self.name,
                child=failed.spec.name,
                reason=ExitReason.ESCALATED.value,
                decision=Decision.ESCALATE.value,
                attempt=attempt,
                old_pid=None,
                new_pid=None,
            )
        )
        self.stopping = True
        if self.parent_address is not None:
            self.send(self.parent_address, _GivingUp(self.name))
        # Exiting stops our children first (Thespian sends them exit requests).
        self.send(self.myAddress, ActorExitRequest())

    # -- the tree's view ----------------------------------------------------------

    def receiveMsg__SubtreeChanged(self, message: _SubtreeChanged, sender: Any) -> None:
        child = self.children.get(message.supervisor)
        if child is None or child.address != sender or message.seq <= child.subtree_seq:
            return  # from a dead incarnation, or overtaken by a newer report
        child.subtree_seq = message.seq
        child.subtree = message.records
        self._tree_changed()

    def receiveMsg__Peers(self, message: _Peers, sender: Any) -> None:
        before = self.peers_version
        super().receiveMsg__Peers(message, sender)
        if message.version and self.peers_version == before:
            return  # an old directory: ours is newer, and so are our children's
        for child in self.children.values():
            if child.address is not None:
                self.send(child.address, message)

    def receiveMsg_ActorExitRequest(self, message: ActorExitRequest, sender: Any) -> None:
        self.stopping = True
        super().receiveMsg_ActorExitRequest(message, sender)

    def records(self) -> tuple[_ActorRecord, ...]:
        """Every actor below this supervisor, in start order, depth first."""
        out: list[_ActorRecord] = []
        for child in self.children.values():
            out.append(child.record(self.name))
            out.extend(child.subtree)
        return tuple(out)

    def _tree_changed(self) -> None:
        """Something below us changed: tell the parent (the root re-wires instead)."""
        self.report_seq += 1
        self.send(self.parent_address,
                  _SubtreeChanged(self.name, self.records(), self.report_seq))

    def _child_at(self, address: Any) -> _Child | None:
        for child in self.children.values():
            if child.address is not None and child.address == address:
                return child
        return None
