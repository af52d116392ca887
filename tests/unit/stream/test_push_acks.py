"""Acknowledging governance's pushes (docs/protocol.md, convention 8), without an actor
system or grpc:
the capability check, the stream's inbound and outbound parts with fake sessions, the
encoder, and the mock's ledger."""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass, field

import pytest
from prometheus_client import REGISTRY

from actors.messages import NotifyPegin, ProposalReceived, UpdateFederation
from actors.stream.acks import ACK_KIND, AckMode, PushAcks, advertises_push_acks
from actors.stream.inbound import InboundHandler
from actors.stream.inbox import CapabilitiesAnswered, Malformed, Received
from actors.stream.liveness import Liveness
from actors.stream.outbound import OutboundRequests, Outgoing
from actors.stream.outbox import Outbox
from actors.stream.pending import PendingRequests
from actors.stream.routing import InboundRouter
from actors.stream.state import ConnectionState as State
from actors.stream.wire import encode
from actors.stream.wire.events import FederationReceived, ProposalArrived
from mock_governance.pushes import PushLedger
from nodeconfig import RequestTimeoutsConfig
from protocol import governance_pb2 as pb

pytestmark = pytest.mark.timeout(30)


# -- the capability -------------------------------------------------------------------


@pytest.mark.parametrize("features", [["push-ack"], ["signatures", "push-ack"], [" Push-Ack "]])
def test_the_push_ack_feature_is_recognised_in_a_capabilities_answer(
        features: list[str]) -> None:
    assert advertises_push_acks(features)


@pytest.mark.parametrize("features", [[], ["push_ack"], ["push-acks"], ["pushack"], [""]])
def test_anything_but_the_push_ack_feature_is_no_request_for_acknowledgements(
        features: list[str]) -> None:
    assert not advertises_push_acks(features)


def test_auto_follows_governance_and_on_and_off_do_not() -> None:
    auto, on, off = PushAcks("auto"), PushAcks("on"), PushAcks("off")
    assert auto.needs_capabilities and not on.needs_capabilities and not off.needs_capabilities
    assert not auto.wanted  # not asked yet: nothing is sent
    for acks in (auto, on, off):
        acks.advertised = True
    assert auto.wanted and on.wanted and not off.wanted
    for acks in (auto, on, off):
        acks.advertised = False
    assert not auto.wanted and on.wanted and not off.wanted


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError):
        PushAcks("sometimes")


def test_a_push_known_by_another_key_is_acknowledged_under_its_frame_id() -> None:
    acks = PushAcks(AckMode.ON)
    acks.track("prop-1", "push-7")
    acks.track("fed-1", "fed-1")
    assert acks.owed("prop-1") == "push-7"
    assert acks.owed("prop-1") == "prop-1"  # forgotten once owed
    assert acks.owed("fed-1") == "fed-1"


# -- the encoder ----------------------------------------------------------------------


def test_an_acknowledgement_carries_only_metadata_with_the_push_id() -> None:
    request = encode.push_ack(request_id="fed-9", node_id="node-a", now=1_700_000_000)
    assert request.WhichOneof("payload") is None
    assert request.metadata.request_id == "fed-9"
    assert request.metadata.node_id == "node-a"
    assert request.metadata.priority == pb.REQUEST_PRIORITY_LOW
    assert pb.StreamRequest.FromString(request.SerializeToString()) == request


# -- inbound: repeats, refusals, capabilities -------------------------------------------


@dataclass
class InboundSession:
    state: State = State.CONNECTED
    acknowledged: list[tuple[str, str]] = field(default_factory=list)
    capabilities: list[tuple[bool, str | None]] = field(default_factory=list)

    def move(self, target: State, reason: str) -> None:
        self.state = target

    def registered(self, ack: object = None) -> None: ...

    def lost(self, reason: str, auth_refused: bool = False) -> None: ...

    def schedule(self, kind: str, delay_s: float) -> None: ...

    def reply(self, to: object, message: object) -> None: ...

    def acknowledge(self, request_id: str, reason: str) -> None:
        self.acknowledged.append((request_id, reason))

    def capabilities_known(self, advertised: bool, error: str | None) -> None:
        self.capabilities.append((advertised, error))


