"""/healthz and /readyz verdicts from the launcher's latest view, with a fake clock."""

from __future__ import annotations

from actors.messages import ActorInfo, ConnectionStatus, NodeStatusReport
from supervision.http_endpoint import NodeHealth


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def report(stream_state: str | None = "connected", chain_state: str = "running"
           ) -> NodeStatusReport:
    actors = (ActorInfo("root", 1, "running", 0, 1.0, "launcher"),
              ActorInfo("chain", 2, chain_state, 0, 1.0, "system_supervisor"))
    stream = ConnectionStatus(state=stream_state) if stream_state else None
    return NodeStatusReport("n", actors, stream)


def test_a_node_that_never_answered_is_neither_alive_nor_ready() -> None:
    health = NodeHealth(stale_after_s=3.0, clock=FakeClock())
    assert health.alive() == (False, "the node has not answered yet")
    assert health.ready()[0] is False


def test_a_recent_answer_is_alive_and_a_stale_one_is_not() -> None:
    clock = FakeClock()
    health = NodeHealth(stale_after_s=3.0, clock=clock)
    health.record(report())
    assert health.alive() == (True, "ok")
    clock.now += 3.5
    assert health.alive() == (False, "the root supervisor has not answered for 3.5s")


def test_ready_needs_every_actor_running_and_the_stream_connected() -> None:
    health = NodeHealth(stale_after_s=3.0, clock=FakeClock())
    health.record(report())
    assert health.ready() == (True, "ok")
    health.record(report(chain_state="restarting"))
    assert health.ready() == (False, "not running: chain")
    health.record(report(stream_state="reconnecting"))
    assert health.ready() == (False, "governance stream is reconnecting")
    health.record(report(stream_state=None))
    assert health.ready() == (False, "governance stream is unknown")


def test_not_ready_says_why_the_stream_is_not_connected_and_its_last_error() -> None:
    health = NodeHealth(stale_after_s=3.0, clock=FakeClock())
    actors = report().actors
    stream = ConnectionStatus(
        state="failed", last_error="stream closed: UNAVAILABLE connection refused",
        reason="stream closed: UNAVAILABLE connection refused; reconnect attempts exhausted "
               "(max_attempts=1), still trying: next in 0.48s")
    health.record(NodeStatusReport("n", actors, stream))
    assert health.ready() == (False, "governance stream is failed: stream closed: UNAVAILABLE "
                              "connection refused; reconnect attempts exhausted "
                              "(max_attempts=1), still trying: next in 0.48s")
    connecting = ConnectionStatus(state="connecting", reason="endpoint=gov:1 attempt=3",
                                  last_error="no registration ack within the heartbeat timeout")
    health.record(NodeStatusReport("n", actors, connecting))
    assert health.ready() == (False, "governance stream is connecting: endpoint=gov:1 attempt=3 "
                              "(last error: no registration ack within the heartbeat timeout)")


def test_the_actor_pids_are_those_of_the_latest_report_without_the_unstarted() -> None:
    health = NodeHealth(stale_after_s=3.0, clock=FakeClock())
    assert health.actor_pids() == []
    health.record(report())
    assert health.actor_pids() == [("root", 1), ("chain", 2)]
    restarting = (ActorInfo("root", 1, "running", 0, 1.0, "launcher"),
                  ActorInfo("chain", 0, "restarting", 1, 0.0, "system_supervisor"))
    health.record(NodeStatusReport("n", restarting, None))
    assert health.actor_pids() == [("root", 1)]
