"""The mock governance server, driven from outside as a node and a test tool would.

The server runs as its own process; gRPC traffic comes from
tests/support/grpc_client.py in further processes (this process forks
Thespian actor systems elsewhere and must never initialise gRPC). Control
goes over HTTP/JSON with the stdlib.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from google.protobuf import json_format

from protocol import governance_pb2 as pb
from tests.support.client import GrpcClients
from tests.support.mock import (
    REPO_ROOT,
    MockGovernance,
    project_env,
    start_mock_governance,
)
from tests.support.ports import port_is_free
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(120)

NODE = "node-a"


# ------------------------------------------------------------------ building requests


def as_json(message: Any) -> dict[str, Any]:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def stream_request(request_id: str, node_id: str = NODE, **payload: Any) -> dict[str, Any]:
    metadata = pb.RequestMetadata(
        request_id=request_id,
        timestamp=1_700_000_000,
        node_id=node_id,
        protocol_version="governance.v1",
        priority=pb.REQUEST_PRIORITY_NORMAL,
    )
    return as_json(pb.StreamRequest(metadata=metadata, **payload))


def registration(request_id: str = "reg-1", node_id: str = NODE) -> dict[str, Any]:
    return stream_request(
        request_id,
        node_id,
        node_registration=pb.NodeRegistration(
            node_info=pb.NodeInfo(public_key="02ab", node_type=pb.NODE_TYPE_BRIDGE, version="0.1"),
            capabilities=["pegout"],
            auth=pb.AuthCredentials(auth_type=pb.AUTH_TYPE_BEARER, credential_data=b"token"),
        ),
    )


def heartbeat(sequence: int, node_id: str = NODE, timestamp: int = 1_700_000_100) -> dict[str, Any]:
    return stream_request(
        f"hb-{sequence}",
        node_id,
        heartbeat=pb.Heartbeat(
            timestamp=timestamp + sequence, sequence=sequence, health=pb.HEALTH_STATUS_HEALTHY
        ),
    )


def as_responses(dicts: list[dict[str, Any]]) -> list[pb.StreamResponse]:
    return [json_format.ParseDict(d, pb.StreamResponse()) for d in dicts]


# ------------------------------------------------------------------ fixtures


@pytest.fixture
def mock(tmp_path: Path) -> Iterator[MockGovernance]:
    server = start_mock_governance(tmp_path / "mock")
    try:
        yield server
    finally:
        exit_code = server.stop()
    assert exit_code == 0, server.stderr()


@pytest.fixture
def clients(tmp_path: Path, mock: MockGovernance) -> Iterator[GrpcClients]:
    pool = GrpcClients(tmp_path, mock.target)
    yield pool
    assert pool.close() == [], "a gRPC client was still running at the end of the test"


def connected_nodes(mock: MockGovernance) -> list[str]:
    return [c["node_id"] for c in mock.connections()]


# ------------------------------------------------------------------ the stream


def test_registration_is_acked_with_the_node_id_and_a_session_token(
    clients: GrpcClients,
) -> None:
    result = clients.stream([registration("reg-1")], expect=1).wait()

    assert result.returncode == 0, result.stderr
    (response,) = as_responses(result.responses)
    assert response.WhichOneof("payload") == "registration_ack"
    assert response.registration_ack.accepted
    assert response.registration_ack.assigned_node_id == NODE
    assert response.registration_ack.session_token
    assert response.metadata.request_id == "reg-1"
    assert response.metadata.status == pb.STATUS_CODE_SUCCESS


def test_heartbeats_are_acked_with_their_own_sequence_in_order(clients: GrpcClients) -> None:
    sequences = [1, 2, 7]
    requests = [registration(), *(heartbeat(s) for s in sequences)]

    result = clients.stream(requests, expect=len(requests)).wait()

    assert result.returncode == 0, result.stderr
    acks = as_responses(result.responses)[1:]
    assert [a.WhichOneof("payload") for a in acks] == ["heartbeat_ack"] * len(sequences)
    assert [a.heartbeat_ack.sequence for a in acks] == sequences
    assert [a.heartbeat_ack.original_timestamp for a in acks] == [
        1_700_000_100 + s for s in sequences
    ]
    assert all(a.heartbeat_ack.ack_timestamp > 1_700_000_000 for a in acks)
    assert [a.metadata.request_id for a in acks] == [f"hb-{s}" for s in sequences]
    assert {a.metadata.status for a in acks} == {pb.STATUS_CODE_SUCCESS}


def test_the_record_keeps_every_request_in_order_per_node(
    mock: MockGovernance, clients: GrpcClients
) -> None:
    node_a = [
        registration("a-reg", "node-a"),
        heartbeat(1, "node-a"),
        stream_request(
            "a-status",
            "node-a",
            status_update=pb.StatusUpdate(status=pb.NODE_STATUS_ACTIVE, block_height=42),
        ),
        stream_request(
            "a-pegin",
            "node-a",
            pegin_notification=pb.PeginNotification(btc_txid="ab" * 32, vout=1, amount=5),
        ),
        heartbeat(2, "node-a"),
    ]
    node_b = [registration("b-reg", "node-b"), heartbeat(1, "node-b")]

    # Half-closing makes the mock end each call once it has answered.
    first = clients.stream(node_a, half_close=True)
    second = clients.stream(node_b, half_close=True)
    for result in (first.wait(), second.wait()):
        assert result.returncode == 0, result.stderr

    assert mock.record() == {"node-a": node_a, "node-b": node_b}
    assert mock.record("node-b") == {"node-b": node_b}
    assert mock.record("nobody") == {"nobody": []}

    reset = mock.post("/reset")
    assert reset.status == 200
    assert reset.body == {"cleared": len(node_a) + len(node_b)}
    assert mock.record() == {}


def test_a_pushed_message_reaches_the_nodes_open_stream(
    mock: MockGovernance, clients: GrpcClients
) -> None:
    client = clients.stream([registration()], expect=2)
    wait_until(lambda: NODE in connected_nodes(mock), message="node-a connected")
    update = pb.StreamResponse(
        metadata=pb.ResponseMetadata(request_id="fed-1", status=pb.STATUS_CODE_SUCCESS),
        federation_update=pb.FederationUpdate(
            update_type=pb.FEDERATION_UPDATE_TYPE_MEMBER_ADD,
            members=[pb.FederationMember(member_id="m1", public_key=b"\x02" * 33, active=True)],
            effective_height=100,
            config=pb.FederationConfig(signature_threshold=2, parameters={"version": "2"}),
        ),
    )

    to_nobody = mock.post("/push", {"node_id": "nobody", "message": as_json(update)})
    pushed = mock.post("/push", {"node_id": NODE, "message": as_json(update)})

    assert to_nobody.status == 200
    assert to_nobody.body == {"delivered": 0}
    assert pushed.status == 200
    assert pushed.body == {"delivered": 1}
    result = client.wait()
    assert result.returncode == 0, result.stderr
    ack, received = as_responses(result.responses)
    assert ack.WhichOneof("payload") == "registration_ack"
    assert received == update


def test_a_push_without_node_id_goes_to_every_open_stream(
    mock: MockGovernance, clients: GrpcClients
) -> None:
    first = clients.stream([registration("r1", "node-a")], expect=2)
    second = clients.stream([registration("r2", "node-b")], expect=2)
    wait_until(
        lambda: sorted(connected_nodes(mock)) == ["node-a", "node-b"], message="both connected"
    )
    proposal = pb.StreamResponse(
        metadata=pb.ResponseMetadata(request_id="prop-1"),
        proposal_notification=pb.ProposalNotification(
            proposal_id="p1", proposal_type=pb.PROPOSAL_TYPE_UPGRADE, required_votes=2
        ),
    )

    reply = mock.post("/push", {"message": as_json(proposal)})

    assert reply.body == {"delivered": 2}
    for client in (first, second):
        result = client.wait()
        assert result.returncode == 0, result.stderr
        assert as_responses(result.responses)[1] == proposal


def test_connections_list_each_open_stream_with_its_node_and_peer(
    mock: MockGovernance, clients: GrpcClients
) -> None:
    client = clients.stream([registration()], expect=2)

    (connection,) = wait_until(mock.connections, message="a connection")
    wait_until(lambda: connected_nodes(mock) == [NODE], message="the node id learnt")

    assert connection["peer"].startswith("ipv4:127.0.0.1:")
    assert connection["connected_at"] > 1_700_000_000
    mock.post("/push", {"node_id": NODE, "message": {"metadata": {"request_id": "bye"}}})
    assert client.wait().returncode == 0
    wait_until(lambda: mock.connections() == [], message="the stream to be forgotten")


# ------------------------------------------------------------------ misbehaviour


def test_refuse_registration_acks_with_accepted_false_until_switched_off(
    mock: MockGovernance, clients: GrpcClients
) -> None:
    switched_on = mock.post("/behaviour", {"refuse_registration": True})
    assert switched_on.status == 200
    assert switched_on.body["behaviour"]["refuse_registration"] is True

    refused = clients.stream([registration("reg-1")], expect=1).wait()
    mock.post("/behaviour", {"refuse_registration": False})
    accepted = clients.stream([registration("reg-2")], expect=1).wait()

    (ack,) = as_responses(refused.responses)
    assert not ack.registration_ack.accepted
    assert not ack.registration_ack.HasField("session_token")
    assert ack.metadata.request_id == "reg-1"
    assert ack.metadata.status == pb.STATUS_CODE_UNAUTHORIZED
    (ack,) = as_responses(accepted.responses)
    assert ack.registration_ack.accepted


def test_drop_streams_aborts_every_open_stream_with_unavailable(
    mock: MockGovernance, clients: GrpcClients
) -> None:
    client = clients.stream([registration()], expect=3)
    wait_until(lambda: len(client.responses()) == 1, message="the registration ack")

    reply = mock.post("/behaviour", {"drop_streams": True})

    assert reply.status == 200
    assert reply.body["applied"] == {"drop_streams": 1}
    result = client.wait()
    assert result.returncode == 3, result.stderr
    assert "status=UNAVAILABLE" in result.stderr
    wait_until(lambda: mock.connections() == [], message="the dropped stream to be forgotten")
    # one-shot: a new stream is served normally
    again = clients.stream([registration("reg-2")], expect=1).wait()
    assert again.returncode == 0, again.stderr


def test_stall_holds_requests_unread_until_lifted(
    mock: MockGovernance, clients: GrpcClients
) -> None:
    assert mock.post("/behaviour", {"stall": True}).status == 200
    client = clients.stream([registration()], expect=1)
    wait_until(mock.connections, message="the stalled stream to be open")

    held_record = mock.record()
    held_responses = client.responses()
    mock.post("/behaviour", {"stall": False})
    result = client.wait()

    assert held_record == {}
    assert held_responses == []
    assert result.returncode == 0, result.stderr
    assert as_responses(result.responses)[0].registration_ack.accepted
    assert mock.record() == {NODE: [registration()]}


# ------------------------------------------------------------------ unary calls


def test_health_reports_healthy_with_version_uptime_and_info(clients: GrpcClients) -> None:
    result = clients.call("health")

    assert result.returncode == 0, result.stderr
    (raw,) = result.responses
    health = json_format.ParseDict(raw, pb.HealthResponse())
    assert health.status == pb.HEALTH_STATUS_HEALTHY
    assert health.version
    assert health.uptime >= 0
    assert health.info["open_streams"] == "0"


def test_capabilities_name_governance_v1_with_features_and_limits(clients: GrpcClients) -> None:
    result = clients.call("capabilities", f"--node-id={NODE}")

    assert result.returncode == 0, result.stderr
    (raw,) = result.responses
    capabilities = json_format.ParseDict(raw, pb.CapabilitiesResponse())
    assert list(capabilities.protocol_versions) == ["governance.v1"]
    assert {"node_registration", "heartbeat"} <= set(capabilities.features)
    assert capabilities.limits["max_message_bytes"] > 0


# ------------------------------------------------------------------ control interface


def test_control_health_answers_ok(mock: MockGovernance) -> None:
    reply = mock.get("/health")
    assert (reply.status, reply.body) == (200, {"ok": True})


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "expected_in_error"),
    [
        ("POST", "/push", b"{not json", 400, "not valid JSON"),
        ("POST", "/behaviour", b"\xff\xfe", 400, "not valid JSON"),
        ("POST", "/push", b"[1, 2]", 400, "must be a JSON object, got list"),
        ("POST", "/push", b"{}", 400, "needs 'message'"),
        (
            "POST",
            "/push",
            b'{"message": {}, "extra": 1}',
            400,
            "unexpected key(s) in push body: extra",
        ),
        ("POST", "/push", b'{"node_id": 5, "message": {}}', 400, "'node_id' must be a string"),
        ("POST", "/push", b'{"message": {"no_such_field": 1}}', 400, "no_such_field"),
        ("POST", "/push", b'{"message": "hello"}', 400, "not a valid StreamResponse"),
        (
            "POST",
            "/push",
            b'{"message": {"heartbeat_ack": {"sequence": "many"}}}',
            400,
            "not a valid StreamResponse",
        ),
        ("POST", "/behaviour", b'{"fly_away": true}', 400, "unknown behaviour(s): fly_away"),
        ("POST", "/behaviour", b'{"stall": "yes"}', 400, "'stall' takes true or false"),
        ("POST", "/behaviour", b"", 400, "must be a JSON object, got null"),
        ("GET", "/nowhere", None, 404, "no endpoint /nowhere"),
        ("GET", "/push", None, 405, "/push accepts POST, not GET"),
    ],
)
def test_bad_control_input_is_refused_with_a_message_naming_the_problem(
    mock: MockGovernance,
    method: str,
    path: str,
    body: bytes | None,
    status: int,
    expected_in_error: str,
) -> None:
    reply = mock.request(method, path, body)

    assert reply.status == status, reply
    assert expected_in_error in reply.body["error"]


def test_a_refused_behaviour_request_changes_nothing(mock: MockGovernance) -> None:
    reply = mock.post("/behaviour", {"stall": True, "refuse_registration": True, "nope": 1})

    assert reply.status == 400
    assert "nope" in reply.body["error"]
    assert mock.get("/behaviour").body["behaviour"] == {
        "refuse_registration": False,
        "stall": False,
    }


# ------------------------------------------------------------------ process lifecycle


@pytest.mark.parametrize(
    "signum", [pytest.param(signal.SIGTERM, id="SIGTERM"), pytest.param(signal.SIGINT, id="SIGINT")]
)
def test_a_stop_signal_ends_streams_exits_0_and_leaves_nothing_running(
    tmp_path: Path, signum: signal.Signals
) -> None:
    server = start_mock_governance(tmp_path / "mock")
    clients = GrpcClients(tmp_path, server.target)
    try:
        client = clients.stream([registration()], expect=2)
        wait_until(lambda: len(client.responses()) == 1, message="the registration ack")
        assert mock_is_a_child(server)

        exit_code = server.stop(signum)
        result = client.wait()
    finally:
        server.stop()
        assert clients.close() == []

    assert exit_code == 0, server.stderr()
    # The open stream was ended cleanly (OK), not cut: the client saw it end early.
    assert result.returncode == 5, result.stderr
    assert "status=OK" in result.stderr
    assert not psutil.pid_exists(server.process.pid)
    assert port_is_free(server.grpc_port)
    assert port_is_free(server.control_port)


def mock_is_a_child(server: MockGovernance) -> bool:
    children = psutil.Process().children()
    return server.process.pid in {child.pid for child in children}


def test_exit_with_parent_follows_its_parent_out(tmp_path: Path) -> None:
    # A throwaway parent starts the mock, reports its pid, and dies.
    ready_file = tmp_path / "mock.stdout"
    launcher = (
        "import subprocess, sys\n"
        f"out = open({str(ready_file)!r}, 'wb')\n"
        "child = subprocess.Popen([sys.executable, '-m', 'protocol.mock_governance',"
        " '--port=0', '--control-port=0', '--exit-with-parent'], stdout=out)\n"
        "print(child.pid, flush=True)\n"
        "sys.stdin.read()\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", launcher],
        cwd=REPO_ROOT,
        env=project_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert parent.stdout is not None and parent.stdin is not None
    orphan_pid = int(parent.stdout.readline())
    try:
        wait_until(
            lambda: ready_file.read_text().startswith("mock-governance: ready"),
            message="the mock's ready line",
        )
        parent.stdin.close()  # the launcher exits
        assert parent.wait(timeout=30) == 0

        wait_until(lambda: not process_alive(orphan_pid), message="the orphaned mock to exit")
    finally:
        if process_alive(orphan_pid):
            psutil.Process(orphan_pid).kill()
        parent.kill()
        parent.wait()


def process_alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_exit_with_parent_exits_at_once_when_the_parent_is_already_gone(
    tmp_path: Path,
) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "protocol.mock_governance",
            "--port=0",
            "--control-port=0",
            "--exit-with-parent",
            f"--parent-pid={gone.pid}",
        ],
        cwd=REPO_ROOT,
        env=project_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert "already gone" in result.stderr


def test_helpers_and_the_control_path_never_import_grpc() -> None:
    probe = (
        "import sys\n"
        "import tests.support.mock, tests.support.client, tests.support.waiting\n"
        "import protocol.governance_pb2, protocol.mock.routes, protocol.mock.control\n"
        "assert 'grpc' not in sys.modules, sorted(m for m in sys.modules if 'grpc' in m)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO_ROOT,
        env=project_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
