"""A small JSON-RPC server over HTTP for tests: a stand-in for bitcoind or an EVM node.

Answers JSON-RPC 1.0 the way Bitcoin Core does (an error is HTTP 500 with
``{"result": null, "error": {...}, "id": ...}``) and JSON-RPC 2.0 the way
EVM nodes do (HTTP 200, ``{"jsonrpc": "2.0", "error": {...}, "id": ...}``).
Handlers are plain functions of the params; they raise ``RpcFault`` for a
JSON-RPC error and ``RawReply`` for any other HTTP answer.

A batch (a JSON array of calls) is answered as Core answers one: HTTP 200 and an
array with each call's reply, errors included. A ``RawReply`` raised by any call of
a batch answers the whole request; ``reshape_batches`` lets a test send a batch
reply of its own making (a client's checks on malformed ones).
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from typing import Any, NamedTuple

Handler = Callable[[Any], Any]
BatchShaper = Callable[[list[Any]], Any]

LOOPBACK = "127.0.0.1"
# Bitcoin Core's code for an unknown method (and the JSON-RPC spec's).
METHOD_NOT_FOUND = -32601
INVALID_REQUEST = -32600
PARSE_ERROR = -32700


class RpcFault(Exception):
    """Raised by a handler: answer with this JSON-RPC error."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message


class RawReply(Exception):
    """Raised by a handler: answer with exactly this HTTP status and body."""

    def __init__(self, status: int, body: bytes = b"") -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body


class RecordedRequest(NamedTuple):
    """One call as received; the calls of one batch share `post`, the HTTP request's
    number (from 1), and each has its own element of the array as `body`."""

    method: str | None
    params: Any
    authorization: str | None
    body: Any
    post: int = 0


class _Server(ThreadingHTTPServer):
    # Request threads are joined by server_close(), so stop() leaves none behind.
    daemon_threads = False
    block_on_close = True
    owner: JsonRpcServer


class _RequestHandler(BaseHTTPRequestHandler):
    server: _Server
    # Bounds a client that connects and never sends, which would hold stop() up.
    timeout = 5.0

    def do_POST(self) -> None:
        owner = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        authorization = self.headers.get("Authorization")
        post = next(owner._posts)
        try:
            body = json.loads(raw)
        except ValueError:
            owner._record(RecordedRequest(None, None, authorization,
                                          raw.decode(errors="replace"), post))
            self._reply(500, _encode(_envelope(None, None, error={"code": PARSE_ERROR,
                                                                  "message": "Parse error"})))
            return
        for call in body if isinstance(body, list) else [body]:
            request = call if isinstance(call, dict) else {}
            owner._record(RecordedRequest(request.get("method"), request.get("params"),
                                          authorization, call, post))
        if not owner._authorized(authorization):
            # Like Core: a bare 401 with a challenge and no body.
            self._reply(401, b"", extra={"WWW-Authenticate": 'Basic realm="jsonrpc"'})
            return
        if isinstance(body, list):
            status, payload = owner._answer_batch(body)
        else:
            status, payload = owner._answer(body if isinstance(body, dict) else {})
        self._reply(status, payload)

    def _reply(self, status: int, payload: bytes, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean; the recorded requests say what happened


def _envelope(version: str | None, request_id: Any, *, result: Any = None,
              error: dict[str, Any] | None = None) -> dict[str, Any]:
    if version == "2.0":
        reply: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id}
        reply.update({"error": error} if error is not None else {"result": result})
    else:
        reply = {"result": result, "error": error, "id": request_id}
    return reply


def _encode(reply: Any) -> bytes:
    return json.dumps(reply).encode()


class JsonRpcServer:
    """Serves on 127.0.0.1 at a free port from construction until ``stop()``."""

    def __init__(self, auth: tuple[str, str] | None = None) -> None:
        self._handlers: dict[str, Handler] = {}
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._posts = count(1)
        self._batch_shaper: BatchShaper | None = None
        self._expected_authorization = None
        if auth is not None:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
            self._expected_authorization = f"Basic {token}"
        self._server = _Server((LOOPBACK, 0), _RequestHandler)
        self._server.owner = self
        self._stopped = False
        # A short poll keeps stop() quick: shutdown() waits for the loop's next poll.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,),
                                        name="jsonrpc-test-server", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self._server.server_address[1]}"

    def handle(self, method: str, fn: Handler) -> None:
        self._handlers[method] = fn

    def reshape_batches(self, fn: BatchShaper | None) -> None:
        """Answer each batch with ``fn(replies)`` instead of the list of replies (None:
        the replies again)."""
        self._batch_shaper = fn

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of what was received so far, in order."""
        with self._lock:
            return list(self._requests)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        self._server.server_close()  # closes the socket and joins the request threads
        self._thread.join(timeout=10)

    def __enter__(self) -> JsonRpcServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _authorized(self, authorization: str | None) -> bool:
        expected = self._expected_authorization
        return expected is None or authorization == expected

    def _answer(self, request: dict[str, Any]) -> tuple[int, bytes]:
        try:
            status, reply = self._reply_to(request)
        except RawReply as raw:
            return raw.status, raw.body
        return status, _encode(reply)

    def _answer_batch(self, calls: list[Any]) -> tuple[int, bytes]:
        replies = []
        for call in calls:
            if not isinstance(call, dict):
                fault = {"code": INVALID_REQUEST, "message": "Invalid Request object"}
                replies.append(_envelope(None, None, error=fault))
                continue
            try:
                replies.append(self._reply_to(call)[1])
            except RawReply as raw:
                return raw.status, raw.body
        shaper = self._batch_shaper
        return 200, _encode(shaper(replies) if shaper is not None else replies)

    def _reply_to(self, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """The HTTP status and the reply for one call; a handler's RawReply propagates."""
        version, request_id = request.get("jsonrpc"), request.get("id")
        # Core answers 1.0 errors with HTTP 500; 2.0 servers put errors in a 200.
        error_status = 200 if version == "2.0" else 500
        handler = self._handlers.get(str(request.get("method")))
        if handler is None:
            fault = {"code": METHOD_NOT_FOUND, "message": "Method not found"}
            return (200 if version == "2.0" else 404), _envelope(version, request_id, error=fault)
        try:
            result = handler(request.get("params"))
        except RpcFault as fault:
            error = {"code": fault.code, "message": fault.message}
            return error_status, _envelope(version, request_id, error=error)
        return 200, _envelope(version, request_id, result=result)
