"""A JSON-RPC 1.0 client for Bitcoin Core: one call, or a batch in one HTTP round trip.

Basic auth, no proxy, and a short timeout on every request: it runs inside an actor.
Core's answers come back as `Reply` values, an RPC error included (`Fault`); what
leaves no answer to read (no connection, a timeout, HTTP 401, a body that is no
JSON-RPC reply, a batch reply that does not answer each call once) raises
`BroadcastUnavailable`, whose message names scheme, host and port, never a credential.
"""

from __future__ import annotations

import http.client
import itertools
import json
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeGuard

from actors.bridge.broadcast_errors import BroadcastUnavailable
from runtime.endpoint import endpoint

# Bitcoin Core's code for an unknown method (the JSON-RPC spec's).
METHOD_NOT_FOUND = -32601


@dataclass(frozen=True)
class Fault:
    """Core's JSON-RPC error for one call."""

    code: int
    message: str


@dataclass(frozen=True)
class Reply:
    """One call's answer: its `result`, or Core's `fault` (and then `result` is None)."""

    result: Any = None
    fault: Fault | None = None


def _direct_opener() -> urllib.request.OpenerDirector:
    # Ignore *_proxy environment variables: the RPC endpoint is configured to be
    # reached directly, and a proxy would be handed the node's credentials.
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _is_reply(answer: object) -> TypeGuard[dict[str, Any]]:
    return isinstance(answer, dict) and bool({"result", "error"} & answer.keys())


class CoreRpc:
    """JSON-RPC 1.0 calls to one Bitcoin Core node over HTTP with Basic auth."""

    def __init__(
        self, url: str, user: str | None, password: str | None, timeout_s: float = 5.0
    ) -> None:
        target = endpoint(url, user, password)
        self.where = target.where
        self._url = target.url
        self._timeout_s = timeout_s
        self._headers = target.headers
        self._ids = itertools.count(1)
        self._opener = _direct_opener()

    def call(self, method: str, params: Sequence[Any] = ()) -> Reply:
        """Core's answer to one call."""
        status, body = self._post(self._request(method, params))
        answer = self._parse(status, body)
        if not _is_reply(answer):
            raise self.unavailable(f"HTTP {status} without a JSON-RPC reply")
        reply = self._reply(answer)
        # Core answers an RPC error with HTTP 500 (404 for an unknown method): the
        # fault is the answer. A status that is not OK without one is trouble.
        if reply.fault is None and status != http.client.OK:
            raise self.unavailable(f"HTTP {status}")
        return reply

    def call_many(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Reply]:
        """Core's answers to `calls`, in their order, from one JSON-RPC batch (a JSON
        array each way). Each call has its own answer, so one may fail and the rest not."""
        if not calls:
            return []
        requests = [self._request(method, params) for method, params in calls]
        status, body = self._post(requests)
        answer = self._parse(status, body)
        if _is_reply(answer) and answer.get("error") is not None:
            # One error for the whole batch: Core could not take it as a batch at all.
            fault = self._reply(answer).fault
            assert fault is not None
            raise self.unavailable(f"a batch of {len(calls)} calls was refused: "
                                   f"error {fault.code}: {fault.message}")
        if not isinstance(answer, list):
            raise self.unavailable(f"HTTP {status}: the reply to a batch of {len(calls)} "
                                   "calls is not a JSON array")
        if status != http.client.OK:
            raise self.unavailable(f"HTTP {status}")
        if len(answer) != len(requests):
            raise self.unavailable(f"{len(answer)} answers to a batch of {len(calls)} calls")
        return [self._reply(item) for item in self._match(requests, answer)]

    def unavailable(self, problem: str) -> BroadcastUnavailable:
        """The error for `problem` with this node, named by scheme, host and port."""
        return BroadcastUnavailable(f"bitcoin RPC at {self.where}: {problem}")

    def _request(self, method: str, params: Sequence[Any]) -> dict[str, Any]:
        return {"jsonrpc": "1.0", "id": next(self._ids), "method": method,
                "params": list(params)}

    def _match(self, requests: list[dict[str, Any]], answers: list[Any]) -> list[Any]:
        # The JSON-RPC spec lets a server answer a batch in any order: match by id.
        # Equal lengths and every answer's id a distinct call id mean each call has one.
        by_id: dict[int, Any] = {}
        expected = {request["id"] for request in requests}
        for item in answers:
            if not _is_reply(item):
                raise self.unavailable(f"an answer in a batch is no JSON-RPC reply: {item!r}")
            key = item.get("id")
            if type(key) is not int or key not in expected:
                raise self.unavailable(f"a batch answer has id {key!r}, which is no call's")
            if key in by_id:
                raise self.unavailable(f"a batch answers call id {key} twice")
            by_id[key] = item
        return [by_id[request["id"]] for request in requests]

    def _reply(self, answer: dict[str, Any]) -> Reply:
        error = answer.get("error")
        if error is None:
            return Reply(result=answer.get("result"))
        if not isinstance(error, dict) or type(error.get("code")) is not int:
            raise self.unavailable(f"malformed error {error!r}")
        return Reply(fault=Fault(error["code"], str(error.get("message", ""))))

    def _parse(self, status: int, body: bytes) -> object:
        if status == http.client.UNAUTHORIZED:
            # Core's 401 has no body; the credentials stay out of the message on purpose.
            raise self.unavailable("authentication failed (HTTP 401)")
        try:
            return json.loads(body)
        except ValueError:
            raise self.unavailable(f"HTTP {status} without a JSON-RPC reply") from None

    def _post(self, payload: object) -> tuple[int, bytes]:
        request = urllib.request.Request(self._url, data=json.dumps(payload).encode(),
                                         headers=self._headers, method="POST")
        try:
            with self._opener.open(request, timeout=self._timeout_s) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            # Core answers RPC errors with HTTP 500 (404 for an unknown method) and
            # the JSON error in the body; read it rather than stop at the status.
            with exc:
                try:
                    return exc.code, exc.read()
                except (OSError, http.client.HTTPException):
                    return exc.code, b""
        except (OSError, http.client.HTTPException) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            raise BroadcastUnavailable(
                f"bitcoin RPC at {self.where} unreachable: {reason}"
            ) from None
