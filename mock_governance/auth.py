"""The ``require_token`` checks: call metadata at stream open, credentials at registration.

Convention 2: a bearer token travels as ``authorization: Bearer <token>`` call
metadata and also in ``NodeRegistration.auth``. No grpc here: metadata comes
in as plain (key, value) pairs.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable

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
