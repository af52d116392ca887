"""The mock governance server, driven from outside as a node and a test tool would.

The server runs as its own process; gRPC traffic comes from
tests/support/grpc_client.py in further processes (this process forks
Thespian actor systems elsewhere and must never initialise gRPC). Control
goes over HTTP/JSON with the stdlib.
"""

from __future__ import annotations

import base64
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from embit import ec
from embit.networks import NETWORKS
from embit.script import Script, multisig, p2wsh
from embit.transaction import SIGHASH, Transaction
from google.protobuf import json_format

from actors.messages import ApplySignatures, NotifyPegin, RequestSignatures
from actors.stream.wire import encode
from actors.stream.wire.decode import decode, update_digest
from actors.stream.wire.enums import ERROR_CODES
from actors.stream.wire.events import (
    Acknowledged,
    ErrorReceived,
    FederationReceived,
    SignaturesReceived,
)
from harness.mock import REPO_ROOT, MockGovernance, project_env, start_mock_governance
from harness.ports import port_is_free
from harness.waiting import wait_until
from mock_governance.federation import federation_keys
from protocol import governance_pb2 as pb
from tests.support.certs import CertFiles, make_certs
from tests.support.client import PLAINTEXT, Connection, GrpcClients
from tests.support.mock import unsigned_tx_hex

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


