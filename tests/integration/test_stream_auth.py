"""Node identity and credentials against a real mock process (docs/protocol.md,
conventions 2 and 9).

Each auth type accepted and refused; a token file rewritten while the stream is
up (one reconnect, no request lost); session tokens presented, renewed, and
refused once expired.
"""

from __future__ import annotations

import base64
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from actors.messages import RequestQueued, RequestSignatures
from btc import nodekey
from harness.mock import MockGovernance, start_mock_governance
from harness.nodes import LocalNode, log_text
from harness.scrape import node_exposition, samples
from harness.stream import stream_node, wait_state
from harness.waiting import wait_until
from runtime.processes import session_members
from tests.support.stream import sent_of_kind, submit

pytestmark = pytest.mark.timeout(180)

RIGHT, WRONG, NEXT = "right-credential-1", "wrong-credential-2", "rotated-credential-3"


@pytest.fixture
def started(tmp_path: Path) -> Iterator[list[MockGovernance]]:
    """Mocks a test started, stopped afterwards."""
    mocks: list[MockGovernance] = []
    yield mocks
    for mock in mocks:
        mock.stop()


def start_mock(tmp_path: Path, started: list[MockGovernance], *args: str) -> MockGovernance:
    mock = start_mock_governance(tmp_path / "mock", extra_args=args)
    started.append(mock)
    return mock


