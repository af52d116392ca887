"""HTTP/JSON control server on 127.0.0.1, stdlib only: tools and tests need no gRPC."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from mock_governance import routes
from mock_governance.errors import (
    CrossSiteRequest,
    InvalidJson,
    InvalidRequestBody,
    MockControlError,
    NotJson,
)
from mock_governance.state import MockState

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
_LOCAL_HOSTS = frozenset({LOOPBACK, "localhost"})


class ControlServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, state: MockState) -> None:
        super().__init__((LOOPBACK, port), ControlHandler)
        self.state = state
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.serve_forever, args=(0.1,), name="mock-control", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join()
        self.server_close()


class ControlHandler(BaseHTTPRequestHandler):
    server: ControlServer

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        url = urlsplit(self.path)
        try:
            # Read the body before anything can fail: closing a socket with
            # unread input resets it, and the client would lose the answer.
            raw = self._raw_body()
            self._refuse_browsers(method)
            route = routes.resolve(method, url.path)
            request = routes.ControlRequest(query=dict(parse_qsl(url.query)), body=_json(raw))
            status, reply = 200, route(self.server.state, request)
        except MockControlError as error:
            status, reply = error.status, {"error": str(error)}
        except Exception as error:  # a bug in the mock: answer, and keep serving
            logger.exception("control %s %s failed", method, self.path)
            status, reply = 500, {"error": f"internal error: {error!r}"}
        self._send_json(status, reply)

    def _refuse_browsers(self, method: str) -> None:
        """Only tools talk to this port: refuse what a web page could make a browser send.

        A browser puts `Origin` on every cross-site POST (and on fetches), and can send a
        cross-site POST without asking first only as a form or text/plain; a page on a
        rebound DNS name sends its own name as `Host`."""
        if self.headers.get("Origin") is not None:
            raise CrossSiteRequest("requests with an Origin header are refused: the control "
                                   "port is for local tools, not web pages")
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0]
        if host not in _LOCAL_HOSTS:
            raise CrossSiteRequest(f"Host must be one of {', '.join(sorted(_LOCAL_HOSTS))}")
        if method == "POST":
            media_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if media_type != "application/json":
                raise NotJson("POST bodies must be JSON, sent with Content-Type: "
                              f"application/json (got {media_type or 'none'!r})")

    def _raw_body(self) -> bytes:
        raw_length = self.headers.get("Content-Length")
        if not raw_length:
            return b""
        try:
            length = int(raw_length)
        except ValueError as error:
            raise InvalidRequestBody(f"bad Content-Length {raw_length!r}") from error
        return self.rfile.read(length)

    def _send_json(self, status: int, reply: dict[str, Any]) -> None:
        payload = json.dumps(reply).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        # BaseHTTPRequestHandler writes every request to stderr; keep it at debug.
        logger.debug("control %s - %s", self.address_string(), format % args)


def _json(raw: bytes) -> Any:
    """The parsed body, or None for an empty one."""
    if not raw.strip():
        return None
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidJson(str(error)) from error
