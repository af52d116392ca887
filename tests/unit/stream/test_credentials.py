"""The node key and what the stream presents (docs/protocol.md, conventions 2 and 9),
without actors.

The signature checks use the mock's verifier, written from docs/protocol.md rather than
from the node's code: the two sides agree on convention 9 or these tests fail.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from actors.stream.credentials import Credentials
from btc import nodekey
from mock_governance import auth as mock_auth
from nodeconfig import ConfigError, load_config
from nodeconfig.model import AuthConfig
from protocol import governance_pb2 as pb

LOG = logging.getLogger("test")
NODE = "alys-test"
NOW = 1_760_000_000


def credentials(tmp_path: Path, **auth: object) -> Credentials:
    return Credentials(AuthConfig(**auth), str(tmp_path / "keys" / "node.key"), LOG)  # type: ignore[arg-type]


def registration(creds: Credentials, timestamp: int = NOW) -> pb.StreamRequest:
    creds.begin()
    request = pb.StreamRequest(metadata=pb.RequestMetadata(node_id=NODE, timestamp=timestamp))
    request.node_registration.node_info.public_key = creds.public_key_hex
    found = creds.registration_auth(NODE, timestamp)
    if found is not None:
        request.node_registration.auth.CopyFrom(found)
    return request


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def test_the_node_key_is_created_once_0600_in_a_0700_directory_and_then_reused(
    tmp_path: Path,
) -> None:
    path = tmp_path / "keys" / "node.key"
    key, created = nodekey.load_or_create(path)
    assert created and oct(path.stat().st_mode & 0o777) == oct(0o600)
    assert oct(path.parent.stat().st_mode & 0o777) == oct(0o700)
    again, created_again = nodekey.load_or_create(path)
    assert again == key and not created_again
    assert len(key.public_key_hex) == 66 and key.public_key_hex[:2] in ("02", "03")
    assert key.secret.hex() not in repr(key)


@pytest.mark.parametrize("mode,text,problem", [
    (0o644, "11" * 32, "may be read by others"),
    (0o600, "not hex", "not 64 hex digits"),
    (0o600, "00" * 32, "no valid secp256k1 key"),
])
def test_a_key_file_that_is_readable_by_others_or_malformed_is_refused(
    tmp_path: Path, mode: int, text: str, problem: str
) -> None:
    path = tmp_path / "node.key"
    path.write_text(text)
    path.chmod(mode)
    with pytest.raises(nodekey.NodeKeyError, match=problem):
        nodekey.load_or_create(path)


def test_a_signature_registration_verifies_by_convention_9(tmp_path: Path) -> None:
    creds = credentials(tmp_path, type="signature")
    policy = mock_auth.AuthPolicy("signature", public_keys=(creds.public_key_hex,))
    sessions = mock_auth.SessionBook()
    request = registration(creds)
    assert request.node_registration.auth.auth_type == pb.AUTH_TYPE_SIGNATURE
    assert creds.begin() is None  # no call metadata for a signature
    assert mock_auth.registration_refusal(policy, sessions, request, NOW + 300) is None
    assert "more than 300s" in str(
        mock_auth.registration_refusal(policy, sessions, request, NOW + 301))
    other = mock_auth.AuthPolicy("signature", public_keys=("02" + "11" * 32,))
    assert mock_auth.registration_refusal(other, sessions, request, NOW) == (
        "node public key not enrolled")
    request.metadata.node_id = "someone-else"  # the signature covers the node id
    assert mock_auth.registration_refusal(policy, sessions, request, NOW) == (
        "signature does not verify")


@pytest.mark.parametrize("auth_type,file_key,wire", [
    ("bearer", "token_file", pb.AUTH_TYPE_BEARER),
    ("api_key", "api_key_file", pb.AUTH_TYPE_API_KEY),
])
def test_a_token_file_is_presented_and_a_rewrite_is_noticed_once(
    tmp_path: Path, auth_type: str, file_key: str, wire: int
) -> None:
    secret = tmp_path / "secret"
    creds = credentials(tmp_path, type=auth_type, **{file_key: write(secret, "first\n")})
    assert creds.begin() == "first"
    assert registration(creds).node_registration.auth.auth_type == wire
    assert creds.poll() is None
    secret.write_text("")  # caught half-way through a rewrite: keep the old one
    assert creds.poll() is None and creds.begin() == "first"
    secret.write_text("second\n")
    os.utime(secret, ns=(1, 1))  # a different stat even within one mtime tick
    assert creds.poll() == "the credential file changed"
    assert creds.poll() is None
    assert creds.begin() == "second"


def test_sighup_rereads_a_file_whose_stat_did_not_change(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    creds = credentials(tmp_path, token_file=write(secret, "aaaa"))
    stat = secret.stat()
    secret.write_text("bbbb")
    os.utime(secret, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert creds.poll() is None
    assert creds.poll(force=True) == "the credential file changed"


def test_a_session_token_with_expires_at_is_presented_until_refused(tmp_path: Path) -> None:
    creds = credentials(tmp_path, token_file=write(tmp_path / "t", "configured"))
    assert creds.granted("session-1", None, NOW, NOW) is None  # no lifetime: not used
    grant = creds.granted("session-1", NOW + 101, NOW, NOW + 5)
    assert grant is not None and grant.renew_in_s == pytest.approx(80.0)
    assert creds.begin() == "session-1"
    auth = creds.registration_auth(NODE, NOW)
    assert auth is not None and auth.expires_at == NOW + 101
    assert auth.auth_type == pb.AUTH_TYPE_BEARER and auth.credential_data == b"session-1"
    assert creds.refused() is True
    assert creds.begin() == "configured" and creds.refused() is False


def test_a_rotated_credential_replaces_the_session_token(tmp_path: Path) -> None:
    secret = tmp_path / "t"
    creds = credentials(tmp_path, token_file=write(secret, "old"))
    creds.granted("session-1", NOW + 100, NOW, NOW)
    secret.write_text("new!")
    assert creds.poll() is not None
    assert creds.begin() == "new!"


def test_token_env_still_works_and_is_read_at_each_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALYS_TEST_TOKEN", "from-env")
    creds = credentials(tmp_path, token_env="ALYS_TEST_TOKEN")
    assert creds.begin() == "from-env"
    monkeypatch.setenv("ALYS_TEST_TOKEN", "changed")
    assert creds.begin() == "changed"


@pytest.mark.parametrize("auth,key", [
    ({"type": "api_key"}, "governance.auth.api_key_file"),
    ({"token_env": "X", "token_file": "t"}, "governance.auth.token_file"),
    ({"type": "signature", "token_file": "t"}, "governance.auth.type"),
    ({"api_key_file": "k"}, "governance.auth.type"),
])
def test_auth_keys_that_do_not_go_together_are_refused_naming_the_key(
    tmp_path: Path, auth: dict[str, str], key: str
) -> None:
    import yaml

    path = tmp_path / "node.yaml"
    path.write_text(yaml.safe_dump({"governance": {"auth": auth}}))
    # Refused when the config is loaded, before any actor starts.
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(path, env={}, base_dir=tmp_path)


def test_the_signed_bytes_are_the_readmes_example_byte_for_byte() -> None:
    assert nodekey.auth_message("n1", 1_760_000_000) == (
        b"alys-governance-auth-v1\x00n1\x001760000000")