def registration(
    request_id: str = "reg-1", node_id: str = NODE, credential: bytes = b"token"
) -> dict[str, Any]:
    return stream_request(
        request_id,
        node_id,
        node_registration=pb.NodeRegistration(
            node_info=pb.NodeInfo(public_key="02ab", node_type=pb.NODE_TYPE_BRIDGE, version="0.1"),
            capabilities=["pegout"],
            auth=pb.AuthCredentials(auth_type=pb.AUTH_TYPE_BEARER, credential_data=credential),
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


def signature_request(
    request_id: str,
    inputs: tuple[int, ...] = (0,),
    required: int = 3,
    tx_hex: str | None = None,
    node_id: str = NODE,
) -> dict[str, Any]:
    """Built by wire.encode, as the node builds it; by default over a real transaction."""
    tx_hex = tx_hex or unsigned_tx_hex(max(inputs) + 1)
    msg = RequestSignatures(request_id, tx_hex, inputs, amounts(inputs), "pegout", required)
    return as_json(encode.signature_request(msg, request_id=request_id, node_id=node_id, now=1))


def amounts(inputs: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(10_000 + index for index in inputs)


def pegin(request_id: str) -> dict[str, Any]:
    msg = NotifyPegin(request_id, "ab" * 32, 0, 50_000, "0x" + "11" * 20, 6)
    return as_json(encode.pegin_notification(msg, request_id=request_id, node_id=NODE, now=1))


def status_update(request_id: str, height: int = 100) -> dict[str, Any]:
    update = encode.status_update(request_id=request_id, node_id=NODE, now=1, block_height=height)
    return as_json(update)


def as_responses(dicts: list[dict[str, Any]]) -> list[pb.StreamResponse]:
    return [json_format.ParseDict(d, pb.StreamResponse()) for d in dicts]


def payloads(responses: list[pb.StreamResponse]) -> list[str | None]:
    return [r.WhichOneof("payload") for r in responses]


def verify_signatures(
    answer: pb.SignatureResponse, request: dict[str, Any], witness_script: bytes, per_input: int
) -> list[bytes]:
    """Check every signature with embit, the node's library; returns the signers' keys."""
    sig = request["signature_request"]
    tx = Transaction.parse(bytes.fromhex(sig["tx_hex"]))
    inputs, values = sig["input_indices"], [int(a) for a in sig["amounts"]]
    assert len(answer.signatures) == per_input * len(inputs)
    for position, witness in enumerate(answer.signatures):
        index = position // per_input
        digest = tx.sighash_segwit(inputs[index], Script(witness_script), values[index])
        assert witness.signature[-1] == SIGHASH.ALL
        signature = ec.Signature.parse(witness.signature[:-1])
        assert ec.PublicKey.parse(witness.public_key).verify(signature, digest), position
    return [w.public_key for w in answer.signatures]


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


StartMock = Callable[..., MockGovernance]
MakeClients = Callable[..., GrpcClients]


@pytest.fixture
def start_mock(tmp_path: Path) -> Iterator[StartMock]:
    """Start mocks with extra CLI arguments; each must stop with exit status 0."""
    started: list[MockGovernance] = []

    def start(*args: str) -> MockGovernance:
        server = start_mock_governance(tmp_path / f"mock-{len(started)}", extra_args=args)
        started.append(server)
        return server

    yield start
    codes = [server.stop() for server in started]
    assert codes == [0] * len(started), [server.stderr() for server in started]


@pytest.fixture
def client_pools(tmp_path: Path, start_mock: StartMock) -> Iterator[MakeClients]:
    """Client pools for the mocks of ``start_mock``; no client may outlive its test."""
    pools: list[GrpcClients] = []

    def make(server: MockGovernance, connection: Connection = PLAINTEXT) -> GrpcClients:
        pool = GrpcClients(tmp_path, server.target, connection)
        pools.append(pool)
        return pool

    yield make
    leftovers = [pid for pool in pools for pid in pool.close()]
    assert leftovers == [], "a gRPC client was still running at the end of the test"


@pytest.fixture
def certs(tmp_path: Path) -> CertFiles:
    return make_certs(tmp_path / "certs")


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


# ------------------------------------------------------------------ answers


def test_a_signature_request_gets_signatures_that_verify_per_input_in_sorted_key_order(
    mock: MockGovernance, clients: GrpcClients
) -> None:
    inputs = (3, 0, 5)
    request = signature_request("sig-1", inputs=inputs, required=3)

    result = clients.stream([registration(), request], expect=2).wait()

    assert result.returncode == 0, result.stderr
    response = as_responses(result.responses)[1]
    assert response.metadata.request_id == "sig-1"
    assert response.metadata.status == pb.STATUS_CODE_SUCCESS
    answer = response.signature_response
    assert answer.status == pb.SIGNATURE_STATUS_COMPLETE
    federation = federation_keys("local-dev", 5)
    info = mock.federation()
    assert (info["size"], info["threshold"]) == (5, 3)
    assert [bytes.fromhex(k) for k in info["public_keys"]] == list(federation)
    witness_script = bytes.fromhex(info["witness_script"])
    assert witness_script == multisig(3, [ec.PublicKey.parse(k) for k in federation]).data
    # Grouped input by input, in request order; within an input, in sorted-key order.
    signers = verify_signatures(answer, request, witness_script, per_input=3)
    assert signers == list(federation[:3]) * len(inputs)
    assert {w.sig_type for w in answer.signatures} == {pb.SIGNATURE_TYPE_ECDSA}
    decoded = decode(response)
    assert isinstance(decoded, SignaturesReceived)
    assert decoded.apply.status == "complete"
    assert len(decoded.apply.signatures) == 9


def test_get_federation_gives_the_p2wsh_address_on_the_network_asked_for(
    mock: MockGovernance,
) -> None:
    regtest = mock.federation()
    mainnet = mock.federation("mainnet")

    witness_script = Script(bytes.fromhex(regtest["witness_script"]))
    assert regtest["network"] == "regtest"
    assert regtest["p2wsh_address"] == p2wsh(witness_script).address(NETWORKS["regtest"])
    assert mainnet["p2wsh_address"] == p2wsh(witness_script).address(NETWORKS["main"])
    assert regtest["seed"] == "local-dev"
    assert regtest["indices"] == [0, 1, 2, 3, 4]
    governance_key = bytes.fromhex(regtest["governance_public_key"])
    assert len(governance_key) == 33
    assert governance_key not in federation_keys("local-dev", 5)


def test_the_federation_comes_from_the_seed_size_and_threshold_options(
    start_mock: StartMock, client_pools: MakeClients
) -> None:
    server = start_mock(
        "--federation-seed=elsewhere", "--federation-size=4", "--federation-threshold=4"
    )
    request = signature_request("s", required=4)

    info = server.federation()
    result = client_pools(server).stream([request], expect=1).wait()

    keys = [bytes.fromhex(k) for k in info["public_keys"]]
    assert keys == list(federation_keys("elsewhere", 4))
    assert keys != list(federation_keys("local-dev", 4))
    assert info["threshold"] == 4
    assert result.returncode == 0, result.stderr
    (response,) = as_responses(result.responses)
    witness_script = bytes.fromhex(info["witness_script"])
    assert verify_signatures(response.signature_response, request, witness_script, 4) == keys


def test_a_request_for_another_threshold_or_an_unparsable_tx_fails_with_a_reason(
    clients: GrpcClients,
) -> None:
    requests = [
        signature_request("sig-9", required=4),
        signature_request("sig-10", tx_hex="0200ab"),
    ]

    result = clients.stream(requests, expect=2).wait()

    assert result.returncode == 0, result.stderr
    wrong_threshold, bad_tx = as_responses(result.responses)
    assert wrong_threshold.metadata.request_id == "sig-9"
    for response in (wrong_threshold, bad_tx):
        assert response.signature_response.status == pb.SIGNATURE_STATUS_FAILED
        assert list(response.signature_response.signatures) == []
    assert "signs 3-of-5" in wrong_threshold.signature_response.failure_reason
    assert "not a transaction" in bad_tx.signature_response.failure_reason


def test_post_federation_switches_the_keys_the_mock_signs_with(
    mock: MockGovernance, clients: GrpcClients
) -> None:
    before = mock.federation()

    switched = mock.set_federation([0, 1, 2, 3, 4, 5], 4)
    new_threshold = signature_request("sig-4", inputs=(0, 1), required=4)
    old_threshold = signature_request("sig-3", required=3)
    result = clients.stream([new_threshold, old_threshold], expect=2).wait()

    assert mock.federation() == switched
    assert (switched["size"], switched["threshold"]) == (6, 4)
    assert switched["witness_script"] != before["witness_script"]
    assert switched["p2wsh_address"] != before["p2wsh_address"]
    six = federation_keys("local-dev", 6)
    assert [bytes.fromhex(k) for k in switched["public_keys"]] == list(six)
    assert result.returncode == 0, result.stderr
    signed, refused = as_responses(result.responses)
    script = bytes.fromhex(switched["witness_script"])
    signers = verify_signatures(signed.signature_response, new_threshold, script, per_input=4)
    assert signers == list(six[:4]) * 2
    assert refused.signature_response.status == pb.SIGNATURE_STATUS_FAILED


def test_post_federation_update_pushes_an_update_signed_by_governance(
    mock: MockGovernance, clients: GrpcClients
) -> None:
    client = clients.stream([registration()], expect=2)
    wait_until(lambda: NODE in connected_nodes(mock), message="node-a connected")

    pushed = mock.push_federation_update(
        version=7,
        indices=[0, 1, 2, 3],
        threshold=3,
        effective_height=120,
        update_type="member_add",
        node_id=NODE,
        request_id="fed-7",
    )
    result = client.wait()

    assert pushed["delivered"] == 1
    assert pushed["request_id"] == "fed-7"
    assert result.returncode == 0, result.stderr
    received = as_responses(result.responses)[1]
    assert received == json_format.ParseDict(pushed["message"], pb.StreamResponse())
    assert received.metadata.request_id == "fed-7"
    update = received.federation_update
    # What the node computes and checks (convention 5), against what the mock signed.
    digest = update_digest(update)
    assert digest.hex() == pushed["digest"]
    governance_key = ec.PublicKey.parse(bytes.fromhex(mock.federation()["governance_public_key"]))
    assert governance_key.verify(ec.Signature.parse(update.update_signature), digest)
    keys = sorted(federation_keys("local-dev", 4))
    expected_address = p2wsh(multisig(3, [ec.PublicKey.parse(k) for k in keys])).address(
        NETWORKS["regtest"]
    )
    assert update.config.parameters["p2wsh_address"] == expected_address == pushed["p2wsh_address"]
    decoded = decode(received)
    assert isinstance(decoded, FederationReceived)
    assert decoded.update.version == 7
    assert decoded.update.threshold == 3
    assert decoded.update.effective_height == 120
    assert [m.member_id for m in decoded.update.members] == ["m0", "m1", "m2", "m3"]


def test_a_badly_signed_update_does_not_verify_and_default_ids_are_fresh(
    mock: MockGovernance,
) -> None:
    first = mock.push_federation_update(version=8, indices=[0, 1], threshold=2, bad_signature=True)
    second = mock.push_federation_update(version=8, indices=[0, 1], threshold=2)

    assert first["delivered"] == 0  # nobody connected: built and returned all the same
    assert first["request_id"] != second["request_id"]
    assert first["digest"] == second["digest"]
    governance_key = ec.PublicKey.parse(bytes.fromhex(mock.federation()["governance_public_key"]))
    digest = bytes.fromhex(first["digest"])
    bad, good = (ec.Signature.parse(bytes.fromhex(r["update_signature"])) for r in (first, second))
    assert not governance_key.verify(bad, digest)
    assert governance_key.verify(good, digest)


def test_pegins_and_status_updates_are_acknowledged_with_metadata_only(
    clients: GrpcClients,
) -> None:
    requests = [registration(), pegin("pegin-1"), status_update("status-1")]

    result = clients.stream(requests, expect=3).wait()

    assert result.returncode == 0, result.stderr
    _, pegin_ack, status_ack = as_responses(result.responses)
    for ack, request_id in ((pegin_ack, "pegin-1"), (status_ack, "status-1")):
        assert ack.WhichOneof("payload") is None
        assert ack.metadata.request_id == request_id
        assert ack.metadata.status == pb.STATUS_CODE_SUCCESS
        assert decode(ack) == Acknowledged(request_id, "success")


def test_a_response_to_a_request_never_sent_is_pushed_with_push(
    mock: MockGovernance, clients: GrpcClients
) -> None:
    client = clients.stream([registration()], expect=2)
    wait_until(lambda: NODE in connected_nodes(mock), message="node-a connected")
    stray = pb.StreamResponse(
        metadata=pb.ResponseMetadata(request_id="never-sent", status=pb.STATUS_CODE_SUCCESS),
        signature_response=pb.SignatureResponse(status=pb.SIGNATURE_STATUS_COMPLETE),
    )

    assert mock.post("/push", {"node_id": NODE, "message": as_json(stray)}).body == {"delivered": 1}
    result = client.wait()

    assert result.returncode == 0, result.stderr
    assert as_responses(result.responses)[1] == stray
    assert decode(stray) == SignaturesReceived(
        "never-sent", ApplySignatures("never-sent", "complete", (), None)
    )


def test_stats_count_request_kinds_received_and_response_kinds_sent_per_node(
    mock: MockGovernance, clients: GrpcClients
) -> None:
    requests = [
        registration(),
        heartbeat(1),
        heartbeat(2),
        signature_request("sig-1"),
        pegin("pegin-1"),
        status_update("status-1"),
    ]
    client = clients.stream(requests, expect=len(requests) + 2)
    wait_until(lambda: len(client.responses()) == len(requests), message="every answer")
    mock.post("/push", {"node_id": NODE, "message": {"metadata": {"request_id": "p"}}})
    mock.post("/push_raw", {"node_id": NODE, "base64": base64.b64encode(b"\xff").decode()})
    # The raw frame does not parse: the client's call fails on it.
    assert client.wait().returncode == 3

    assert mock.stats(NODE) == {
        "nodes": {
            NODE: {
                "received": {
                    "node_registration": 1,
                    "heartbeat": 2,
                    "signature_request": 1,
                    "pegin_notification": 1,
                    "status_update": 1,
                },
                "sent": {
                    "registration_ack": 1,
                    "heartbeat_ack": 2,
                    "signature_response": 1,
                    "metadata_only": 3,
                    "raw": 1,
                },
            }
        },
        "streams_refused": 0,
    }
    assert mock.post("/reset").status == 200
    assert mock.stats() == {"nodes": {}, "streams_refused": 0}


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


def test_require_token_aborts_a_stream_without_the_bearer_token_at_once(
    mock: MockGovernance, clients: GrpcClients
) -> None:
    assert mock.behave(require_token="s3cret") == {"require_token": "s3cret"}

    missing = clients.stream([registration(credential=b"s3cret")], expect=1).wait()
    wrong = clients.stream(
        [registration(credential=b"s3cret")], expect=1, connection=Connection(token="guess")
    ).wait()

    for result in (missing, wrong):
        assert result.returncode == 3, result.stderr
        assert "status=UNAUTHENTICATED" in result.stderr
        assert result.responses == []
    assert mock.stats()["streams_refused"] == 2
    assert mock.record() == {}


def test_require_token_refuses_a_registration_whose_credential_differs(
    mock: MockGovernance, clients: GrpcClients
) -> None:
    mock.behave(require_token="s3cret")
    with_token = Connection(token="s3cret")

    wrong = clients.stream(
        [registration("reg-1", credential=b"other")], expect=1, connection=with_token
    ).wait()
    right = clients.stream(
        [registration("reg-2", credential=b"s3cret")], expect=1, connection=with_token
    ).wait()
    mock.behave(require_token=None)
    anyone = clients.stream([registration("reg-3")], expect=1).wait()

    (refused,) = as_responses(wrong.responses)
    assert not refused.registration_ack.accepted
    assert refused.metadata.request_id == "reg-1"
    assert refused.metadata.status == pb.STATUS_CODE_UNAUTHORIZED
    for result in (right, anyone):
        assert result.returncode == 0, result.stderr
        (ack,) = as_responses(result.responses)
        assert ack.registration_ack.accepted
        assert ack.metadata.status == pb.STATUS_CODE_SUCCESS


def test_error_next_answers_the_next_requests_with_an_error_and_retry_info(
    mock: MockGovernance, clients: GrpcClients
) -> None:
    applied = mock.behave(
        error_next={"count": 2, "code": "rate_limited", "retry_after_s": 30, "message": "slow"}
    )
    assert applied["error_next"]["count"] == 2
    requests = [
        registration(),
        signature_request("sig-1"),
        heartbeat(1),  # never failed: the session stays healthy
        pegin("pegin-1"),
        status_update("status-1"),
    ]

    result = clients.stream(requests, expect=len(requests)).wait()

    assert result.returncode == 0, result.stderr
    responses = as_responses(result.responses)
    assert payloads(responses) == [
        "registration_ack",
        "error_response",
        "heartbeat_ack",
        "error_response",
        None,
    ]
    for error, request_id in ((responses[1], "sig-1"), (responses[3], "pegin-1")):
        assert error.metadata.request_id == request_id
        assert error.metadata.status == pb.STATUS_CODE_RATE_LIMITED
        assert decode(error) == ErrorReceived(
            request_id=request_id,
            code="rate_limited",
            message="slow",
            details="injected by the mock's error_next behaviour",
            retry_after_s=30.0,
            status="rate_limited",
        )
    assert responses[4].metadata.status == pb.STATUS_CODE_SUCCESS
    assert mock.get("/behaviour").body["behaviour"]["error_next"] is None


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("service_unavailable", pb.STATUS_CODE_SERVICE_UNAVAILABLE),
        ("internal_error", pb.STATUS_CODE_ERROR),
    ],
)
def test_error_next_matches_the_metadata_status_to_the_code(
    mock: MockGovernance, clients: GrpcClients, code: str, status: int
) -> None:
    mock.behave(error_next={"code": code})

    result = clients.stream([signature_request("sig-1"), pegin("pegin-1")], expect=2).wait()

    assert result.returncode == 0, result.stderr
    error, ack = as_responses(result.responses)
    assert error.metadata.status == status
    assert error.error_response.error_code == ERROR_CODES.wire(code)
    assert not error.error_response.HasField("retry_info")
    assert ack.WhichOneof("payload") is None


def test_answer_twice_sends_every_signature_answer_twice_and_nothing_else(
    mock: MockGovernance, clients: GrpcClients
) -> None:
    mock.behave(answer_twice=True)
    requests = [registration(), signature_request("sig-1"), pegin("pegin-1"), heartbeat(1)]

    # Half-closed: the mock ends the call once every answer is out, so extras would show.
    result = clients.stream(requests, half_close=True).wait()

    assert result.returncode == 0, result.stderr
    responses = as_responses(result.responses)
    assert payloads(responses) == [
        "registration_ack",
        "signature_response",
        "signature_response",
        None,
        "heartbeat_ack",
    ]
    assert responses[1] == responses[2]
    assert responses[1].metadata.request_id == "sig-1"


def test_silent_records_requests_but_answers_only_registration_and_heartbeats(
    mock: MockGovernance, clients: GrpcClients
) -> None:
    mock.behave(silent=True)
    requests = [
        registration(),
        signature_request("sig-1"),
        pegin("pegin-1"),
        status_update("status-1"),
        heartbeat(1),
    ]

    result = clients.stream(requests, half_close=True).wait()

    assert result.returncode == 0, result.stderr
    assert payloads(as_responses(result.responses)) == ["registration_ack", "heartbeat_ack"]
    assert mock.record() == {NODE: requests}


def test_a_signature_fault_spoils_the_next_answer_only(
    mock: MockGovernance, clients: GrpcClients
) -> None:
    applied = mock.behave(signature_fault="too_few")
    requests = [signature_request("sig-1"), signature_request("sig-2")]

    result = clients.stream(requests, expect=2).wait()

    assert applied == {"signature_fault": {"kind": "too_few", "count": 1}}
    assert result.returncode == 0, result.stderr
    spoilt, good = as_responses(result.responses)
    script = bytes.fromhex(mock.federation()["witness_script"])
    assert spoilt.signature_response.status == pb.SIGNATURE_STATUS_COMPLETE
    verify_signatures(spoilt.signature_response, requests[0], script, per_input=2)
    verify_signatures(good.signature_response, requests[1], script, per_input=3)
    assert mock.get("/behaviour").body["behaviour"]["signature_fault"] is None


def test_a_signature_fault_until_changed_spoils_every_answer(
    mock: MockGovernance, clients: GrpcClients
) -> None:
    mock.behave(signature_fault="timeout", signature_fault_count=None)
    requests = [signature_request(f"sig-{i}") for i in range(3)]

    result = clients.stream(requests, expect=3).wait()

    assert result.returncode == 0, result.stderr
    statuses = [r.signature_response.status for r in as_responses(result.responses)]
    assert statuses == [pb.SIGNATURE_STATUS_TIMEOUT] * 3
    planned = mock.get("/behaviour").body["behaviour"]["signature_fault"]
    assert planned == {"kind": "timeout", "count": None}


def test_answer_twice_sends_the_same_real_signatures_twice(
    mock: MockGovernance, clients: GrpcClients
) -> None:
    mock.behave(answer_twice=True)
    request = signature_request("sig-1", inputs=(0, 1))

    result = clients.stream([request], expect=2).wait()

    assert result.returncode == 0, result.stderr
    first, second = as_responses(result.responses)
    assert first == second
    script = bytes.fromhex(mock.federation()["witness_script"])
    verify_signatures(first.signature_response, request, script, per_input=3)


def held(mock: MockGovernance) -> dict[str, Any]:
    return mock.get("/behaviour").body["held_signatures"]  # type: ignore[no-any-return]


def test_held_signature_answers_are_sent_when_released(
    mock: MockGovernance, clients: GrpcClients
) -> None:
    mock.behave(hold_signatures=True)
    requests = [registration(), signature_request("sig-1"), signature_request("sig-2"), pegin("p")]
    client = clients.stream(requests, expect=4)
    wait_until(lambda: held(mock)["held"] == {NODE: 2}, message="two answers held")
    wait_until(lambda: len(client.responses()) == 2, message="the unheld answers")

    before = payloads(as_responses(client.responses()))
    first = mock.release(count=1)
    wait_until(lambda: len(client.responses()) == 3, message="the first released answer")
    rest = mock.release()
    result = client.wait()

    assert before == ["registration_ack", None]
    assert first == {
        "released": 1,
        "dropped": 0,
        "held_signatures": {"held": {NODE: 1}, "dropped": 0},
    }
    assert rest["released"] == 1
    assert result.returncode == 0, result.stderr
    answers = as_responses(result.responses)[2:]
    assert [a.metadata.request_id for a in answers] == ["sig-1", "sig-2"]
    assert {a.signature_response.status for a in answers} == {pb.SIGNATURE_STATUS_COMPLETE}
    assert held(mock) == {"held": {}, "dropped": 0}


@pytest.mark.parametrize(("preamble", "kind"), [("ack", None),
                                                ("pending", "signature_response")])
def test_a_signature_preamble_goes_at_once_ahead_of_the_held_answer(
    mock: MockGovernance, clients: GrpcClients, preamble: str, kind: str | None
) -> None:
    mock.behave(signature_preamble=preamble, hold_signatures=True)
    client = clients.stream([registration(), signature_request("sig-1"), pegin("p")], expect=4)
    wait_until(lambda: len(client.responses()) == 3, message="the preamble and the pegin ack")
    early = as_responses(client.responses())[1]
    mock.release()
    result = client.wait()

    assert result.returncode == 0, result.stderr
    assert early.metadata.request_id == "sig-1" and early.WhichOneof("payload") == kind
    if kind is not None:
        assert early.signature_response.status == pb.SIGNATURE_STATUS_PENDING
        assert not early.signature_response.signatures
    answer = as_responses(result.responses)[-1]
    assert answer.metadata.request_id == "sig-1"
    assert answer.signature_response.status == pb.SIGNATURE_STATUS_COMPLETE


def test_a_signature_preamble_is_refused_unless_ack_pending_or_null(mock: MockGovernance) -> None:
    reply = mock.post("/behaviour", {"signature_preamble": "maybe"})

    assert reply.status == 400 and "signature_preamble" in reply.body["error"]
    assert mock.behave(signature_preamble=None) == {"signature_preamble": None}


def test_push_many_with_hold_keeps_its_copies_with_the_held_answers_until_release(
    mock: MockGovernance, clients: GrpcClients
) -> None:
    mock.behave(hold_signatures=True)
    client = clients.stream([registration(), signature_request("sig-1")], expect=4)
    wait_until(lambda: held(mock)["held"] == {NODE: 1}, message="the answer held")
    template = {"metadata": {"request_id": "x"}, "heartbeat_ack": {}}

    pushed = mock.post("/push_many", {"message": template, "count": 2, "id_prefix": "held-",
                                      "hold": True})
    held_now = held(mock)
    received_before = len(client.responses())
    released = mock.release()
    result = client.wait()

    assert pushed.status == 200 and pushed.body == {"held": 2}
    assert held_now == {"held": {NODE: 3}, "dropped": 0}
    assert received_before == 1  # the registration ack only: nothing pushed went out early
    assert released["released"] == 3
    ids = [r.metadata.request_id for r in as_responses(result.responses)[1:]]
    assert ids == ["sig-1", "held-0", "held-1"]  # in the order they were held


def test_push_many_refuses_a_hold_that_is_not_a_boolean(mock: MockGovernance) -> None:
    reply = mock.post("/push_many", {"message": {"metadata": {"request_id": "x"}}, "count": 1,
                                     "hold": "yes"})
    assert reply.status == 400
    assert reply.body == {"error": "'hold' must be true or false, got str"}


def test_an_answer_held_past_its_stream_is_dropped_and_counted(
    mock: MockGovernance, clients: GrpcClients
) -> None:
    mock.behave(hold_signatures=True)
    client = clients.stream([registration(), signature_request("sig-1")], expect=2)
    wait_until(lambda: held(mock)["held"] == {NODE: 1}, message="the answer held")
    mock.post("/push", {"node_id": NODE, "message": {"metadata": {"request_id": "bye"}}})
    assert client.wait().returncode == 0  # the client has its 2 responses and hangs up
    wait_until(lambda: mock.connections() == [], message="the stream to end")

    released = mock.release()

    assert (released["released"], released["dropped"]) == (0, 1)
    assert held(mock) == {"held": {}, "dropped": 1}


def test_push_raw_sends_bytes_that_a_client_cannot_parse_as_one_frame(
    mock: MockGovernance, clients: GrpcClients
) -> None:
    garbage = b"\x0a\x05ab"  # field 1, length 5, then only 2 bytes
    valid = pb.StreamResponse(
        metadata=pb.ResponseMetadata(request_id="raw-ok"), heartbeat_ack=pb.HeartbeatAck()
    ).SerializeToString()
    raw_reader = clients.stream([registration()], expect=3, raw=True)
    typed_reader = clients.stream([registration("reg-2", "node-b")], expect=2)
    wait_until(lambda: sorted(connected_nodes(mock)) == [NODE, "node-b"], message="both known")

    pushed = [
        mock.post("/push_raw", {"base64": base64.b64encode(garbage).decode()}),
        mock.post("/push_raw", {"node_id": NODE, "base64": base64.b64encode(valid).decode()}),
    ]
    raw_result = raw_reader.wait()
    typed_result = typed_reader.wait()

    assert [p.body for p in pushed] == [
        {"delivered": 2, "bytes": len(garbage)},
        {"delivered": 1, "bytes": len(valid)},
    ]
    assert raw_result.returncode == 0, raw_result.stderr
    _, bad, good = raw_result.responses
    assert base64.b64decode(bad["raw_base64"]) == garbage
    assert bad["parse_error"] and bad["message"] is None
    assert base64.b64decode(good["raw_base64"]) == valid
    assert good["parse_error"] is None
    assert good["message"]["metadata"]["request_id"] == "raw-ok"
    # A client that deserializes frames itself loses the whole call to one bad frame.
    assert typed_result.returncode == 3, typed_result.stderr
    assert "status=INTERNAL" in typed_result.stderr


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
    assert {
        "node_registration",
        "heartbeat",
        "signature_request",
        "pegin_notification",
        "status_update",
    } <= set(capabilities.features)
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
        ("POST", "/behaviour", b'{"silent": 1}', 400, "'silent' takes true or false"),
        ("POST", "/behaviour", b'{"require_token": ""}', 400, "'require_token' takes a non-empty"),
        ("POST", "/behaviour", b'{"require_token": 7}', 400, "'require_token' takes a non-empty"),
        ("POST", "/behaviour", b'{"error_next": {"count": 1}}', 400, "'error_next' takes"),
        ("POST", "/behaviour", b'{"error_next": {"code": "oops"}}', 400, "'error_next' takes"),
        (
            "POST",
            "/behaviour",
            b'{"error_next": {"code": "timeout", "count": 0}}',
            400,
            "'error_next' takes",
        ),
        (
            "POST",
            "/behaviour",
            b'{"error_next": {"code": "timeout", "retry_after_s": -1}}',
            400,
            "'error_next' takes",
        ),
        (
            "POST",
            "/behaviour",
            b'{"error_next": {"code": "timeout", "colour": "red"}}',
            400,
            "'error_next' takes",
        ),
        ("POST", "/push_raw", b"{}", 400, "push body needs 'base64'"),
        ("POST", "/push_raw", b'{"base64": 5}', 400, "'base64' must be a string, got int"),
        ("POST", "/push_raw", b'{"base64": "!!"}', 400, "'base64' is not valid base64"),
        ("POST", "/push_raw", b'{"base64": "", "x": 1}', 400, "unexpected key(s) in push body: x"),
        ("POST", "/stats", b"{}", 405, "/stats accepts GET, not POST"),
        (
            "POST",
            "/behaviour",
            b'{"signature_fault_count": 2}',
            400,
            "'signature_fault_count' goes with 'signature_fault'",
        ),
        ("POST", "/behaviour", b'{"signature_fault": "rude"}', 400, "'signature_fault' takes"),
        ("GET", "/federation?network=moon", None, 400, "unknown network 'moon'"),
        ("POST", "/federation", b'{"indices": [0, 0], "threshold": 1}', 400, "distinct"),
        (
            "POST",
            "/federation",
            b'{"indices": [0, 1], "threshold": 3}',
            400,
            "threshold must be from 1 to 2",
        ),
        ("POST", "/federation", b'{"indices": [-1], "threshold": 1}', 400, "integers >= 0"),
        ("POST", "/federation/update", b"{}", 400, "'version' must be an integer"),
        (
            "POST",
            "/federation/update",
            b'{"version": 1, "indices": [0], "threshold": 1, "colour": 1}',
            400,
            "unexpected key(s) in federation update body: colour",
        ),
        (
            "POST",
            "/federation/update",
            b'{"version": 1, "indices": [0], "threshold": 2}',
            400,
            "threshold must be from 1 to 1",
        ),
        ("POST", "/release", b'{"count": 0}', 400, "'count' must be an integer from 1"),
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
        "require_token": None,
        "error_next": None,
        "answer_twice": False,
        "silent": False,
        "signature_fault": None,
        "hold_signatures": False,
        "signature_preamble": None,
    }


