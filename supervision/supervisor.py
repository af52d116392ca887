"""A supervisor actor: starts its children in order, watches them, applies OTP's policies.

Every supervisor of the tree is this class configured by its `_Start`: the
child specs it owns and the node's config. It sees

- a child's death as Thespian's `ChildActorExited` (the reason: `killed`
  unless the child said otherwise first, or we stopped it);
- a hung child as a health `Ping` unanswered for `ping_timeout_s`: it kills
  the process by pid and handles it as dead;

asks `policy.decide` what to do (restart, stop, escalate), logs one
supervision line per decision, and has its `RestartPlanner` (restarts.py)
carry a restart out: the children of the strategy's scope are stopped in
reverse start order (each within its `shutdown_s`, then killed), then started
again in start order after the backoff delay. It reports the records of every
actor below it to its parent (`_SubtreeChanged`), so that the root can answer
`NodeStatus` and re-wire the tree with `_Peers`.
"""

from __future__ import annotations

import importlib
import os
import random
import time

from thespian.actors import ActorAddress, ActorExitRequest, ChildActorExited, WakeupMessage

from actors.base import NodeActor
from actors.lifecycle import (
    _FatalError,
    _MessageFailed,
    _Peers,
    _Reconfigure,
    _Shutdown,
    _Start,
    _Started,
)
from actors.messages import Ping, Pong
from nodeconfig import NodeConfig
from runtime import metrics
from runtime.processes import is_alive, kill_now
from supervision.children import ActorState, Child
from supervision.policy import Decision, ExitReason, decide
from supervision.protocol import (
    _ActorRecord,
    _GivingUp,
    _HealthTick,
    _PlanStartDue,
    _StopDeadline,
    _SubtreeChanged,
)
from supervision.restarts import RestartPlanner
from supervision.spawning import on_fresh_stack_chunk


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
    """The one-line, key=value record of a supervision event (docs/architecture.md,
    "Supervision")."""
    return (
        f"supervision event={event} supervisor={supervisor} child={child} reason={reason} "
        f"decision={decision} attempt={attempt} old_pid={old_pid or '-'} new_pid={new_pid or '-'}"
    )


def import_actor_class(path: str) -> type[NodeActor]:
    """`module:Class` of a child spec (supervision/tree.py names only NodeActor classes)."""
    module_name, _, class_name = path.partition(":")
    actor_class: type[NodeActor] = getattr(importlib.import_module(module_name), class_name)
    return actor_class


