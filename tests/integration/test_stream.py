"""The StreamActor against a real mock governance server process, through the ActorSystem API."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from actors.messages import (
    ConnectionStatus,
    GovernanceError,
    NotifyPegin,
    RequestQueued,
    RequestRejected,
    RequestSignatures,
    RequestTimedOut,
)
from harness.mock import MockGovernance, start_mock_governance
from harness.nodes import log_text
from harness.ports import free_port
from harness.stream import FAST_GOVERNANCE, stream_node, wait_state
from harness.waiting import wait_until
from tests.support.certs import make_certs
from tests.support.stream import (
    FEDERATION_UPDATE,
    collect,
    payload_kind,
    sent_by_node,
    sent_of_kind,
    submit,
)

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def mock(tmp_path: Path) -> Iterator[MockGovernance]:
    server = start_mock_governance(tmp_path / "mock")
    yield server
    server.stop()


def signature_request(n: int) -> RequestSignatures:
    return RequestSignatures(request_id=f"sig-{n}", tx_hex="00" * 60, input_indices=(0, 1),
                             amounts=(50_000, 70_000), tx_type="pegout", required_signatures=2)


def pegin_notice(n: int) -> NotifyPegin:
    return NotifyPegin(request_id=f"pegin-{n}", btc_txid=f"{n:064x}", vout=0, amount=10_000,
                       evm_address="0x" + "ab" * 20, confirmations=6)


def test_the_node_registers_first_then_heartbeats_and_reports_status(
    tmp_path: Path, mock: MockGovernance
) -> None:
    with stream_node(tmp_path, [mock.target]) as node:
        status = wait_state(node.client, "connected")
        assert status.endpoint == mock.target and status.circuit == "closed"
        wait_until(lambda: len(sent_of_kind(mock, "heartbeat")) >= 3, timeout=30,
                   message="fewer than 3 heartbeats")
        wait_until(lambda: sent_of_kind(mock, "status_update"), timeout=30,
                   message="no status update")
        wait_until(lambda: node.client.connection_status().last_heartbeat_ack is not None,
                   timeout=30, message="no heartbeat ack recorded")

        sent = sent_by_node(mock)
        assert payload_kind(sent[0]) == "node_registration"
        sequences = [int(h["heartbeat"]["sequence"]) for h in sent_of_kind(mock, "heartbeat")]
        assert sequences == sorted(sequences) and len(set(sequences)) == len(sequences)


def test_requests_get_queued_acks_and_reach_governance_after_registration(
    tmp_path: Path, mock: MockGovernance
) -> None:
    with stream_node(tmp_path, [mock.target]) as node:
        replies = submit(node, [signature_request(1), pegin_notice(1)])
        assert set(replies) == {RequestQueued("sig-1"), RequestQueued("pegin-1")}
        wait_until(lambda: sent_of_kind(mock, "signature_request")
                   and sent_of_kind(mock, "pegin_notification"), timeout=30,
                   message="requests did not reach governance")
        kinds = [payload_kind(r) for r in sent_by_node(mock)]
        assert kinds[0] == "node_registration"
        request = sent_of_kind(mock, "signature_request")[0]
        assert request["metadata"]["request_id"] == "sig-1"
        assert request["metadata"]["node_id"] == "alys-test"
        assert request["metadata"]["priority"] == "REQUEST_PRIORITY_HIGH"
        # the mock answers the signature request; the pending entry is resolved
        wait_until(lambda: node.client.connection_status().pending == 0, timeout=30,
                   message="requests still pending")


def test_requests_made_while_governance_is_down_are_delivered_once_in_order(
    tmp_path: Path,
) -> None:
    port = free_port()
    with stream_node(tmp_path, [f"127.0.0.1:{port}"]) as node:
        wait_until(lambda: node.client.connection_status().state in ("reconnecting", "failed"),
                   timeout=30, message="the stream did not notice governance is down")
        messages: list = []
        for n in range(1250):  # interleaved, so order matters
            messages += [pegin_notice(n), signature_request(n)]
        replies = submit(node, messages, timeout=120)
        assert all(isinstance(r, RequestQueued) for r in replies)
        assert node.client.connection_status().buffered == 2500

        mock = start_mock_governance(tmp_path / "late-mock", port=port)
        try:
            wait_until(lambda: len(sent_of_kind(mock, "signature_request")) == 1250
                       and len(sent_of_kind(mock, "pegin_notification")) == 1250,
                       timeout=120, message=lambda: f"{len(sent_by_node(mock))} recorded")
            sent = [r for r in sent_by_node(mock)
                    if payload_kind(r) in ("signature_request", "pegin_notification")]
            ids = [r["metadata"]["request_id"] for r in sent]
            assert ids == [f"sig-{n}" for n in range(1250)] + [f"pegin-{n}" for n in range(1250)]
            assert payload_kind(sent_by_node(mock)[0]) == "node_registration"
            assert node.client.connection_status().buffered == 0
        finally:
            mock.stop()


def test_a_full_outbox_rejects_and_reports_what_it_drops(tmp_path: Path) -> None:
    port = free_port()
    outbox = {"capacity": 5, "overflow": "reject_new"}
    with stream_node(tmp_path, [f"127.0.0.1:{port}"], outbox=outbox) as node:
        replies = submit(node, [signature_request(n) for n in range(8)])
        queued = [r for r in replies if isinstance(r, RequestQueued)]
        rejected = [r for r in replies if isinstance(r, RequestRejected)]
        assert [r.request_id for r in queued] == [f"sig-{n}" for n in range(5)]
        assert {(r.request_id, r.reason) for r in rejected} == {
            (f"sig-{n}", "overflow_reject_new") for n in range(5, 8)}


def test_a_restarted_server_is_reconnected_and_registered_again(
    tmp_path: Path, mock: MockGovernance
) -> None:
    with stream_node(tmp_path, [mock.target]) as node:
        wait_state(node.client, "connected")
        mock.stop()
        wait_until(lambda: node.client.connection_status().state != "connected", timeout=30,
                   message="the stream did not notice the server stopped")
        again = start_mock_governance(tmp_path / "mock-again", port=mock.grpc_port)
        try:
            status = wait_state(node.client, "connected")
            assert status.reconnects == 1
            assert payload_kind(sent_by_node(again)[0]) == "node_registration"
        finally:
            again.stop()


def test_a_stalled_server_is_detected_by_the_heartbeat_timeout(
    tmp_path: Path, mock: MockGovernance
) -> None:
    with stream_node(tmp_path, [mock.target]) as node:
        wait_state(node.client, "connected")
        assert mock.post("/behaviour", {"stall": True}).status == 200
        wait_until(lambda: node.client.connection_status().reconnects >= 1, timeout=30,
                   message="the stall was not detected")
        assert mock.post("/behaviour", {"stall": False}).status == 200
        wait_state(node.client, "connected")


def test_the_first_endpoint_down_fails_over_to_the_next(
    tmp_path: Path, mock: MockGovernance
) -> None:
    down = f"127.0.0.1:{free_port()}"
    with stream_node(tmp_path, [down, mock.target]) as node:
        status = wait_state(node.client, "connected")
        assert status.endpoint == mock.target


def test_the_circuit_opens_after_refused_registrations_and_recovers(
    tmp_path: Path, mock: MockGovernance
) -> None:
    assert mock.post("/behaviour", {"refuse_registration": True}).status == 200
    with stream_node(tmp_path, [mock.target]) as node:
        status = wait_state(node.client, "failed")
        assert status.circuit == "open"
        refused = len(sent_of_kind(mock, "node_registration"))
        assert refused in (5, 6)  # the failure threshold (and perhaps one trial): no tight loop
        assert mock.post("/behaviour", {"refuse_registration": False}).status == 200
        status = wait_state(node.client, "connected")
        assert status.circuit == "closed"


def test_a_wrong_token_opens_the_circuit_and_never_reaches_a_log(
    tmp_path: Path, mock: MockGovernance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALYS_TEST_TOKEN", "wrong-secret-token")
    assert mock.post("/behaviour", {"require_token": "right-token"}).status == 200
    with stream_node(tmp_path, [mock.target], auth={"token_env": "ALYS_TEST_TOKEN"}) as node:
        status = wait_state(node.client, "failed")
        assert status.circuit == "open"
        log = Path(node.config.logging.file).read_text()
        assert "wrong-secret-token" not in log
    monkeypatch.setenv("ALYS_TEST_TOKEN", "right-token")
    with stream_node(tmp_path / "right", [mock.target],
                     auth={"token_env": "ALYS_TEST_TOKEN"}) as node:
        wait_state(node.client, "connected")


def test_retry_after_suspends_the_stream_until_it_elapses(
    tmp_path: Path, mock: MockGovernance
) -> None:
    error = {"count": 1, "code": "rate_limited", "retry_after_s": 2, "message": "slow down"}
    with stream_node(tmp_path, [mock.target]) as node:
        wait_state(node.client, "connected")
        assert mock.post("/behaviour", {"error_next": error}).status == 200
        assert submit(node, [signature_request(1)]) == [RequestQueued("sig-1")]
        answer = collect(node, 1)[0]
        assert answer == GovernanceError("sig-1", "rate_limited", "slow down", 2.0,
                                          "signature")
        wait_state(node.client, "suspended")
        assert submit(node, [signature_request(2)]) == [RequestQueued("sig-2")]
        assert node.client.connection_status().buffered == 1  # held back while suspended
        wait_state(node.client, "connected")
        wait_until(lambda: any(r["metadata"]["request_id"] == "sig-2"
                               for r in sent_of_kind(mock, "signature_request")),
                   timeout=30, message="sig-2 was not sent after the suspension")


def test_an_unanswered_request_times_out_and_its_sender_is_told(
    tmp_path: Path, mock: MockGovernance
) -> None:
    # no status updates in this test: a silent governance would leave them pending too
    with stream_node(tmp_path, [mock.target], status_interval_s=60,
                     request_timeout_s={"signature": 0.5, "pegin": 30, "status": 30}) as node:
        wait_state(node.client, "connected")
        assert mock.post("/behaviour", {"silent": True}).status == 200
        assert submit(node, [signature_request(1)]) == [RequestQueued("sig-1")]
        assert collect(node, 1) == [RequestTimedOut("sig-1", "signature")]
        assert node.client.connection_status().pending == 0


def test_duplicate_unknown_and_malformed_frames_are_survived(
    tmp_path: Path, mock: MockGovernance
) -> None:
    with stream_node(tmp_path, [mock.target]) as node:
        wait_state(node.client, "connected")
        assert mock.post("/behaviour", {"answer_twice": True}).status == 200
        submit(node, [signature_request(1)])
        unknown = {"metadata": {"request_id": "nobody-asked", "status": "STATUS_CODE_SUCCESS"},
                   "signature_response": {"status": "SIGNATURE_STATUS_COMPLETE"}}
        assert mock.post("/push", {"message": unknown}).body["delivered"] == 1
        assert mock.post("/push_raw", {"base64": "////"}).body["delivered"] == 1
        from runtime import metrics

        def counted() -> bool:
            text = metrics.exposition().decode()
            return all(f'alys_stream_unexpected_frames_total{{kind="{kind}"}}' in text
                       for kind in ("unknown_response", "malformed"))

        wait_until(counted, timeout=30, message="unexpected frames were not counted")
        status = node.client.connection_status()
        assert status.state == "connected" and status.reconnects == 0


def test_a_killed_stream_actor_comes_back_and_registers_again(
    tmp_path: Path, mock: MockGovernance
) -> None:
    with stream_node(tmp_path, [mock.target]) as node:
        wait_state(node.client, "connected")
        old_pid = node.client.ping("stream").pid
        os.kill(old_pid, signal.SIGKILL)
        wait_until(lambda: len(sent_of_kind(mock, "node_registration")) == 2, timeout=30,
                   message="the restarted stream did not register")
        wait_state(node.client, "connected")
        assert node.client.ping("stream").pid != old_pid


def test_a_request_the_wire_cannot_carry_is_rejected_at_once(
    tmp_path: Path, mock: MockGovernance
) -> None:
    bad = RequestSignatures(request_id="bad-1", tx_hex="00", input_indices=(0,), amounts=(1,),
                            tx_type="not-a-type", required_signatures=1)
    with stream_node(tmp_path, [mock.target]) as node:
        wait_state(node.client, "connected")
        [reply] = submit(node, [bad])
        assert isinstance(reply, RequestRejected) and reply.request_id == "bad-1"
        assert reply.reason.startswith("invalid:") and "not-a-type" in reply.reason
        assert node.client.connection_status().state == "connected"


@pytest.mark.parametrize("mtls", [False, True], ids=["tls", "mtls"])
def test_tls_and_mutual_tls_connect_with_the_right_certificates(
    tmp_path: Path, mtls: bool
) -> None:
    certs = make_certs(tmp_path / "certs")
    server = start_mock_governance(tmp_path / "mock", extra_args=certs.server_args(mtls=mtls))
    tls = {"enabled": True, "ca_file": str(certs.ca),
           "cert_file": str(certs.client_cert) if mtls else None,
           "key_file": str(certs.client_key) if mtls else None}
    try:
        with stream_node(tmp_path / "node", [server.target], tls=tls) as node:
            wait_state(node.client, "connected")
    finally:
        server.stop()


@pytest.mark.parametrize("case", ["wrong_ca", "mtls_without_client_cert", "missing_ca_file"])
def test_tls_with_the_wrong_credentials_never_connects(tmp_path: Path, case: str) -> None:
    certs = make_certs(tmp_path / "certs")
    mtls = case == "mtls_without_client_cert"
    server = start_mock_governance(tmp_path / "mock", extra_args=certs.server_args(mtls=mtls))
    ca = {"wrong_ca": certs.other_ca, "mtls_without_client_cert": certs.ca,
          "missing_ca_file": tmp_path / "no-such-ca.pem"}[case]
    tls = {"enabled": True, "ca_file": str(ca), "cert_file": None, "key_file": None}
    try:
        with stream_node(tmp_path / "node", [server.target], tls=tls) as node:
            status = wait_state(node.client, "failed")
            assert status.circuit == "open"
            assert not sent_of_kind(server, "node_registration")
    finally:
        server.stop()


def test_messages_routed_to_a_killed_chain_are_handled_after_its_restart(
    tmp_path: Path, mock: MockGovernance
) -> None:
    with stream_node(tmp_path, [mock.target]) as node:
        wait_state(node.client, "connected")
        chain_pid = node.client.ping("chain").pid
        pushed = mock.post("/push_many", {"message": FEDERATION_UPDATE, "count": 3000,
                                          "id_prefix": "fed-"})
        assert pushed.body == {"delivered": 3000}
        wait_until(lambda: node.client.connection_status().messages_received >= 100, timeout=30,
                   message="no federation update arrived")
        os.kill(chain_pid, signal.SIGKILL)  # while the rest is still being routed

        wait_until(lambda: node.client.connection_status().messages_received >= 3000, timeout=60,
                   message=lambda: f"received {node.client.connection_status().messages_received}")
        wait_until(lambda: node.client.connection_status().unhandled == 0, timeout=60,
                   message=lambda: f"{node.client.connection_status().unhandled} still unhandled")
        assert node.client.ping("chain").pid != chain_pid
        assert node.client.connection_status().state == "connected"


def test_signature_answers_routed_to_a_killed_bridge_are_handled_after_its_restart(
    tmp_path: Path, mock: MockGovernance
) -> None:
    with stream_node(tmp_path, [mock.target]) as node:
        wait_state(node.client, "connected")
        bridge_pid = node.client.ping("bridge").pid
        stream = node.client.lookup("stream")
        for n in range(1500):
            node.client.tell(stream, signature_request(n))
        wait_until(lambda: node.client.connection_status().messages_received >= 100, timeout=30,
                   message="no signature answer arrived")
        os.kill(bridge_pid, signal.SIGKILL)  # while answers are still being routed to it

        def settled() -> bool:
            status = node.client.connection_status()
            return status.pending == 0 and status.unhandled == 0

        wait_until(settled, timeout=60, message=lambda: f"{node.client.connection_status()}")
        answered = collect(node, 1500)
        assert {r.request_id for r in answered} == {f"sig-{n}" for n in range(1500)}
        assert len(sent_of_kind(mock, "signature_request")) == 1500  # each sent once
        assert node.client.ping("bridge").pid != bridge_pid


def test_with_max_attempts_spent_the_stream_keeps_reconnecting_and_connects_once_back(
    tmp_path: Path,
) -> None:
    port = free_port()
    reconnect = {**FAST_GOVERNANCE["reconnect"], "max_attempts": 1}
    # A breaker that never opens here, so every failure past the first says why it waits.
    breaker = {"failure_threshold": 1000, "reset_timeout_s": 1.0}
    with stream_node(tmp_path, [f"127.0.0.1:{port}"], reconnect=reconnect,
                     circuit_breaker=breaker) as node:
        def spent() -> ConnectionStatus | None:
            status = node.client.connection_status()
            why = "reconnect attempts exhausted (max_attempts=1), still trying"
            return status if status.state == "failed" and why in status.reason else None

        exhausted = wait_until(spent, timeout=30,
                               message=lambda: f"{node.client.connection_status()}")
        assert exhausted.last_error and exhausted.last_error in exhausted.reason
        # Still trying, not parked: it goes from failed to connecting again and again.
        wait_until(lambda: log_text(node.config).count("failed -> connecting") >= 3,
                   timeout=30, message="the stream stopped trying")

        mock = start_mock_governance(tmp_path / "late-mock", port=port)
        try:
            status = wait_state(node.client, "connected")
            assert status.last_error is None
            assert status.reason == f"registered at 127.0.0.1:{port}"
        finally:
            mock.stop()


def test_a_huge_retry_after_suspends_the_stream_no_longer_than_the_cap(
    tmp_path: Path, mock: MockGovernance
) -> None:
    # A day: the longest retry_after the wire takes (longer is a malformed frame).
    error = {"count": 1, "code": "rate_limited", "retry_after_s": 86_400, "message": "tomorrow"}
    with stream_node(tmp_path, [mock.target], max_retry_after_s=1) as node:
        wait_state(node.client, "connected")
        assert mock.post("/behaviour", {"error_next": error}).status == 200
        assert submit(node, [signature_request(1)]) == [RequestQueued("sig-1")]
        assert collect(node, 1) == [GovernanceError("sig-1", "rate_limited", "tomorrow", 1.0,
                                                     "signature")]
        suspended = wait_state(node.client, "suspended")
        assert suspended.reason == "governance asked to hold off for 1s"
        assert submit(node, [signature_request(2)]) == [RequestQueued("sig-2")]
        wait_state(node.client, "connected")
        wait_until(lambda: any(r["metadata"]["request_id"] == "sig-2"
                               for r in sent_of_kind(mock, "signature_request")),
                   timeout=30, message="sig-2 was not sent after the suspension")