def secret_file(path: Path, secret: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(secret + "\n")
    path.chmod(0o600)
    return str(path)


def node_key(tmp_path: Path) -> nodekey.NodeKey:
    """The key the node will find where it looks by default (beside its database)."""
    key, created = nodekey.load_or_create(tmp_path / "node" / "data" / nodekey.KEY_FILE_NAME)
    assert created
    return key


def registrations(mock: MockGovernance) -> list[dict[str, Any]]:
    return [r["node_registration"] for r in sent_of_kind(mock, "node_registration")]


def credential(registration: dict[str, Any]) -> str:
    return base64.b64decode(registration["auth"]["credential_data"]).decode()


def signature_request(n: int) -> RequestSignatures:
    return RequestSignatures(request_id=f"sig-{n}", tx_hex="00" * 60, input_indices=(0, 1),
                             amounts=(50_000, 70_000), tx_type="pegout", required_signatures=2)


def setup(tmp_path: Path, started: list[MockGovernance], auth_type: str,
          right: bool) -> tuple[MockGovernance, dict[str, Any], str]:
    """A mock expecting `auth_type`, the node's auth section (right or wrong credential),
    and the wire name of the auth type it presents."""
    if auth_type == "signature":
        key = node_key(tmp_path)
        enrolled = key if right else nodekey.NodeKey(bytes(31) + b"\x07")
        mock = start_mock(tmp_path, started, "--auth-type=signature",
                          f"--auth-public-key={enrolled.public_key_hex}")
        return mock, {"type": "signature"}, "AUTH_TYPE_SIGNATURE"
    accepted = secret_file(tmp_path / "mock-secret", RIGHT)
    mock = start_mock(tmp_path, started, f"--auth-type={auth_type}",
                      f"--auth-credential-file={accepted}")
    mine = secret_file(tmp_path / "node-secret", RIGHT if right else WRONG)
    file_key = "token_file" if auth_type == "bearer" else "api_key_file"
    return mock, {"type": auth_type, file_key: mine}, f"AUTH_TYPE_{auth_type.upper()}"


@pytest.mark.parametrize("auth_type", ["bearer", "api_key", "signature"])
def test_each_auth_type_is_accepted_by_a_mock_that_expects_it(
    tmp_path: Path, started: list[MockGovernance], auth_type: str
) -> None:
    mock, auth, wire_type = setup(tmp_path, started, auth_type, right=True)
    with stream_node(tmp_path / "node", [mock.target], auth=auth) as node:
        wait_state(node.client, "connected")
        registration = registrations(mock)[0]
        assert registration["auth"]["auth_type"] == wire_type
        public_key = registration["node_info"]["public_key"]
        key_file = Path(node.config.storage.path).parent / nodekey.KEY_FILE_NAME
        assert public_key == nodekey.load(key_file).public_key_hex
        assert oct(key_file.stat().st_mode & 0o777) == oct(0o600)
        assert RIGHT not in log_text(node.config)


@pytest.mark.parametrize("auth_type", ["bearer", "api_key", "signature"])
def test_each_auth_type_with_the_wrong_credential_is_refused_and_opens_the_circuit(
    tmp_path: Path, started: list[MockGovernance], auth_type: str
) -> None:
    mock, auth, _ = setup(tmp_path, started, auth_type, right=False)
    with stream_node(tmp_path / "node", [mock.target], auth=auth) as node:
        status = wait_state(node.client, "failed")
        assert status.circuit == "open"
        assert "refused" in (status.last_error or "") or "UNAUTHENTICATED" in (
            status.last_error or "")
        assert WRONG not in log_text(node.config)
        # What AlysGovernanceRefusesCredentials reads counts the refusal, however it came.
        assert refusals_counted() > 0


def refusals_counted() -> float:
    text = node_exposition()
    return (sum(count for labels, count in samples(text, "alys_stream_closed_total")
                if labels["code"] in ("UNAUTHENTICATED", "PERMISSION_DENIED"))
            + sum(count for labels, count in samples(text, "alys_stream_governance_errors_total")
                  if labels["code"] in ("authentication_failed", "authorization_failed")))


def test_a_rewritten_token_file_is_presented_after_one_reconnect_and_no_request_is_lost(
    tmp_path: Path, started: list[MockGovernance]
) -> None:
    accepted = [secret_file(tmp_path / f"accepted-{i}", s) for i, s in enumerate((RIGHT, NEXT))]
    mock = start_mock(tmp_path, started, "--auth-type=bearer",
                      *(f"--auth-credential-file={path}" for path in accepted))
    token_file = tmp_path / "node-token"
    secret_file(token_file, RIGHT)
    auth = {"type": "bearer", "token_file": str(token_file), "check_interval_s": 0.2}
    with stream_node(tmp_path / "node", [mock.target], auth=auth) as node:
        wait_state(node.client, "connected")
        mock.behave(hold_signatures=True)  # the requests are still open when the token turns
        ids = [f"sig-{n}" for n in range(20)]
        assert submit(node, [signature_request(n) for n in range(20)]) == [
            RequestQueued(i) for i in ids]
        wait_until(lambda: len(sent_of_kind(mock, "signature_request")) == 20, timeout=30,
                   message="the requests did not reach governance")
        assert node.client.connection_status().pending == 20

        token_file.write_text(NEXT + "\n")  # rewritten in place, not renamed

        wait_until(lambda: len(registrations(mock)) == 2, timeout=30,
                   message="no registration with the new token")
        assert [credential(r) for r in registrations(mock)] == [RIGHT, NEXT]
        # Every request still open goes again, same id, on the new session.
        wait_until(lambda: len(sent_of_kind(mock, "signature_request")) == 40, timeout=30,
                   message="the open requests were not sent again")
        resent = [r["metadata"]["request_id"] for r in sent_of_kind(mock, "signature_request")]
        assert resent[20:] == ids
        mock.behave(hold_signatures=False)
        mock.release()
        wait_until(lambda: node.client.connection_status().pending == 0, timeout=30,
                   message="requests left unanswered after the rotation")
        status = node.client.connection_status()
        assert status.state == "connected" and status.reconnects == 1
        assert status.buffered == 0 and len(registrations(mock)) == 2
        log = log_text(node.config)
        assert RIGHT not in log and NEXT not in log


def bearer_sessions(tmp_path: Path, started: list[MockGovernance],
                    ttl_s: int) -> tuple[MockGovernance, dict[str, object]]:
    """A mock that takes the bearer token RIGHT and grants sessions of `ttl_s`, and the
    node's auth section presenting that token."""
    accepted = secret_file(tmp_path / "accepted", RIGHT)
    mock = start_mock(tmp_path, started, "--auth-type=bearer",
                      f"--auth-credential-file={accepted}", f"--session-ttl-s={ttl_s}")
    return mock, {"type": "bearer", "token_file": secret_file(tmp_path / "node-token", RIGHT)}


def test_a_session_token_is_presented_on_the_next_connection_and_renewed_before_it_expires(
    tmp_path: Path, started: list[MockGovernance]
) -> None:
    mock, auth = bearer_sessions(tmp_path, started, ttl_s=3)
    with stream_node(tmp_path / "node", [mock.target], auth=auth) as node:
        wait_state(node.client, "connected")
        # Renewed at 80 % of its 3 s: twice within about 5 s, never refused.
        wait_until(lambda: len(registrations(mock)) >= 3, timeout=30,
                   message="the session was not renewed")
        sent = registrations(mock)[:3]
        granted = mock.get("/sessions").body["sessions"]
        assert credential(sent[0]) == RIGHT and "expires_at" not in sent[0]["auth"]
        for registration, session in zip(sent[1:], granted, strict=False):
            assert credential(registration) == session["token"]
            assert int(registration["auth"]["expires_at"]) == session["expires_at"]
        assert mock.stats()["streams_refused"] == 0
        status = wait_state(node.client, "connected")
        assert status.circuit == "closed"


def test_an_expired_session_ends_the_stream_and_the_node_registers_again_with_its_token(
    tmp_path: Path, started: list[MockGovernance]
) -> None:
    mock, auth = bearer_sessions(tmp_path, started, ttl_s=600)
    with stream_node(tmp_path / "node", [mock.target], auth=auth) as node:
        wait_state(node.client, "connected")
        mock.behave(drop_streams=True)  # the next connection presents the session token
        wait_until(lambda: len(registrations(mock)) == 2, timeout=30,
                   message="no second registration")
        assert "expires_at" in registrations(mock)[1]["auth"]
        wait_state(node.client, "connected")

        assert mock.post("/sessions/expire", {}).body["streams_ended"] == 1

        wait_until(lambda: len(registrations(mock)) >= 3, timeout=30,
                   message="no registration after the session expired")
        again = registrations(mock)[2]
        assert credential(again) == RIGHT and "expires_at" not in again["auth"]
        status = wait_state(node.client, "connected")
        assert status.circuit == "closed"


def stream_pid(node: LocalNode) -> int:
    """The node's StreamActor process: in the node's session, by the title it gives
    itself (runtime.titles)."""
    import psutil

    assert node.owner.handle is not None
    for pid in session_members(node.owner.handle.session_id):
        try:
            title = " ".join(psutil.Process(pid).cmdline())
        except psutil.Error:  # gone meanwhile
            continue
        if " stream (actors.stream.actor:StreamActor)" in title:
            return pid
    raise AssertionError("no StreamActor process")


def test_sighup_rereads_a_token_file_whose_stat_did_not_change(
    tmp_path: Path, started: list[MockGovernance]
) -> None:
    # Same length as RIGHT, so the rewrite keeps the size; the mtime is put back too.
    same_stat = "sighup-credential1"
    assert len(same_stat) == len(RIGHT)
    accepted = [secret_file(tmp_path / f"accepted-{i}", s)
                for i, s in enumerate((RIGHT, same_stat))]
    mock = start_mock(tmp_path, started, "--auth-type=bearer",
                      *(f"--auth-credential-file={path}" for path in accepted))
    token_file = tmp_path / "node-token"
    secret_file(token_file, RIGHT)
    auth = {"type": "bearer", "token_file": str(token_file), "check_interval_s": 0.5}
    with stream_node(tmp_path / "node", [mock.target], auth=auth) as node:
        wait_state(node.client, "connected")
        before = token_file.stat()
        token_file.write_text(same_stat + "\n")
        os.utime(token_file, ns=(before.st_atime_ns, before.st_mtime_ns))

        os.kill(stream_pid(node), signal.SIGHUP)  # acted on at the next check

        wait_until(lambda: len(registrations(mock)) == 2, timeout=30,
                   message="SIGHUP did not make the node present the rewritten token")
        assert credential(registrations(mock)[1]) == same_stat
        assert wait_state(node.client, "connected").reconnects == 1
