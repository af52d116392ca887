"""A supervisor's restart plans carried out step by step: the planner alone, with a fake
supervisor that records what it is asked to do, and no actor system."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from thespian.actors import ActorAddress

from actors.lifecycle import _ChildSpec
from nodeconfig import BackoffConfig, Strategy
from supervision.children import ActorState, Child
from supervision.policy import ExitReason
from supervision.protocol import _PlanStartDue
from supervision.restarts import RestartPlanner

NOW = 1_000.0


@dataclass
class FakeSupervisor:
    """Spawning gives a child an address at once; stopping waits for the test to say so."""

    children: dict[str, Child]
    calls: list[tuple[str, str]] = field(default_factory=list)
    wakeups: list[tuple[float, object]] = field(default_factory=list)

    def spawn(self, child: Child) -> None:
        child.address = ActorAddress(child.name)
        child.state = ActorState.RESTARTING
        self.calls.append(("spawn", child.name))

    def ask_to_stop(self, child: Child) -> None:
        self.calls.append(("stop", child.name))

    def wakeupAfter(self, timePeriod: float | timedelta, payload: object = None) -> None:
        assert isinstance(timePeriod, float)
        self.wakeups.append((timePeriod, payload))


@dataclass
class Rig:
    supervisor: FakeSupervisor
    planner: RestartPlanner

    def fail(self, name: str, strategy: Strategy,
             backoff: BackoffConfig | None = None) -> None:
        """`name` died: bury it and begin (or widen) a restart as the supervisor does."""
        child = self.supervisor.children[name]
        child.forget_process()
        self.planner.begin(child, ExitReason.KILLED, 1, 4242, strategy=strategy,
                           backoff=backoff or BackoffConfig(), history=(NOW,), now=NOW)

    def exited(self, name: str) -> None:
        """A child the plan stopped is gone."""
        child = self.supervisor.children[name]
        assert self.planner.stops(child)
        child.forget_process()
        self.planner.stopped(child)


@pytest.fixture
def rig() -> Rig:
    children = {}
    for name in ("a", "b", "c"):
        child = Child(_ChildSpec(name, f"tests:{name}"))
        child.address = ActorAddress(name)
        child.state = ActorState.RUNNING
        children[name] = child
    supervisor = FakeSupervisor(children)
    return Rig(supervisor, RestartPlanner(supervisor, children, random.Random(7)))


def test_one_for_one_restarts_the_failed_child_alone_and_at_once(rig: Rig) -> None:
    rig.fail("b", "one_for_one")
    assert rig.supervisor.calls == [("spawn", "b")]
    assert rig.planner.plan is None
    b = rig.supervisor.children["b"]
    assert (b.restarts, b.pending and b.pending.reason) == (1, ExitReason.KILLED)


def test_rest_for_one_stops_the_later_children_last_first_then_starts_them_in_order(
        rig: Rig) -> None:
    rig.fail("a", "rest_for_one")
    assert rig.supervisor.calls == [("stop", "c")]  # one at a time
    assert not rig.planner.stops(rig.supervisor.children["a"])
    rig.exited("c")
    assert rig.supervisor.calls[-1] == ("stop", "b")
    rig.exited("b")
    assert rig.supervisor.calls == [("stop", "c"), ("stop", "b"),
                                    ("spawn", "a"), ("spawn", "b"), ("spawn", "c")]
    assert [rig.supervisor.children[n].restarts for n in "abc"] == [1, 1, 1]


def test_the_backoff_delay_comes_between_the_stops_and_the_starts(rig: Rig) -> None:
    rig.fail("c", "one_for_one", BackoffConfig(initial_s=2.0, jitter=0.0))
    assert rig.supervisor.calls == []
    [(delay, due)] = rig.supervisor.wakeups
    assert delay == 2.0 and isinstance(due, _PlanStartDue)
    rig.planner.due(due.plan_id + 1)  # a wakeup of another plan changes nothing
    assert rig.supervisor.calls == []
    rig.planner.due(due.plan_id)
    assert rig.supervisor.calls == [("spawn", "c")]


def test_a_failure_during_a_plan_widens_it_instead_of_starting_another(rig: Rig) -> None:
    rig.fail("b", "rest_for_one")
    plan = rig.planner.plan
    assert rig.supervisor.calls == [("stop", "c")]
    rig.fail("a", "rest_for_one")  # dies while c is being stopped
    assert rig.planner.plan is plan
    assert rig.supervisor.calls == [("stop", "c")]  # c is still on its way out
    rig.exited("c")
    assert rig.supervisor.calls[1:] == [("spawn", "a"), ("spawn", "b"), ("spawn", "c")]
    assert rig.planner.plan is None


def test_a_cancelled_plan_starts_nothing(rig: Rig) -> None:
    rig.fail("a", "one_for_all")
    assert rig.supervisor.calls == [("stop", "c")]
    rig.planner.cancel()
    assert not rig.planner.stops(rig.supervisor.children["b"])
    rig.planner.advance()
    assert rig.supervisor.calls == [("stop", "c")]


def test_a_child_stopped_on_purpose_is_not_started_again(rig: Rig) -> None:
    rig.supervisor.children["c"].state = ActorState.STOPPED
    rig.supervisor.children["c"].forget_process()
    rig.fail("a", "one_for_all")
    assert rig.supervisor.calls[0] == ("stop", "b")
    rig.exited("b")
    assert rig.supervisor.calls[1:] == [("spawn", "a"), ("spawn", "b")]