# ------------------------------------------------------------------ TLS


def test_tls_serves_a_client_that_trusts_the_ca_and_fails_one_that_does_not(
    start_mock: StartMock, client_pools: MakeClients, certs: CertFiles
) -> None:
    server = start_mock(*certs.server_args())
    clients = client_pools(server)

    wrong_ca = clients.stream([registration()], expect=1, connection=Connection(ca=certs.other_ca))
    plaintext = clients.stream([registration()], expect=1, connection=PLAINTEXT)
    trusted = clients.stream([registration()], expect=1, connection=Connection(ca=certs.ca))

    assert server.tls == "on"
    for failed in (wrong_ca.wait(), plaintext.wait()):
        assert failed.returncode == 3, failed.stderr
        assert "status=UNAVAILABLE" in failed.stderr
    result = trusted.wait()
    assert result.returncode == 0, result.stderr
    assert as_responses(result.responses)[0].registration_ack.accepted


def test_mutual_tls_refuses_a_client_without_a_certificate_from_the_ca(
    start_mock: StartMock, client_pools: MakeClients, certs: CertFiles
) -> None:
    server = start_mock(*certs.server_args(mtls=True))
    clients = client_pools(server, Connection(ca=certs.ca))

    no_cert = clients.stream([registration()], expect=1)
    stranger = clients.stream(
        [registration()],
        expect=1,
        connection=Connection(
            ca=certs.ca, cert=certs.other_client_cert, key=certs.other_client_key
        ),
    )
    member = clients.stream(
        [registration()],
        expect=1,
        connection=Connection(ca=certs.ca, cert=certs.client_cert, key=certs.client_key),
    )

    assert server.tls == "mtls"
    for failed in (no_cert.wait(), stranger.wait()):
        assert failed.returncode == 3, failed.stderr
        assert "status=UNAVAILABLE" in failed.stderr
        assert failed.responses == []
    result = member.wait()
    assert result.returncode == 0, result.stderr
    assert as_responses(result.responses)[0].registration_ack.accepted
    assert server.record() == {NODE: [registration()]}