@dataclass
class InboundRig:
    session: InboundSession
    handler: InboundHandler
    router: InboundRouter
    acks: PushAcks

    def receive(self, *events: object) -> set[str]:
        targets: set[str] = set()
        for event in events:
            self.handler.handle(event, targets)  # type: ignore[arg-type]
        return targets


@pytest.fixture
def inbound() -> InboundRig:
    session = InboundSession()
    router = InboundRouter()
    acks = PushAcks(AckMode.ON)
    clock = lambda: 100.0  # noqa: E731
    handler = InboundHandler(session, pending=PendingRequests[Outgoing](),
                             timed_out=OrderedDict(), liveness=Liveness(5.0, 15.0, clock, clock),
                             router=router, log=logging.getLogger("test.acks"), clock=clock,
                             acks=acks)
    return InboundRig(session, handler, router, acks)


def federation(request_id: str, version: int = 1) -> Received:
    update = UpdateFederation(request_id, "member_add", version, (), 1, 0, None, b"")
    return Received(1, FederationReceived(request_id, update))


def test_a_routed_push_is_not_acknowledged_before_the_chain_handled_it(
        inbound: InboundRig) -> None:
    assert inbound.receive(federation("fed-1")) == {"chain"}
    assert inbound.session.acknowledged == []
    # Pushed again while the chain still works on it: one acknowledgement will follow.
    assert inbound.receive(federation("fed-1")) == set()
    assert inbound.session.acknowledged == []


def test_a_push_repeated_after_it_was_handled_is_acknowledged_again_not_routed(
        inbound: InboundRig) -> None:
    inbound.receive(federation("fed-1"))
    assert inbound.router.handled("fed-1", "chain") == "chain"
    assert inbound.receive(federation("fed-1")) == set()
    assert inbound.router.unhandled_for("chain") == []
    assert inbound.session.acknowledged == [("fed-1", "repeat")]


def test_a_proposal_is_tracked_so_its_acknowledgement_names_the_frame_id(
        inbound: InboundRig) -> None:
    proposal = ProposalReceived("prop-1", "upgrade", b"", 0, 1)
    inbound.receive(Received(1, ProposalArrived("push-3", proposal)))
    assert inbound.router.handled("prop-1", "chain") == "chain"
    assert inbound.acks.owed("prop-1") == "push-3"


def test_a_push_before_registration_is_neither_routed_nor_acknowledged(
        inbound: InboundRig) -> None:
    inbound.session.state = State.REGISTERING
    assert inbound.receive(federation("fed-1")) == set()
    assert inbound.session.acknowledged == []


def test_a_refused_push_with_a_readable_id_is_acknowledged_and_counted(
        inbound: InboundRig) -> None:
    before = REGISTRY.get_sample_value("alys_stream_unexpected_frames_total",
                                       {"kind": "too_many"}) or 0.0
    inbound.receive(Malformed(1, "federation_update: too many members", "too_many",
                              push_id="fed-bad"),
                    Malformed(1, "frame does not parse"))
    assert inbound.session.acknowledged == [("fed-bad", "refused")]
    assert REGISTRY.get_sample_value("alys_stream_unexpected_frames_total",
                                     {"kind": "too_many"}) == before + 1


def test_a_capabilities_answer_or_its_failure_reaches_the_session(inbound: InboundRig) -> None:
    inbound.receive(CapabilitiesAnswered(1, True), CapabilitiesAnswered(1, False, "UNIMPLEMENTED"))
    assert inbound.session.capabilities == [(True, None), (False, "UNIMPLEMENTED")]


# -- outbound: through the outbox, never pending ------------------------------------------


@dataclass
class OutboundSession:
    state: State = State.CONNECTED
    written: list[tuple[str, str]] = field(default_factory=list)

    def write(self, request: pb.StreamRequest, kind: str) -> None:
        assert request.WhichOneof("payload") is None or kind != ACK_KIND
        self.written.append((request.metadata.request_id, kind))

    def reply(self, to: object, message: object) -> None: ...

    def schedule(self, kind: str, delay_s: float) -> None: ...

    def flush_later(self) -> None: ...


