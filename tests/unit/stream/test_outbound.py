"""The requests the node sends governance, from arrival to answer or timeout: the outbound
side alone, driven through a fake session and a fake clock, with no actor system."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from thespian.actors import ActorAddress

from actors.messages import (
    NotifyPegin,
    RequestQueued,
    RequestRejected,
    RequestSignatures,
    RequestTimedOut,
)
from actors.stream.outbound import FLUSH_BATCH, OutboundRequests, Outgoing
from actors.stream.outbox import Outbox
from actors.stream.pending import PendingRequests
from actors.stream.state import ConnectionState as State
from nodeconfig import RequestTimeoutsConfig, TracingConfig
from protocol import governance_pb2 as pb
from runtime import tracing

BRIDGE = ActorAddress("bridge")


@dataclass
class FakeSession:
    """Records what the outbound side asks of the actor."""

    state: State = State.CONNECTED
    written: list[tuple[str, str]] = field(default_factory=list)  # (request id, kind)
    requests: list[pb.StreamRequest] = field(default_factory=list)
    replies: list[tuple[object, object]] = field(default_factory=list)
    timers: list[tuple[str, float]] = field(default_factory=list)
    flush_later_calls: int = 0

    def write(self, request: pb.StreamRequest, kind: str) -> None:
        self.written.append((request.metadata.request_id, kind))
        self.requests.append(request)

    def reply(self, to: object, message: object) -> None:
        self.replies.append((to, message))

    def schedule(self, kind: str, delay_s: float) -> None:
        self.timers.append((kind, delay_s))

    def flush_later(self) -> None:
        self.flush_later_calls += 1


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Rig:
    session: FakeSession
    outbound: OutboundRequests
    pending: PendingRequests[Outgoing]
    clock: Clock


@pytest.fixture
def rig() -> Rig:
    session = FakeSession()
    pending = PendingRequests[Outgoing]()
    clock = Clock()
    outbound = OutboundRequests(
        session, node_id="node-a", timeouts=RequestTimeoutsConfig(signature=60.0, pegin=30.0),
        outbox=Outbox[Outgoing](1_000, "drop_oldest"), pending=pending,
        log=logging.getLogger("test.outbound"), clock=clock)
    return Rig(session, outbound, pending, clock)


def signatures(request_id: str, timeout_s: float | None = None) -> RequestSignatures:
    return RequestSignatures(request_id, "00", (0,), (1,), timeout_s=timeout_s)


def pegin(request_id: str) -> NotifyPegin:
    return NotifyPegin(request_id, "ab" * 32, 0, 1_000, "0x" + "11" * 20, 6)


def test_with_the_session_up_a_request_is_written_at_once_and_awaits_its_answer(
        rig: Rig) -> None:
    rig.outbound.submit("signature", "po-1/1", signatures("po-1/1"), BRIDGE)
    assert rig.session.written == [("po-1/1", "signature")]
    assert rig.session.replies == [(BRIDGE, RequestQueued("po-1/1"))]
    assert ("signature", "po-1/1") in rig.pending and rig.outbound.pending == 1
    assert rig.session.timers == [("timeouts", 60.0)]


def test_while_disconnected_requests_wait_and_go_by_priority_once_connected(rig: Rig) -> None:
    rig.session.state = State.RECONNECTING
    rig.outbound.submit("pegin", "pegin-1", pegin("pegin-1"), BRIDGE)
    rig.outbound.submit("signature", "po-1/1", signatures("po-1/1"), BRIDGE)
    assert rig.session.written == []
    assert rig.outbound.buffered == 2
    assert [reply for _, reply in rig.session.replies] == [
        RequestQueued("pegin-1"), RequestQueued("po-1/1")]
    rig.outbound.flush()  # still down: nothing goes
    assert rig.session.written == []
    rig.session.state = State.CONNECTED
    rig.outbound.flush()
    assert rig.session.written == [("po-1/1", "signature"), ("pegin-1", "pegin")]
    assert rig.outbound.buffered == 0 and rig.session.flush_later_calls == 0


@pytest.mark.parametrize("state", [State.CONNECTED, State.RECONNECTING])
def test_a_sender_that_wants_no_request_queued_hears_only_of_trouble(
        rig: Rig, state: State) -> None:
    rig.session.state = state
    quiet = replace(signatures("po-1/1"), notify_queued=False)
    rig.outbound.submit("signature", "po-1/1", quiet, BRIDGE)
    rig.outbound.submit("signature", "po-1/1", quiet, BRIDGE)  # already on its way
    assert [to for to, _ in rig.session.replies if to is not None] == []
    bad = replace(signatures("po-2/1"), tx_type="sideways", notify_queued=False)
    rig.outbound.submit("signature", "po-2/1", bad, BRIDGE)
    [(to, refused)] = [(to, r) for to, r in rig.session.replies if to is not None]
    assert to == BRIDGE and isinstance(refused, RequestRejected)


def test_a_request_already_on_its_way_is_acknowledged_again_and_not_written_twice(
        rig: Rig) -> None:
    rig.outbound.submit("signature", "po-1/1", signatures("po-1/1"), BRIDGE)
    rig.outbound.submit("signature", "po-1/1", signatures("po-1/1"), BRIDGE)
    assert rig.session.written == [("po-1/1", "signature")]
    assert [reply for _, reply in rig.session.replies] == [RequestQueued("po-1/1")] * 2


def test_a_request_the_wire_cannot_carry_is_rejected_when_it_arrives(rig: Rig) -> None:
    bad = RequestSignatures("po-9/1", "00", (0,), (1,), tx_type="sideways")
    rig.outbound.submit("signature", "po-9/1", bad, BRIDGE)
    assert rig.session.written == []
    [(to, reply)] = rig.session.replies
    assert to == BRIDGE and isinstance(reply, RequestRejected)
    assert reply.reason.startswith("invalid: 'sideways' is not a TransactionType")


def test_a_long_outbox_is_written_a_slice_per_turn(rig: Rig) -> None:
    rig.session.state = State.RECONNECTING
    for n in range(FLUSH_BATCH + 3):
        rig.outbound.submit("pegin", f"p{n}", pegin(f"p{n}"), None)
    rig.session.state = State.CONNECTED
    rig.outbound.flush()
    assert len(rig.session.written) == FLUSH_BATCH and rig.session.flush_later_calls == 1
    rig.outbound.flush()
    assert len(rig.session.written) == FLUSH_BATCH + 3 and rig.session.flush_later_calls == 1


def test_after_a_reconnect_pending_requests_go_again_oldest_first(rig: Rig) -> None:
    rig.outbound.submit("pegin", "pegin-1", pegin("pegin-1"), None)
    rig.clock.now += 1
    rig.outbound.submit("signature", "po-1/1", signatures("po-1/1"), None)
    rig.session.written.clear()
    rig.outbound.resend_pending()
    assert rig.session.written == [("pegin-1", "pegin"), ("po-1/1", "signature")]
    assert rig.outbound.pending == 2


def test_a_request_past_its_deadline_times_out_and_a_signature_may_still_be_answered(
        rig: Rig) -> None:
    rig.outbound.submit("signature", "po-1/1", signatures("po-1/1", timeout_s=5), BRIDGE)
    rig.outbound.submit("pegin", "pegin-1", pegin("pegin-1"), BRIDGE)
    assert rig.session.timers == [("timeouts", 5.0)]  # only the earliest deadline is armed
    rig.session.replies.clear()
    rig.clock.now += 5
    rig.outbound.expire()
    assert rig.session.replies == [(BRIDGE, RequestTimedOut("po-1/1", "signature"))]
    assert list(rig.outbound.timed_out) == ["po-1/1"]
    assert rig.session.timers[-1] == ("timeouts", 25.0)  # the pegin's deadline is next
    rig.clock.now += 25
    rig.outbound.expire()
    assert rig.session.replies[-1] == (BRIDGE, RequestTimedOut("pegin-1", "pegin"))
    assert list(rig.outbound.timed_out) == ["po-1/1"]  # only signatures get a late answer
    assert rig.outbound.pending == 0


def test_a_status_update_carries_the_latest_height(rig: Rig) -> None:
    rig.outbound.block_height = 812
    rig.outbound.submit("status", "status/1", None, None)
    assert [r.status_update.block_height for r in rig.session.requests] == [812]
    assert rig.session.replies == [(None, RequestQueued("status/1"))]  # the actor tells no one


def test_a_pegin_notice_and_a_pegout_attempt_sharing_an_id_are_both_written(rig: Rig) -> None:
    rig.outbound.submit("pegin", "x/1", pegin("x/1"), BRIDGE)
    rig.outbound.submit("signature", "x/1", signatures("x/1"), BRIDGE)
    assert rig.session.written == [("x/1", "pegin"), ("x/1", "signature")]
    assert rig.outbound.pending == 2
    # The wire ids are unchanged: governance sees two requests named x/1.
    assert [r.WhichOneof("payload") for r in rig.session.requests] == [
        "pegin_notification", "signature_request"]


def test_while_disconnected_a_pegin_and_a_pegout_attempt_sharing_an_id_both_wait(
        rig: Rig) -> None:
    rig.session.state = State.RECONNECTING
    rig.outbound.submit("pegin", "x/1", pegin("x/1"), BRIDGE)
    rig.outbound.submit("signature", "x/1", signatures("x/1"), BRIDGE)
    rig.outbound.submit("signature", "x/1", signatures("x/1"), BRIDGE)  # this one is a duplicate
    assert rig.outbound.buffered == 2
    rig.session.state = State.CONNECTED
    rig.outbound.flush()
    assert rig.session.written == [("x/1", "signature"), ("x/1", "pegin")]


def test_a_timed_out_signature_request_extended_by_pending_expires_at_its_new_deadline(
        rig: Rig) -> None:
    rig.outbound.submit("signature", "po-1/1", signatures("po-1/1", timeout_s=5), BRIDGE)
    rig.pending.extend("signature", "po-1/1", rig.clock.now + 8)  # as a PENDING answer does
    rig.session.replies.clear()
    rig.clock.now += 5
    rig.outbound.expire()  # the timer armed for the old deadline finds nothing due ...
    assert rig.session.replies == [] and rig.session.timers[-1] == ("timeouts", 3.0)
    rig.clock.now += 3
    rig.outbound.expire()  # ... and re-arms for the new one
    assert rig.session.replies == [(BRIDGE, RequestTimedOut("po-1/1", "signature"))]


@pytest.fixture
def traced(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    monkeypatch.setattr(tracing, "_pid", None)
    monkeypatch.setattr(tracing, "_provider", None)
    tracing.start(TracingConfig(endpoint="http://127.0.0.1:4318/v1/traces"), "stream",
                  exporter=exporter)
    try:
        yield exporter
    finally:
        tracing.stop()


def test_a_traced_request_refused_or_evicted_from_the_outbox_ends_its_span(
        traced: InMemorySpanExporter) -> None:
    session = FakeSession(state=State.RECONNECTING)
    outbound = OutboundRequests(
        session, node_id="node-a", timeouts=RequestTimeoutsConfig(signature=60.0, pegin=30.0),
        outbox=Outbox[Outgoing](1, "drop_oldest"), pending=PendingRequests[Outgoing](),
        log=logging.getLogger("test.outbound"), clock=Clock())
    for request_id in ("po-1/1", "po-2/1", "po-9/1"):
        tracing.begin(("signature", request_id), "governance.signature_request")
    outbound.submit("signature", "po-1/1", signatures("po-1/1"), BRIDGE)
    outbound.submit("signature", "po-2/1", signatures("po-2/1"), BRIDGE)  # evicts po-1/1
    outbound.submit("signature", "po-9/1",
                    RequestSignatures("po-9/1", "00", (0,), (1,), tx_type="sideways"), BRIDGE)

    assert list(tracing._open) == [("signature", "po-2/1")]  # the one still queued
    assert tracing._provider is not None
    tracing._provider.force_flush()
    ended = [span.status.description for span in traced.get_finished_spans()]
    assert ended == ["refused: overflow_drop_oldest", "refused: invalid"]


def test_a_notify_queued_that_is_not_a_yes_or_no_is_refused(rig: Rig) -> None:
    odd = replace(signatures("po-3/1"), notify_queued="no")  # type: ignore[arg-type]
    rig.outbound.submit("signature", "po-3/1", odd, BRIDGE)
    assert rig.session.written == []
    [(to, reply)] = rig.session.replies
    assert to == BRIDGE and isinstance(reply, RequestRejected)
    assert reply.reason == "invalid: notify_queued must be true or false, got str"