@pytest.mark.parametrize(
    ("args", "expected_in_stderr"),
    [
        (["--tls-key=k.pem"], "--tls-cert and --tls-key go together"),
        (["--tls-client-ca=ca.pem"], "--tls-client-ca needs --tls-cert and --tls-key"),
        (["--tls-cert=/no/such.pem", "--tls-key=/no/such.key"], "cannot read the TLS key"),
        (["--federation-size=0"], "must be at least 1"),
        (["--federation-size=17"], "--federation-size is at most 16"),
        (["--federation-threshold=6"], "--federation-threshold 6 is more than --federation-size 5"),
    ],
)
def test_bad_tls_or_federation_options_exit_2_with_a_message(
    args: list[str], expected_in_stderr: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mock_governance", "--port=0", "--control-port=0", *args],
        cwd=REPO_ROOT,
        env=project_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert expected_in_stderr in result.stderr


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
        "child = subprocess.Popen([sys.executable, '-m', 'mock_governance',"
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
            "mock_governance",
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
        "import tests.support.mock, tests.support.client, harness.mock, harness.waiting\n"
        "import tests.support.certs, actors.stream.wire.encode, mock_governance.federation\n"
        "import protocol.governance_pb2, mock_governance.routes, mock_governance.control\n"
        "import mock_governance.signer, mock_governance.updates, mock_governance.holds\n"
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
