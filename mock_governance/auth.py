"""Auth checks: call metadata at stream open, credentials at registration.

The ``require_token`` behaviour (one bearer token) and the auth policy (--auth-*
flags, POST /auth: every auth type, conventions 2 and 9, and session tokens).

Convention 2: a bearer token travels as ``authorization: Bearer <token>`` call
metadata and also in ``NodeRegistration.auth``. No grpc here: metadata comes
in as plain (key, value) pairs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from coincurve import PublicKey

from protocol import governance_pb2 as pb

AUTHORIZATION = "authorization"
_TOKEN_AUTH_TYPES = (pb.AUTH_TYPE_BEARER, pb.AUTH_TYPE_API_KEY)


def bearer_matches(metadata: Iterable[tuple[str, str | bytes]], token: str | None) -> bool:
    """True when no token is required, or the call carries exactly ``Bearer <token>``."""
    if token is None:
        return True
    expected = f"Bearer {token}".encode()
    for key, value in metadata:
        if key.lower() != AUTHORIZATION:
            continue
        got = value if isinstance(value, bytes) else value.encode()
        if hmac.compare_digest(got, expected):
            return True
    return False


def registration_matches(registration: pb.NodeRegistration, token: str | None) -> bool:
    if token is None:
        return True
    auth = registration.auth
    return auth.auth_type in _TOKEN_AUTH_TYPES and hmac.compare_digest(
        auth.credential_data, token.encode()
    )


# -- The auth policy: what the mock expects (--auth-* flags, POST /auth) -------------------
#
# Written from the conventions 2 and 9 of docs/protocol.md, not from the node's code, so that a
# mistake on either side shows up as a refusal.

AUTH_TYPES = ("none", "bearer", "api_key", "signature")
SIGNATURE_DOMAIN = b"alys-governance-auth-v1"
DEFAULT_MAX_SKEW_S = 300
_WIRE_TYPES = {"bearer": pb.AUTH_TYPE_BEARER, "api_key": pb.AUTH_TYPE_API_KEY,
               "signature": pb.AUTH_TYPE_SIGNATURE}


@dataclass(frozen=True)
class AuthPolicy:
    """What a node must present. ``none`` takes anything; a live session token the mock
    granted is taken whatever the type."""

    type: str = "none"
    credentials: tuple[str, ...] = field(default=(), repr=False)  # bearer tokens / API keys
    public_keys: tuple[str, ...] = ()  # node keys (hex) taken for `signature`; (): any
    max_skew_s: int = DEFAULT_MAX_SKEW_S
    session_ttl_s: int | None = None  # grant sessions with expires_at; None: no expiry

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "credentials": len(self.credentials),
                "public_keys": list(self.public_keys), "max_skew_s": self.max_skew_s,
                "session_ttl_s": self.session_ttl_s}


@dataclass(frozen=True)
class Session:
    token: str
    node_id: str
    expires_at: int | None


class SessionBook:
    """The session tokens granted, until they expire or POST /sessions/expire."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}

    def grant(self, token: str, node_id: str, expires_at: int | None) -> None:
        with self._lock:
            self._sessions[token] = Session(token, node_id, expires_at)

    def live(self, token: str, now: int, node_id: str | None = None) -> bool:
        with self._lock:
            session = self._sessions.get(token)
        return session is not None and (node_id is None or session.node_id == node_id) and (
            session.expires_at is None or now < session.expires_at)

    def expire(self, node_id: str | None) -> int:
        with self._lock:
            gone = [t for t, s in self._sessions.items() if node_id in (None, s.node_id)]
            for token in gone:
                del self._sessions[token]
        return len(gone)

    def to_json(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dataclasses.asdict(s) for s in self._sessions.values()]


def presented_bearer(metadata: Iterable[tuple[str, str | bytes]]) -> str | None:
    secret = _bearer(metadata)
    return None if not secret else secret.decode(errors="replace")


def _bearer(metadata: Iterable[tuple[str, str | bytes]]) -> bytes | None:
    for key, value in metadata:
        if key.lower() == AUTHORIZATION:
            got = value if isinstance(value, bytes) else value.encode()
            return got[len(b"Bearer "):] if got.startswith(b"Bearer ") else b""
    return None


def _one_of(secret: bytes, accepted: Iterable[str]) -> bool:
    # Every candidate compared: the time taken does not say which one matched.
    return any([hmac.compare_digest(secret, a.encode()) for a in accepted])


def stream_refusal(policy: AuthPolicy, sessions: SessionBook,
                   metadata: Iterable[tuple[str, str | bytes]], now: int) -> str | None:
    """Why a Stream call is refused at once (UNAUTHENTICATED), None to let it open.

    Only token types are checked here: a signature is checked at registration."""
    if policy.type not in ("bearer", "api_key"):
        return None
    secret = _bearer(metadata)
    if secret is None:
        return "call metadata has no `authorization: Bearer <credential>`"
    if _one_of(secret, policy.credentials) or sessions.live(secret.decode(errors="replace"), now):
        return None
    return "the credential in the call metadata is not accepted"


def registration_refusal(policy: AuthPolicy, sessions: SessionBook,
                         request: pb.StreamRequest, now: int) -> str | None:
    """Why a NodeRegistration is refused (AUTHENTICATION_FAILED), None to accept it."""
    registration, node_id = request.node_registration, request.metadata.node_id
    auth = registration.auth
    if (registration.HasField("auth") and auth.auth_type == pb.AUTH_TYPE_BEARER
            and auth.HasField("expires_at")):
        # A session token presented (docs/protocol.md, convention 2, "Session tokens"): ours,
        # this node's, live.
        token = auth.credential_data.decode(errors="replace")
        return None if sessions.live(token, now, node_id) else "session token expired or unknown"
    if policy.type == "none":
        return None
    if not registration.HasField("auth") or auth.auth_type != _WIRE_TYPES[policy.type]:
        return f"registration auth must be of type {policy.type}"
    if policy.type in ("bearer", "api_key"):
        if _one_of(auth.credential_data, policy.credentials):
            return None
        return f"{policy.type} credential not accepted"
    return _signature_refusal(policy, registration, node_id, request.metadata.timestamp, now)


def _signature_refusal(policy: AuthPolicy, registration: pb.NodeRegistration, node_id: str,
                       timestamp: int, now: int) -> str | None:
    public_hex = registration.node_info.public_key
    if policy.public_keys and public_hex not in policy.public_keys:
        return "node public key not enrolled"
    if abs(now - timestamp) > policy.max_skew_s:
        return f"timestamp {timestamp} is more than {policy.max_skew_s}s from now ({now})"
    try:
        key = PublicKey(bytes.fromhex(public_hex))
    except ValueError:
        return "node_info.public_key is not a hex compressed secp256k1 key"
    signed = SIGNATURE_DOMAIN + b"\0" + node_id.encode() + b"\0" + str(timestamp).encode()
    try:
        valid = key.verify(registration.auth.credential_data, hashlib.sha256(signed).digest(),
                           hasher=None)
    except ValueError:
        valid = False
    return None if valid else "signature does not verify"
