"""An HTTP JSON-RPC endpoint as the node calls it: the URL without credentials, the headers
that carry them, and the name messages may print.

urllib does not send a URL's `user:pass@`: it takes them for part of the host, and its
errors quote them. So they go as a Basic Authorization header, and the URL without them.
Messages name the scheme, host and port only: a hosted RPC URL often carries an API key in
its path or query.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit, urlunsplit


@dataclass(frozen=True)
class Endpoint:
    url: str  # without user info
    where: str  # scheme://host[:port], for messages
    headers: dict[str, str] = field(default_factory=dict)


def endpoint(url: str, user: str | None = None, password: str | None = None) -> Endpoint:
    """`url` split for calling; explicit `user`/`password` win over the URL's own."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    if parts.username is not None and user is None and password is None:
        user, password = unquote(parts.username), unquote(parts.password or "")
    headers = {"Content-Type": "application/json"}
    if user is not None or password is not None:
        token = base64.b64encode(f"{user or ''}:{password or ''}".encode()).decode("ascii")
        headers["Authorization"] = f"Basic {token}"
    return Endpoint(url=urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2])),
                    where=f"{parts.scheme}://{parts.hostname}{port}", headers=headers)
