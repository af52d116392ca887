"""What the StreamActor does with each frame from governance: the inbound handler alone,
driven through a fake session, with no actor system and no grpc."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from thespian.actors import ActorAddress

from actors.messages import (
    ApplySignatures,
    Delivered,
    GovernanceError,
    ProposalReceived,
    UpdateFederation,
)
from actors.stream.inbound import InboundHandler
from actors.stream.inbox import Closed, Malformed, Received
from actors.stream.liveness import Liveness
from actors.stream.outbound import Outgoing
from actors.stream.pending import PendingRequest, PendingRequests
from actors.stream.routing import InboundRouter
from actors.stream.state import ConnectionState as State
from actors.stream.wire.events import (
    Acknowledged,
    ErrorReceived,
    FederationReceived,
    HeartbeatAcked,
    Inbound,
    ProposalArrived,
    RegistrationAck,
    SignaturesReceived,
)
from protocol import governance_pb2 as pb

BRIDGE = ActorAddress("bridge")


@dataclass
class FakeSession:
    """Records what the handler asks of the actor."""

    state: State = State.CONNECTED
    calls: list[tuple[object, ...]] = field(default_factory=list)

    def move(self, target: State, reason: str) -> None:
        self.state = target
        self.calls.append(("move", target, reason))

    def registered(self, ack: object = None) -> None:
        self.calls.append(("registered",))

    def lost(self, reason: str, auth_refused: bool = False) -> None:
        self.calls.append(("lost", reason))

    def schedule(self, kind: str, delay_s: float) -> None:
        self.calls.append(("schedule", kind, delay_s))

    def reply(self, to: object, message: object) -> None:
        self.calls.append(("reply", to, message))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


MAX_RETRY_AFTER_S = 300.0


@dataclass
class Rig:
    session: FakeSession
    handler: InboundHandler
    pending: PendingRequests[Outgoing]
    timed_out: OrderedDict[str, None]
    liveness: Liveness
    router: InboundRouter
    clock: Clock

    def receive(self, *inbound: Inbound) -> set[str]:
        """Hand frames over as the reader does; who got something routed."""
        targets: set[str] = set()
        for item in inbound:
            self.handler.handle(Received(1, item), targets)
        return targets

    def expect(self, request_id: str, kind: str, sender: ActorAddress | None = BRIDGE,
               sent_at: float = 0.0, timeout_s: float | None = None) -> None:
        """A request the node has written and awaits an answer to (with `timeout_s`, due
        that long after `sent_at`; else not for ages)."""
        outgoing = Outgoing(pb.StreamRequest(), timeout_s or 60.0)
        deadline = 1e9 if timeout_s is None else sent_at + timeout_s
        self.pending.add(PendingRequest(request_id, kind, sender, sent_at, deadline, outgoing))


@pytest.fixture
def rig() -> Rig:
    session = FakeSession()
    pending = PendingRequests[Outgoing]()
    timed_out: OrderedDict[str, None] = OrderedDict()
    clock = Clock()
    liveness = Liveness(5.0, 15.0, clock, clock)
    router = InboundRouter()
    handler = InboundHandler(session, pending=pending, timed_out=timed_out, liveness=liveness,
                             router=router, log=logging.getLogger("test.inbound"),
                             max_retry_after_s=MAX_RETRY_AFTER_S, clock=clock)
    return Rig(session, handler, pending, timed_out, liveness, router, clock)


def unexpected(kind: str) -> float:
    return REGISTRY.get_sample_value("alys_stream_unexpected_frames_total",
                                     {"kind": kind}) or 0.0


def signatures(request_id: str, status: str = "complete") -> SignaturesReceived:
    return SignaturesReceived(request_id, ApplySignatures(request_id, status))


def federation(request_id: str) -> FederationReceived:
    update = UpdateFederation(request_id, "member_add", 1, (), 1, 0, None, b"")
    return FederationReceived(request_id, update)


# -- routing ------------------------------------------------------------------------------


def test_a_signature_answer_to_a_pending_request_is_routed_to_the_bridge(rig: Rig) -> None:
    rig.expect("po-1/1", "signature")
    assert rig.receive(signatures("po-1/1")) == {"bridge"}
    assert ("signature", "po-1/1") not in rig.pending
    assert rig.router.take("bridge", 10) == [ApplySignatures("po-1/1", "complete")]
    assert rig.session.calls == []


def test_a_signature_answer_nobody_waits_for_is_counted_and_not_routed(rig: Rig) -> None:
    before = unexpected("unknown_response")
    assert rig.receive(signatures("stray")) == set()
    assert len(rig.router) == 0
    assert unexpected("unknown_response") == before + 1


def test_a_late_answer_to_a_timed_out_request_is_still_routed_once(rig: Rig) -> None:
    rig.timed_out["po-2/1"] = None
    assert rig.receive(signatures("po-2/1")) == {"bridge"}
    assert "po-2/1" not in rig.timed_out
    assert rig.router.take("bridge", 10) == [ApplySignatures("po-2/1", "complete")]
    # The same late answer again is an answer to nothing.
    before = unexpected("unknown_response")
    assert rig.receive(signatures("po-2/1")) == set()
    assert unexpected("unknown_response") == before + 1


def test_a_federation_update_goes_to_the_chain_and_its_duplicate_is_dropped(rig: Rig) -> None:
    before = unexpected("duplicate")
    assert rig.receive(federation("fed-1"), federation("fed-1")) == {"chain"}
    assert len(rig.router) == 1
    assert unexpected("duplicate") == before + 1


def test_a_proposal_is_routed_to_the_chain_by_its_proposal_id(rig: Rig) -> None:
    proposal = ProposalReceived("prop-9", "upgrade", b"", 0, 1)
    assert rig.receive(ProposalArrived("push-1", proposal)) == {"chain"}
    assert rig.router.unhandled_for("chain") == [proposal]
    assert rig.router.handled("prop-9") == "chain"


# -- the session's life -----------------------------------------------------------------


def test_an_accepted_registration_while_registering_brings_the_session_up(rig: Rig) -> None:
    rig.session.state = State.REGISTERING
    rig.receive(RegistrationAck("register/1", True, "node", "success"))
    assert rig.session.calls == [("registered",)]


def test_a_refused_registration_loses_the_connection_with_its_status(rig: Rig) -> None:
    rig.session.state = State.REGISTERING
    rig.receive(RegistrationAck("register/1", False, "", "unauthorized"))
    assert rig.session.calls == [("lost", "registration refused (unauthorized)")]


def test_a_registration_ack_outside_registration_is_only_counted(rig: Rig) -> None:
    before = unexpected("unexpected_registration_ack")
    rig.receive(RegistrationAck("register/1", True, "node", "success"))
    assert rig.session.calls == []
    assert unexpected("unexpected_registration_ack") == before + 1


def test_an_auth_error_while_registering_loses_the_connection(rig: Rig) -> None:
    rig.session.state = State.REGISTERING
    rig.receive(ErrorReceived("register/1", "authentication_failed", "no", None, None, "error"))
    assert rig.session.calls == [("lost", "registration refused (authentication_failed)")]


def test_a_closed_stream_is_a_lost_connection(rig: Rig) -> None:
    rig.handler.handle(Closed(1, "UNAVAILABLE", "connection reset"), set())
    rig.handler.handle(Closed(1, "OK", ""), set())
    assert rig.session.calls == [("lost", "stream closed: UNAVAILABLE connection reset"),
                                 ("lost", "stream closed: OK")]


def closed(code: str) -> float:
    return REGISTRY.get_sample_value("alys_stream_closed_total", {"code": code}) or 0.0


def test_a_closed_stream_is_counted_by_status_code_and_a_made_up_code_as_other(
        rig: Rig) -> None:
    # UNAUTHENTICATED is how governance refuses credentials before any frame: the
    # credentials alert reads it, so it must be counted, and from a declared 0.
    assert REGISTRY.get_sample_value("alys_stream_closed_total",
                                     {"code": "UNAUTHENTICATED"}) is not None
    before = {code: closed(code) for code in ("UNAUTHENTICATED", "other")}
    rig.handler.handle(Closed(1, "UNAUTHENTICATED", "bad token"), set())
    rig.handler.handle(Closed(1, "NOT_A_STATUS\nx", "from a hostile peer"), set())
    assert closed("UNAUTHENTICATED") == before["UNAUTHENTICATED"] + 1
    assert closed("other") == before["other"] + 1
    assert closed("NOT_A_STATUS\nx") == 0.0


def test_the_status_code_labels_are_grpcs() -> None:
    import grpc

    from actors.stream.metrics import STATUS_CODE_LABELS

    assert {code.name for code in grpc.StatusCode} == STATUS_CODE_LABELS


def test_a_malformed_frame_is_counted_and_changes_nothing(rig: Rig) -> None:
    before = unexpected("malformed")
    rig.handler.handle(Malformed(1, "frame does not parse"), set())
    assert rig.session.calls == []
    assert rig.handler.received == 0
    assert unexpected("malformed") == before + 1


def test_a_heartbeat_ack_is_a_sign_of_life_and_an_unknown_one_is_counted(rig: Rig) -> None:
    rig.liveness.start()
    beat = rig.liveness.next_heartbeat()
    before = unexpected("unknown_heartbeat_ack")
    rig.receive(HeartbeatAcked("hb", beat.sequence, 0, 0), HeartbeatAcked("hb", 99, 0, 0))
    assert rig.liveness.last_ack_at is not None
    assert unexpected("unknown_heartbeat_ack") == before + 1


# -- answers to the senders --------------------------------------------------------------


def test_an_acked_pegin_notice_is_delivered_and_a_status_ack_answers_no_one(rig: Rig) -> None:
    rig.expect("pegin-1", "pegin")
    rig.expect("status-1", "status", sender=None)
    rig.receive(Acknowledged("pegin-1", "success"), Acknowledged("status-1", "success"))
    assert rig.session.calls == [("reply", BRIDGE, Delivered("pegin-1"))]
    assert len(rig.pending) == 0


def test_an_ack_with_a_failure_status_is_a_governance_error(rig: Rig) -> None:
    rig.expect("pegin-2", "pegin")
    rig.receive(Acknowledged("pegin-2", "error"))
    assert rig.session.calls == [
        ("reply", BRIDGE,
         GovernanceError("pegin-2", "error", "acknowledged with error", kind="pegin"))]


def test_an_ack_nobody_waits_for_is_counted(rig: Rig) -> None:
    before = unexpected("unexpected_ack")
    rig.receive(Acknowledged("nobody", "success"))
    assert rig.session.calls == []
    assert unexpected("unexpected_ack") == before + 1


def test_a_rate_limit_answers_the_sender_and_suspends_for_retry_after(rig: Rig) -> None:
    rig.expect("po-3/1", "signature")
    rig.receive(ErrorReceived("po-3/1", "rate_limited", "slow down", None, 2.5, "error"))
    assert rig.session.calls == [
        ("reply", BRIDGE, GovernanceError("po-3/1", "rate_limited", "slow down", 2.5,
                                          "signature")),
        ("move", State.SUSPENDED, "governance asked to hold off for 2.5s"),
        ("schedule", "resume", 2.5),
    ]


def test_a_rate_limit_without_retry_after_does_not_suspend(rig: Rig) -> None:
    rig.expect("po-4/1", "signature")
    rig.receive(ErrorReceived("po-4/1", "rate_limited", "slow down", None, None, "error"))
    assert [call[0] for call in rig.session.calls] == ["reply"]
    assert rig.session.state is State.CONNECTED


# -- counting ----------------------------------------------------------------------------


def test_received_frames_are_counted_and_exported_by_kind_once_per_drain(rig: Rig) -> None:
    def received(kind: str) -> float:
        return REGISTRY.get_sample_value("alys_stream_messages_received_total",
                                         {"type": kind}) or 0.0

    before = received("FederationReceived")
    rig.receive(federation("a"), federation("b"))
    assert rig.handler.received == 2
    assert received("FederationReceived") == before  # not yet: exported per drain
    rig.handler.export_received()
    assert received("FederationReceived") == before + 2
    rig.handler.export_received()
    assert received("FederationReceived") == before + 2


def test_the_composed_parts_of_the_actor_never_import_grpc() -> None:
    # grpc must not be initialised in a process that forks later: these tests run in one.
    repo = Path(__file__).resolve().parents[3]
    probe = ("import sys, actors.stream.inbound, actors.stream.outbound\n"
             "assert 'grpc' not in sys.modules\n")
    result = subprocess.run([sys.executable, "-c", probe], cwd=repo,
                            env={**os.environ, "PYTHONPATH": str(repo)},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


# -- what is not an answer ---------------------------------------------------------------


def test_an_ack_for_a_signature_request_is_counted_and_leaves_it_pending(rig: Rig) -> None:
    rig.expect("po-1/1", "signature")
    before = unexpected("unexpected_ack")
    assert rig.receive(Acknowledged("po-1/1", "success")) == set()
    assert ("signature", "po-1/1") in rig.pending
    assert rig.session.calls == [] and len(rig.router) == 0
    assert unexpected("unexpected_ack") == before + 1


def test_the_complete_answer_after_an_ack_is_routed_to_the_bridge(rig: Rig) -> None:
    rig.expect("po-1/1", "signature")
    rig.receive(Acknowledged("po-1/1", "success"))
    assert rig.receive(signatures("po-1/1")) == {"bridge"}
    assert len(rig.pending) == 0
    assert rig.router.take("bridge", 10) == [ApplySignatures("po-1/1", "complete")]


def test_an_ack_for_a_timed_out_signature_request_leaves_it_open_for_a_late_answer(
        rig: Rig) -> None:
    rig.timed_out["po-1/1"] = None
    rig.receive(Acknowledged("po-1/1", "success"))
    assert "po-1/1" in rig.timed_out
    assert rig.receive(signatures("po-1/1")) == {"bridge"}


def test_a_pending_answer_is_not_routed_and_the_complete_one_after_it_is(rig: Rig) -> None:
    rig.expect("po-1/1", "signature")
    assert rig.receive(signatures("po-1/1", "pending")) == set()
    assert ("signature", "po-1/1") in rig.pending and len(rig.router) == 0
    assert rig.receive(signatures("po-1/1")) == {"bridge"}
    assert rig.router.take("bridge", 10) == [ApplySignatures("po-1/1", "complete")]
    assert rig.router.handled("po-1/1", "bridge") == "bridge"
    assert len(rig.pending) == 0


def test_a_pending_answer_restarts_the_timeout_from_when_it_came(rig: Rig) -> None:
    rig.expect("po-1/1", "signature", sent_at=100.0, timeout_s=60.0)
    rig.clock.now = 130.0
    rig.receive(signatures("po-1/1", "pending"))
    entry = rig.pending.get("signature", "po-1/1")
    assert entry is not None and entry.deadline == 190.0
    assert rig.pending.expire(189.0) == [] and rig.pending.next_deadline() == 190.0


def test_pending_answers_never_keep_a_request_past_twice_its_timeout(rig: Rig) -> None:
    rig.expect("po-1/1", "signature", sent_at=100.0, timeout_s=60.0)
    for now in (150.0, 200.0, 219.0, 400.0):
        rig.clock.now = now
        rig.receive(signatures("po-1/1", "pending"))
    entry = rig.pending.get("signature", "po-1/1")
    assert entry is not None and entry.deadline == 220.0
    assert [e.request_id for e in rig.pending.expire(220.0)] == ["po-1/1"]


def test_a_pending_answer_to_a_timed_out_request_keeps_it_open_for_a_late_answer(
        rig: Rig) -> None:
    rig.timed_out["po-2/1"] = None
    before = unexpected("unknown_response")
    assert rig.receive(signatures("po-2/1", "pending")) == set()
    assert "po-2/1" in rig.timed_out and unexpected("unknown_response") == before
    assert rig.receive(signatures("po-2/1")) == {"bridge"}


def test_a_pending_answer_nobody_waits_for_is_counted(rig: Rig) -> None:
    before = unexpected("unknown_response")
    assert rig.receive(signatures("stray", "pending")) == set()
    assert unexpected("unknown_response") == before + 1


def test_a_partial_answer_is_an_answer_and_is_routed(rig: Rig) -> None:
    rig.expect("po-1/1", "signature")
    assert rig.receive(signatures("po-1/1", "partial")) == {"bridge"}
    assert len(rig.pending) == 0


# -- one id space per kind ---------------------------------------------------------------


def test_a_pegin_and_a_signature_request_sharing_an_id_each_get_their_own_answer(
        rig: Rig) -> None:
    rig.expect("x/1", "pegin")
    rig.expect("x/1", "signature")
    assert rig.receive(signatures("x/1")) == {"bridge"}
    assert ("pegin", "x/1") in rig.pending and ("signature", "x/1") not in rig.pending
    rig.receive(Acknowledged("x/1", "success"))
    assert rig.session.calls == [("reply", BRIDGE, Delivered("x/1"))]
    assert len(rig.pending) == 0


def test_a_signature_answer_with_a_pegin_notices_id_answers_nothing(rig: Rig) -> None:
    rig.expect("x/1", "pegin")
    before = unexpected("unknown_response")
    assert rig.receive(signatures("x/1")) == set()
    assert ("pegin", "x/1") in rig.pending
    assert unexpected("unknown_response") == before + 1


def test_an_ack_for_an_id_a_pegin_and_a_status_update_share_answers_the_one_sent_first(
        rig: Rig) -> None:
    rig.expect("same", "status", sender=None, sent_at=1.0)
    rig.expect("same", "pegin", sent_at=2.0)
    rig.receive(Acknowledged("same", "success"))
    assert ("status", "same") not in rig.pending and ("pegin", "same") in rig.pending
    assert rig.session.calls == []
    rig.receive(Acknowledged("same", "success"))
    assert rig.session.calls == [("reply", BRIDGE, Delivered("same"))]


def test_an_error_for_an_id_several_kinds_share_answers_the_one_sent_first(rig: Rig) -> None:
    pegin_sender = ActorAddress("pegin-sender")
    rig.expect("x/1", "signature", sent_at=5.0)
    rig.expect("x/1", "pegin", sender=pegin_sender, sent_at=3.0)
    rig.receive(ErrorReceived("x/1", "invalid_request", "no", None, None, "error"))
    assert rig.session.calls == [
        ("reply", pegin_sender, GovernanceError("x/1", "invalid_request", "no", kind="pegin"))]
    assert ("signature", "x/1") in rig.pending and ("pegin", "x/1") not in rig.pending


# -- retry_after -------------------------------------------------------------------------


def test_a_huge_retry_after_suspends_and_tells_the_sender_no_more_than_the_cap(
        rig: Rig) -> None:
    rig.expect("po-3/1", "signature")
    rig.receive(ErrorReceived("po-3/1", "rate_limited", "go away", None, 2**31 - 1, "error"))
    assert rig.session.calls == [
        ("reply", BRIDGE, GovernanceError("po-3/1", "rate_limited", "go away",
                                          MAX_RETRY_AFTER_S, "signature")),
        ("move", State.SUSPENDED, "governance asked to hold off for 300s"),
        ("schedule", "resume", MAX_RETRY_AFTER_S),
    ]


def test_a_retry_after_within_the_cap_is_honoured_as_it_is(rig: Rig) -> None:
    rig.receive(ErrorReceived("nobody", "service_unavailable", "busy", None, 299.0, "error"))
    assert rig.session.calls[-1] == ("schedule", "resume", 299.0)


# -- pushes before registration -----------------------------------------------------------


@pytest.mark.parametrize("state", [State.REGISTERING, State.CONNECTING])
def test_a_push_before_the_session_is_registered_is_dropped_and_counted(
        rig: Rig, state: State) -> None:
    rig.session.state = state
    proposal = ProposalReceived("prop-1", "upgrade", b"", 0, 1)
    before = unexpected("before_registration")
    assert rig.receive(federation("fed-1"), ProposalArrived("push-1", proposal)) == set()
    assert len(rig.router) == 0
    assert unexpected("before_registration") == before + 2
    # Governance pushes it again once the session is up: it is not taken as a duplicate.
    rig.session.state = State.CONNECTED
    assert rig.receive(federation("fed-1")) == {"chain"}


def test_a_push_while_suspended_is_routed(rig: Rig) -> None:
    rig.session.state = State.SUSPENDED
    assert rig.receive(federation("fed-2")) == {"chain"}


@pytest.mark.parametrize("kind", ["unknown_payload", "too_large", "too_many", "out_of_range",
                                  "bad_id"])
def test_a_refused_frame_is_counted_under_its_own_kind_and_changes_nothing(
    rig: Rig, kind: str
) -> None:
    before, malformed = unexpected(kind), unexpected("malformed")
    rig.handler.handle(Malformed(1, f"a frame refused as {kind}", kind), set())
    assert rig.session.calls == [] and rig.handler.received == 0
    assert (unexpected(kind), unexpected("malformed")) == (before + 1, malformed)
