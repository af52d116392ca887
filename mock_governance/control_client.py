"""A client for the mock governance server's HTTP/JSON control interface.

Standard library only, and no grpc: tests, `scripts/chaos` and `scripts/bench`
drive the mock from processes that fork actor systems.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

HTTP_TIMEOUT_S = 10.0


class ControlRequestFailed(Exception):
    """The control interface answered with an error status."""


@dataclass(frozen=True)
class ControlReply:
    status: int
    body: dict[str, Any]


class MockControlClient:
    """Talks to the control port on 127.0.0.1; subclasses may be frozen dataclasses."""

    control_port: int

    def __init__(self, control_port: int) -> None:
        self.control_port = control_port

    def request(self, method: str, path: str, data: bytes | None = None) -> ControlReply:
        """Send raw bytes; any HTTP status comes back as a ControlReply, never raised."""
        url = f"http://127.0.0.1:{self.control_port}{path}"
        req = urllib.request.Request(url, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT_S) as reply:
                return ControlReply(reply.status, json.loads(reply.read()))
        except urllib.error.HTTPError as error:
            with error:
                return ControlReply(error.code, json.loads(error.read()))

    def get(self, path: str) -> ControlReply:
        return self.request("GET", path)

    def post(self, path: str, body: Any = None) -> ControlReply:
        data = b"" if body is None else json.dumps(body).encode("utf-8")
        return self.request("POST", path, data)

    def _ok(self, reply: ControlReply, what: str) -> dict[str, Any]:
        if reply.status != 200:
            raise ControlRequestFailed(f"{what}: HTTP {reply.status}: {reply.body}")
        return reply.body

    def record(self, node_id: str | None = None) -> dict[str, list[dict[str, Any]]]:
        path = "/record" if node_id is None else f"/record?node_id={node_id}"
        nodes: dict[str, list[dict[str, Any]]] = self._ok(self.get(path), "GET /record")["nodes"]
        return nodes

    def connections(self) -> list[dict[str, Any]]:
        reply = self._ok(self.get("/connections"), "GET /connections")
        connections: list[dict[str, Any]] = reply["connections"]
        return connections

    def behave(self, **settings: Any) -> dict[str, Any]:
        """POST /behaviour, which must succeed; returns what was applied."""
        applied: dict[str, Any] = self._ok(self.post("/behaviour", settings),
                                           "POST /behaviour")["applied"]
        return applied

    def stats(self, node_id: str | None = None) -> dict[str, Any]:
        path = "/stats" if node_id is None else f"/stats?node_id={node_id}"
        return self._ok(self.get(path), "GET /stats")

    def federation(self, network: str | None = None) -> dict[str, Any]:
        """GET /federation: who signs, their script, the P2WSH address on ``network``."""
        path = "/federation" if network is None else f"/federation?network={network}"
        return self._ok(self.get(path), "GET /federation")

    def set_federation(self, indices: list[int], threshold: int,
                       script_type: str | None = None) -> dict[str, Any]:
        """POST /federation: sign with derived keys ``indices``, ``threshold`` per input, as
        a ``script_type`` federation (p2wsh unless given)."""
        body: dict[str, Any] = {"indices": list(indices), "threshold": threshold}
        if script_type is not None:
            body["script_type"] = script_type
        return self._ok(self.post("/federation", body), "POST /federation")

    def push_federation_update(self, **fields: Any) -> dict[str, Any]:
        """POST /federation/update: build, sign and push one; returns what was pushed."""
        return self._ok(self.post("/federation/update", fields), "POST /federation/update")

    def release(self, count: int | None = None, node_id: str | None = None) -> dict[str, Any]:
        """POST /release: send held signature answers, oldest first (all by default)."""
        pairs = (("count", count), ("node_id", node_id))
        body = {key: value for key, value in pairs if value is not None}
        return self._ok(self.post("/release", body), "POST /release")

    def hostile(self, frame: str, **options: Any) -> dict[str, Any]:
        """POST /hostile: send one kind of hostile frame now; returns what was sent where."""
        return self._ok(self.post("/hostile", {"frame": frame, **options}), "POST /hostile")

    def acks(self, node_id: str | None = None) -> dict[str, Any]:
        """GET /acks: pushes sent to each node and what it acknowledged (convention 8)."""
        path = "/acks" if node_id is None else f"/acks?node_id={node_id}"
        return self._ok(self.get(path), "GET /acks")

    def set_push_acks(self, *, advertise: bool | None = None,
                      resend: bool | None = None) -> dict[str, Any]:
        """POST /acks: advertise `push-ack` or not; re-send unacknowledged pushes or not."""
        pairs = (("advertise", advertise), ("resend", resend))
        body = {key: value for key, value in pairs if value is not None}
        return self._ok(self.post("/acks", body), "POST /acks")