class Supervisor(NodeActor):
    name = "supervisor"

    def __init__(self) -> None:
        super().__init__()
        self.children: dict[str, Child] = {}
        self.parent_address: ActorAddress | None = None
        self.exiting = False  # on our way out: nothing is restarted any more
        self.shutting_down = False  # a graceful stop of our children is in progress
        self.shutdown_stopping: str | None = None
        self.report_seq = 0
        self.history: tuple[float, ...] = ()  # restart times within the intensity period
        self.clock = time.monotonic
        self.rng = random.Random()
        self.planner = RestartPlanner(self, self.children, self.rng)

    # -- start ----------------------------------------------------------------

    def on_start(self, start: _Start) -> None:
        metrics.declare_supervisor(self.name, [decision.value for decision in Decision])
        for spec in start.children:
            child = Child(spec)
            self.children[spec.name] = child
            self.spawn(child)
        self.wakeupAfter(self.config.supervision.health.ping_interval_s, payload=_HealthTick())

    def receiveMsg__Start(self, message: _Start, sender: ActorAddress) -> None:
        self.parent_address = sender
        super().receiveMsg__Start(message, sender)

    def on_reconfigure(self, config: NodeConfig, changed: tuple[str, ...]) -> None:
        # Down the tree; a child restarted from now on is started with the new config.
        for child in self.children.values():
            if child.address is not None:
                self.send(child.address, _Reconfigure(config, changed))

    def spawn(self, child: Child) -> None:
        child.generation += 1
        child.exit_reason = None
        # Forked from the start of a fresh stack chunk: see supervision/spawning.py.
        child.address = on_fresh_stack_chunk(
            self.createActor, import_actor_class(child.spec.actor_class))
        child.state = ActorState.RESTARTING if child.restarts else ActorState.STARTING
        self.send(child.address, _Start(
            name=child.name, config=self.config, supervisor=self.name,
            supervisor_pid=os.getpid(), children=child.spec.children,
            generation=child.generation, restarts=child.restarts))

    def receiveMsg__Started(self, message: _Started, sender: ActorAddress) -> None:
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
            metrics.ACTOR_RESTARTS.labels(actor=child.name).inc()
            self.log.info(supervision_line(
                "restart", supervisor=self.name, child=child.name,
                reason=child.pending.reason.value, decision=Decision.RESTART.value,
                attempt=child.pending.attempt, old_pid=child.pending.old_pid,
                new_pid=message.pid))
            child.pending = None
        self._tree_changed()

    # -- failures -------------------------------------------------------------------

    def receiveMsg_ChildActorExited(self, message: ChildActorExited, sender: ActorAddress) -> None:
        child = self._child_at(message.childAddress)
        if child is None:
            return
        if self.exiting or self.shutting_down:
            self._bury(child)
            child.state = ActorState.STOPPED
            if child.name == self.shutdown_stopping:
                self.shutdown_stopping = None
            if self.shutting_down:
                self._shutdown_next()
            self._tree_changed()
            return
        if self.planner.stops(child):
            # stopped for a restart (or died while waiting to be): the plan goes on
            self._bury(child)
            self.planner.stopped(child)
            self._tree_changed()
            return
        self._child_failed(child)
        self._tree_changed()

    def _child_failed(self, child: Child) -> None:
        reason = child.exit_reason or ExitReason.KILLED
        old_pid = child.pid
        self._bury(child)
        flags = self.config.supervision.flags_for(self.name)
        now = self.clock()
        verdict = decide(restart=self.config.supervision.child(child.name).restart,
                         reason=reason, flags=flags, history=self.history, now=now)
        self.history = verdict.history
        metrics.SUPERVISOR_DECISIONS.labels(supervisor=self.name,
                                            decision=verdict.decision.value).inc()
        event = "child_hung" if reason is ExitReason.HUNG else "child_exited"
        self.log.warning(supervision_line(
            event, supervisor=self.name, child=child.name, reason=reason.value,
            decision=verdict.decision.value, attempt=verdict.attempt, old_pid=old_pid,
            new_pid=None))
        if verdict.decision is Decision.RESTART:
            self.planner.begin(child, reason, verdict.attempt, old_pid, strategy=flags.strategy,
                               backoff=self.config.supervision.backoff, history=self.history,
                               now=now)
        elif verdict.decision is Decision.STOP:
            child.state = ActorState.STOPPED
        else:
            child.state = ActorState.FAILED
            self._give_up(child, verdict.attempt)

    def ask_to_stop(self, child: Child) -> None:
        assert child.address is not None  # only a live child is asked to stop
        child.exit_reason = ExitReason.SHUTDOWN
        self.send(child.address, _Shutdown())
        shutdown_s = self.config.supervision.child(child.name).shutdown_s
        self.wakeupAfter(shutdown_s, payload=_StopDeadline(child.name, child.generation))

    def _bury(self, child: Child) -> None:
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
        child.forget_process()

    def _give_up(self, failed: Child, attempt: int) -> None:
        """Intensity exceeded: stop every child, tell the parent, and exit."""
        metrics.SUPERVISOR_INTENSITY_EXCEEDED.labels(supervisor=self.name).inc()
        self.log.error(supervision_line(
            "intensity_exceeded", supervisor=self.name, child=failed.name,
            reason=ExitReason.ESCALATED.value, decision=Decision.ESCALATE.value,
            attempt=attempt, old_pid=None, new_pid=None))
        self.exiting = True
        if self.parent_address is not None:
            self.send(self.parent_address, _GivingUp(self.name))
        # Exiting stops our children first (Thespian sends them exit requests).
        self.send(self.myAddress, ActorExitRequest())

    def receiveMsg__GivingUp(self, message: _GivingUp, sender: ActorAddress) -> None:
        child = self.children.get(message.name)
        if child is not None:
            child.exit_reason = ExitReason.ESCALATED

    def receiveMsg__FatalError(self, message: _FatalError, sender: ActorAddress) -> None:
        child = self.children.get(message.name)
        if child is not None:
            child.exit_reason = ExitReason.ERROR
            self.log.error("%s reports a fatal error: %s", message.name, message.reason)

    def receiveMsg__MessageFailed(self, message: _MessageFailed, sender: ActorAddress) -> None:
        """A child's handler raised; Thespian keeps the child running: resume it."""
        child = self.children.get(message.name)
        if child is None:
            return
        metrics.SUPERVISOR_DECISIONS.labels(supervisor=self.name,
                                            decision=Decision.RESUME.value).inc()
        self.log.warning(supervision_line(
            "resume", supervisor=self.name, child=child.name, reason=ExitReason.POISON.value,
            decision=Decision.RESUME.value, attempt=0, old_pid=child.pid, new_pid=child.pid))
        # WARNING, so that a failure repeated by hostile input falls under the rate limit.
        self.log.warning("%s failed on a %s (%s) and goes on", child.name, message.message_type,
                      message.error)

    # -- health ---------------------------------------------------------------------

    def _check_health(self) -> None:
        """Ping every running child; kill one whose last ping went unanswered too long."""
        health = self.config.supervision.health
        now = self.clock()
        for child in self.children.values():
            if child.state is not ActorState.RUNNING or child.address is None or not child.pid:
                continue
            if child.ping_sent_at is None:
                child.ping_sent_at = now
                self.send(child.address, Ping(child.generation))
            elif now - child.ping_sent_at >= health.ping_timeout_s:
                self.log.warning("%s (pid %d) did not answer a ping for %.1fs: killing it",
                                 child.name, child.pid, now - child.ping_sent_at)
                child.exit_reason = ExitReason.HUNG
                child.ping_sent_at = None
                kill_now(child.pid)
        self.wakeupAfter(health.ping_interval_s, payload=_HealthTick())

    def receiveMsg_Pong(self, message: Pong, sender: ActorAddress) -> None:
        child = self.children.get(message.name)
        if child is not None and message.nonce == child.generation:
            child.ping_sent_at = None

    def receiveMsg_WakeupMessage(self, message: WakeupMessage, sender: ActorAddress) -> None:
        due = message.payload
        if isinstance(due, _HealthTick):
            if not self.exiting:
                self._check_health()
        elif isinstance(due, _PlanStartDue):
            self.planner.due(due.plan_id)
        elif isinstance(due, _StopDeadline):
            child = self.children.get(due.name)
            if child is not None and child.generation == due.generation and child.pid:
                self.log.warning("%s did not stop within its shutdown_s: killing it", due.name)
                kill_now(child.pid)

    # -- graceful stop ------------------------------------------------------------------

    def receiveMsg__Shutdown(self, message: _Shutdown, sender: ActorAddress) -> None:
        """Stop the children one by one in reverse start order, then exit."""
        if self.shutting_down:
            return
        self.shutting_down = True
        self.planner.cancel()
        self.log.info("stopping: children first, in reverse start order")
        self.on_stop()
        self._shutdown_next()

    def _shutdown_next(self) -> None:
        if self.shutdown_stopping is not None:
            return
        for child in reversed(self.children.values()):
            if child.alive:
                self.shutdown_stopping = child.name
                self.ask_to_stop(child)
                return
        self.exiting = True
        self.send(self.myAddress, ActorExitRequest())

    def receiveMsg_ActorExitRequest(self, message: ActorExitRequest, sender: ActorAddress) -> None:
        self.exiting = True
        super().receiveMsg_ActorExitRequest(message, sender)

    # -- the tree's view ----------------------------------------------------------------

    def receiveMsg__SubtreeChanged(self, message: _SubtreeChanged, sender: ActorAddress) -> None:
        child = self.children.get(message.supervisor)
        if child is None or child.address != sender or message.seq <= child.subtree_seq:
            return  # from a dead incarnation, or overtaken by a newer report
        child.subtree_seq = message.seq
        child.subtree = message.records
        self._tree_changed()

    def receiveMsg__Peers(self, message: _Peers, sender: ActorAddress) -> None:
        before = self.peers_version
        super().receiveMsg__Peers(message, sender)
        if message.version and self.peers_version == before:
            return  # an old directory: ours is newer, and so are our children's
        for child in self.children.values():
            if child.address is not None:  # alive
                self.send(child.address, message)

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
        # Set by `_Start`, which comes before any child exists to report on.
        assert self.parent_address is not None
        self.send(self.parent_address,
                  _SubtreeChanged(self.name, self.records(), self.report_seq))

    def _child_at(self, address: ActorAddress) -> Child | None:
        for child in self.children.values():
            if child.address is not None and child.address == address:
                return child
        return None
