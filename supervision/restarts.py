"""Carrying out a supervisor's restart decision, step by step, as its children exit.

`policy.decide` says a child is to be restarted; `RestartPlanner` does it the
OTP way: the other children of the strategy's scope are asked to stop in
reverse start order, one at a time (each within its `shutdown_s`, then
killed), and once all are gone and the backoff delay is over, the whole scope
starts again in start order. A failure while a plan runs widens that plan
instead of starting a second one.

It owns only the plan in progress. The children's records are the
supervisor's, and it asks the supervisor, through `Supervising`, to spawn a
child, to ask one to stop, and to wake it when the backoff is over.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol

from supervision.children import ActorState, Child, PendingRestart, RestartPlan
from supervision.policy import ExitReason, burst_attempt, restart_delay, restart_scope
from supervision.protocol import _PlanStartDue

if TYPE_CHECKING:
    from nodeconfig import BackoffConfig, Strategy


class Supervising(Protocol):
    """The supervisor actor as its restart plans see it."""

    def spawn(self, child: Child) -> None:
        """Start a new process for `child`."""

    def ask_to_stop(self, child: Child) -> None:
        """Ask `child` to stop, and kill it if it has not within its `shutdown_s`."""

    def wakeupAfter(self, timePeriod: float | timedelta, payload: object = None) -> None:
        """Thespian's timer: `_PlanStartDue` comes back as a wakeup payload."""


class RestartPlanner:
    def __init__(self, supervisor: Supervising, children: Mapping[str, Child],
                 rng: random.Random) -> None:
        """`children` is the supervisor's own mapping, in start order."""
        self._supervisor = supervisor
        self._children = children
        self._rng = rng
        self.plan: RestartPlan | None = None
        self._plan_ids = 0

    def begin(self, failed: Child, reason: ExitReason, attempt: int, old_pid: int | None, *,
              strategy: Strategy, backoff: BackoffConfig, history: tuple[float, ...],
              now: float) -> None:
        """Restart `failed` and the rest of its strategy's scope (`history`: the restart
        times `policy.decide` returned, with this one)."""
        order = tuple(self._children)
        scope = restart_scope(strategy, order, failed.name)
        alive = {name for name, child in self._children.items() if child.alive}
        failed.pending = PendingRestart(reason, attempt, old_pid)
        failed.restarts += 1
        failed.state = ActorState.RESTARTING
        siblings = [name for name in reversed(scope) if name != failed.name and name in alive]
        for name in siblings:
            sibling = self._children[name]
            sibling.pending = PendingRestart(ExitReason.SHUTDOWN, attempt, sibling.pid)
            sibling.restarts += 1
        if self.plan is not None:
            self.plan.merge(order, scope, alive)
        else:
            delay = restart_delay(burst_attempt(history, now, backoff.reset_after_s),
                                  backoff, self._rng)
            self._plan_ids += 1
            self.plan = RestartPlan(self._plan_ids, siblings, list(scope), delay_s=delay)
        self.advance()

    def stops(self, child: Child) -> bool:
        """Whether the plan stops `child` (asked to, or still to be): its exit is expected."""
        plan = self.plan
        return plan is not None and child.name in (plan.stopping, *plan.to_stop)

    def stopped(self, child: Child) -> None:
        """A child the plan `stops` has exited (and was buried): go on with the plan."""
        plan = self.plan
        assert plan is not None  # only called for a child the plan stops
        if plan.stopping == child.name:
            plan.stopping = None
        else:
            plan.to_stop.remove(child.name)
        self.advance()

    def due(self, plan_id: int) -> None:
        """The backoff delay of plan `plan_id` is over (a wakeup of an ended plan is stale)."""
        if self.plan is not None and self.plan.plan_id == plan_id:
            self.advance()

    def cancel(self) -> None:
        """The supervisor is stopping: no restart goes on."""
        self.plan = None

    def advance(self) -> None:
        """Stop the next child of the plan, or when none is left, start the scope again."""
        plan = self.plan
        if plan is None or plan.stopping is not None:
            return
        while plan.to_stop:
            child = self._children[plan.to_stop.pop(0)]
            if child.alive:
                plan.stopping = child.name
                child.state = ActorState.RESTARTING
                self._supervisor.ask_to_stop(child)
                return
        if plan.delay_s > 0:
            self._supervisor.wakeupAfter(plan.delay_s, payload=_PlanStartDue(plan.plan_id))
            plan.delay_s = 0.0
            return
        self.plan = None
        for name in plan.to_start:
            child = self._children[name]
            if not child.alive and child.state is not ActorState.STOPPED:
                self._supervisor.spawn(child)