@dataclass
class OutboundRig:
    session: OutboundSession
    outbound: OutboundRequests
    pending: PendingRequests[Outgoing]


@pytest.fixture
def outbound() -> OutboundRig:
    session = OutboundSession()
    pending = PendingRequests[Outgoing]()
    requests = OutboundRequests(
        session, node_id="node-a", timeouts=RequestTimeoutsConfig(),
        outbox=Outbox[Outgoing](100, "drop_oldest"), pending=pending,
        log=logging.getLogger("test.acks"), clock=lambda: 1.0)
    return OutboundRig(session, requests, pending)


def test_with_the_session_up_an_acknowledgement_is_written_at_once_and_awaits_nothing(
        outbound: OutboundRig) -> None:
    outbound.outbound.acknowledge("fed-1")
    assert outbound.session.written == [("fed-1", ACK_KIND)]
    assert len(outbound.pending) == 0 and outbound.outbound.buffered == 0


def test_an_acknowledgement_made_while_disconnected_goes_after_the_reconnect_once(
        outbound: OutboundRig) -> None:
    outbound.session.state = State.RECONNECTING
    outbound.outbound.acknowledge("fed-1")
    outbound.outbound.acknowledge("fed-1")  # the chain confirmed a repeat meanwhile
    outbound.outbound.submit("pegin", "pegin-1", NotifyPegin("pegin-1", "ab" * 32, 0, 1_000,
                                                             "0x" + "11" * 20, 6), None)
    assert outbound.session.written == [] and outbound.outbound.buffered == 2
    outbound.session.state = State.CONNECTED
    outbound.outbound.flush()
    # Lowest priority: behind the peg-in notice that was queued after it.
    assert outbound.session.written == [("pegin-1", "pegin"), ("fed-1", ACK_KIND)]
    assert [entry.kind for entry in outbound.pending.entries()] == ["pegin"]


def test_queued_acknowledgements_are_dropped_if_the_new_session_does_not_take_them(
        outbound: OutboundRig) -> None:
    outbound.session.state = State.RECONNECTING
    outbound.outbound.acknowledge("fed-1")
    outbound.outbound.acks_wanted = False  # the endpoint reached next predates convention 8
    outbound.session.state = State.CONNECTED
    outbound.outbound.flush()
    assert outbound.session.written == [] and outbound.outbound.buffered == 0


# -- the mock's ledger --------------------------------------------------------------------


def push(request_id: str) -> pb.StreamResponse:
    return pb.StreamResponse(metadata=pb.ResponseMetadata(request_id=request_id),
                             federation_update=pb.FederationUpdate())


def test_the_mock_re_sends_unacknowledged_pushes_to_a_node_that_acknowledges() -> None:
    ledger = PushLedger()
    assert ledger.registered("n", ["signatures", "push-ack"]) == []
    for request_id in ("a", "b", "c"):
        ledger.queued("n", push(request_id))
    ledger.queued("n", pb.StreamResponse(metadata=pb.ResponseMetadata(request_id="x")))
    ledger.acknowledged("n", "b")
    ledger.acknowledged("n", "zzz")
    again = ledger.registered("n", ["push-ack"])
    assert [r.metadata.request_id for r in again] == ["a", "c"]
    state = ledger.to_json("n")["nodes"]["n"]
    assert state["acked"] == {"b": 1} and state["unacked"] == ["a", "c"]
    assert state["unknown_acks"] == {"zzz": 1} and state["resent"] == 2
    ledger.configure(resend=False)
    assert ledger.registered("n", ["push-ack"]) == []


def test_the_mock_keeps_nothing_for_a_node_that_does_not_acknowledge() -> None:
    ledger = PushLedger()
    ledger.registered("n", ["signatures"])
    ledger.queued("n", push("a"))
    assert ledger.registered("n", ["signatures"]) == []
    assert ledger.to_json("n")["nodes"]["n"]["sent"] == {}


def test_the_mock_advertises_the_feature_unless_told_not_to() -> None:
    ledger = PushLedger()
    assert "push-ack" in ledger.capabilities(["heartbeat"])
    ledger.configure(advertise=False)
    assert ledger.capabilities(["heartbeat"]) == ["heartbeat"]
